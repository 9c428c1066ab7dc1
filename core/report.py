"""Run reports: the plan after execution, rendered for people.

Data flow: the engine stores each run's result (counts, warnings, the actions with
public changes - sensitive fields only as "changed") in the state's ``runs`` table;
this module renders that stored dict as plain text or JSON for ``hrsync run``,
``hrsync report RUN_ID`` and ``--dry-run``. Values are never re-read from anywhere
else, so what a report can show is exactly what the state was allowed to keep.
"""

from __future__ import annotations

import json
from typing import Any

ACTION_TITLES = [
    ("create", "Created"),
    ("update", "Updated"),
    ("deactivate", "Deactivated"),
    ("defer", "Waiting"),
]
DEFAULT_LIMIT = 50


def subject(report: dict[str, Any]) -> str:
    """A one-line summary that states the outcome."""
    counts = report.get("counts", {})
    route = f"{report.get('source', '?').capitalize()} → {report.get('sink', '?').capitalize()}"
    if report.get("status") == "stopped":
        return f"{route}: run stopped — action needed"
    parts = [f"{counts.get(k, 0)} {label}" for k, label in
             (("created", "created"), ("updated", "updated"), ("deactivated", "deactivated")) if counts.get(k)]
    attention = counts.get("failed", 0) + sum(1 for a in report.get("actions", []) if a["action"] == "skip")
    if attention:
        parts.append(f"{attention} need{'s' if attention == 1 else ''} attention")
    return f"{route}: " + (", ".join(parts) if parts else "no changes")


def _format_changes(changes: dict[str, Any]) -> str:
    out = []
    for name, change in changes.items():
        if change.get("changed"):
            out.append(f"{name} changed")
        elif change.get("old") is None:
            out.append(f"{name}: {change.get('new')}")
        else:
            out.append(f"{name}: {change.get('old')} → {change.get('new')}")
    return "; ".join(out)


def render_text(report: dict[str, Any], *, limit: int = DEFAULT_LIMIT, dry_run: bool = False) -> str:
    """Plain-text report of a run (or of a plan, for ``--dry-run``)."""
    lines = []
    title = "Plan (dry run — nothing was written)" if dry_run else f"Run {report.get('run_id')}"
    lines.append(f"{title}: connection {report['connection']} — {subject(report)}")
    if report.get("started_at"):
        lines.append(f"Started {report['started_at']}, ended {report.get('ended_at') or '-'}, "
                     f"status {report.get('status')}")
    counts = report.get("counts", {})
    lines.append("Counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if report.get("stopped"):
        lines += ["", "STOPPED: " + report["stopped"]]
    for warning in report.get("warnings", []):
        lines.append(f"Warning: {warning}")
    actions = report.get("actions", [])
    attention = [a for a in actions if a["outcome"] == "failed" or a["action"] == "skip"]
    if attention:
        lines += ["", "Needs attention:"]
        lines += _capped([f"  - {a['reason'] or a['person']}" + (f": {a['message']}" if a["message"] else "")
                          for a in attention], limit, report)
    for kind, heading in ACTION_TITLES:
        group = [a for a in actions if a["action"] == kind and a["outcome"] != "failed"]
        if not group:
            continue
        lines += ["", f"{heading if not dry_run else 'To ' + kind} ({len(group)}):"]
        rows = []
        for a in group:
            detail = _format_changes(a["changes"]) if kind == "update" else (a["reason"] or "")
            notes = "; ".join(a.get("notes") or [])
            extra = " ".join(x for x in [detail, f"({notes})" if notes else "",
                                         "[invited]" if a.get("invited") else ""] if x)
            rows.append(f"  - {a['person']} <{a['email']}>" + (f": {extra}" if extra else ""))
        lines += _capped(rows, limit, report)
    return "\n".join(lines) + "\n"


def _capped(rows: list[str], limit: int, report: dict[str, Any]) -> list[str]:
    if len(rows) <= limit:
        return rows
    more = len(rows) - limit
    where = f"hrsync report {report['run_id']}" if report.get("run_id") else "the plan's JSON output"
    return rows[:limit] + [f"  … and {more} more (see {where})"]


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=str)
