"""Run reports: the plan after execution, rendered for people (text, HTML, JSON, e-mail).

Data flow: the engine stores each run's result in the state's ``runs`` table - counts,
warnings, and the actions with their *public* changes (sensitive fields only as
"changed"). This module turns that stored dict into a :class:`ReportView` and renders
it with the Jinja2 templates in ``templates/`` (HTML autoescaped), for ``hrsync run``,
``hrsync report RUN_ID`` and the report e-mail (:mod:`hrsync.mailer`). Values are
never re-read from elsewhere, so a report shows exactly what the state may keep.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import jinja2

from .secrets import REDACTOR

DEFAULT_LIMIT = 50
SECTIONS = [("create", "Created"), ("update", "Updated"), ("deactivate", "Deactivated"),
            ("defer", "Waiting for their start date")]


def _environment(autoescape: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("hrsync", "templates"),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def local_time(stamp: str | None, timezone: str | None) -> str:
    """A stored UTC timestamp as people read it: in the host's time zone, to the minute."""
    if not stamp:
        return ""
    moment = dt.datetime.fromisoformat(stamp)
    if timezone:
        moment = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def route(report: dict[str, Any]) -> str:
    return f"{report.get('source') or '?'} → {report.get('sink') or '?'}"


def subject(report: dict[str, Any]) -> str:
    """One line stating the outcome, e.g. ``Personio → Winningtemp: 3 created, 5 updated, 1 needs attention``."""
    counts = report.get("counts", {})
    if report.get("status") == "stopped":
        return f"{route(report)}: run stopped — action needed"
    parts = [f"{counts[k]} {k}" for k in ("created", "updated", "deactivated") if counts.get(k)]
    attention = len(_attention(report))
    if attention:
        parts.append(f"{attention} need{'s' if attention == 1 else ''} attention")
    if report.get("status") == "interrupted":
        parts.append("interrupted")
    return f"{route(report)}: " + (", ".join(parts) if parts else "no changes")


def _attention(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in report.get("actions", []) if a["outcome"] == "failed" or a["action"] == "skip"]


def describe_changes(changes: dict[str, Any]) -> list[str]:
    out = []
    for name, change in changes.items():
        label = name.replace("_", " ")
        if name == "email" and not change.get("changed"):
            out.append(f"e-mail changed from {change.get('old')} to {change.get('new')}")
        elif name == "active" and not change.get("changed"):
            out.append("set active" if change.get("new") else "set inactive")
        elif change.get("changed"):
            out.append(f"{label} changed")
        elif change.get("old") is None:
            out.append(f"{label}: {change.get('new')}")
        else:
            out.append(f"{label}: {change.get('old')} → {change.get('new')}")
    return out


@dataclass
class Line:
    person: str
    email: str | None
    details: list[str] = field(default_factory=list)


@dataclass
class Section:
    title: str
    lines: list[Line]
    more: int = 0


@dataclass
class ReportView:
    """What a report shows, ready for a template."""

    title: str
    subject: str
    connection: str
    status: str
    started_at: str
    ended_at: str
    counts: dict[str, int]
    stopped: str
    warnings: list[str]
    attention: Section
    sections: list[Section]
    pointer: str
    dry_run: bool


def view(report: dict[str, Any], *, limit: int = DEFAULT_LIMIT, dry_run: bool = False) -> ReportView:
    run_id = report.get("run_id")
    pointer = f"hrsync report {run_id}" if run_id else "hrsync run --dry-run --json"

    def capped(title: str, lines: list[Line]) -> Section:
        return Section(title, lines[:limit], max(0, len(lines) - limit))

    attention = capped("Needs your attention", [
        Line(a["person"], a["email"], [a["reason"] or a["message"]] +
             ([a["message"]] if a["reason"] and a["message"] else []))
        for a in _attention(report)])
    sections = []
    for kind, title in SECTIONS:
        group = [a for a in report.get("actions", []) if a["action"] == kind and a["outcome"] != "failed"]
        if not group:
            continue
        lines = []
        for a in group:
            details = describe_changes(a["changes"]) if kind == "update" else ([a["reason"]] if a["reason"] else [])
            details += a.get("notes") or []
            if a.get("link") == "linked" and kind != "create":
                details.append("matched an existing user by e-mail")
            if a.get("invited"):
                details.append("invitation requested")
            lines.append(Line(a["person"], a["email"], details))
        sections.append(capped(f"{'To ' + kind if dry_run else title} ({len(group)})", lines))
    title = ("Plan (dry run — nothing was written)" if dry_run
             else f"Run {run_id}" if run_id else "Run")
    timezone = report.get("timezone")
    return ReportView(
        title=title, subject=subject(report), connection=report.get("connection", ""),
        status=report.get("status", ""), started_at=local_time(report.get("started_at"), timezone),
        ended_at=local_time(report.get("ended_at"), timezone), counts=report.get("counts", {}),
        stopped=report.get("stopped") or "", warnings=list(report.get("warnings", [])) + _notices(report),
        attention=attention, sections=sections, pointer=pointer, dry_run=dry_run,
    )


def _notices(report: dict[str, Any]) -> list[str]:
    invited = report.get("counts", {}).get("invited", 0)
    if not invited:
        return []
    return [f"{report.get('sink') or 'The app'} was asked to invite {invited} new "
            f"user{'s' if invited != 1 else ''} (invite_new_users)."]


def render_text(report: dict[str, Any], *, limit: int = DEFAULT_LIMIT, dry_run: bool = False) -> str:
    """Plain-text report of a run (or of a plan, for ``--dry-run``)."""
    text = _environment(False).get_template("report.txt.j2").render(r=view(report, limit=limit, dry_run=dry_run))
    return REDACTOR.redact(text)


def render_html(report: dict[str, Any], *, limit: int = DEFAULT_LIMIT) -> str:
    """HTML report (autoescaped: names and messages from HR data are never markup)."""
    html = _environment(True).get_template("report.html.j2").render(r=view(report, limit=limit))
    return REDACTOR.redact(html)


def render_json(report: dict[str, Any]) -> str:
    return REDACTOR.redact(json.dumps(report, indent=2, ensure_ascii=False, default=str))


def needs_attention(report: dict[str, Any]) -> bool:
    return report.get("status") in ("stopped", "interrupted") or bool(_attention(report))


def has_changes(report: dict[str, Any]) -> bool:
    counts = report.get("counts", {})
    return any(counts.get(k) for k in ("created", "updated", "deactivated"))
