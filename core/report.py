"""Run reports rendered for people: text, HTML, JSON (and, through :mod:`hrsync.mailer`, e-mail).

Data flow: a :class:`~hrsync.runreport.RunReport` (from the engine, or loaded from the
state) becomes a :class:`ReportView` and is rendered with the Jinja2 templates in
``templates/`` (HTML autoescaped), for ``hrsync run``, ``hrsync report RUN_ID`` and
the report e-mail. Values are never re-read from elsewhere, so a report shows exactly
what the state may keep: public changes only, sensitive fields as "changed".
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import jinja2

from .runreport import INTERRUPTED, STOPPED, PersonLine, RunReport
from .secrets import REDACTOR

DEFAULT_LIMIT = 50
#: action → section title after a run, and in a dry run's plan.
SECTIONS = [("create", "Created", "To create"), ("update", "Updated", "To update"),
            ("deactivate", "Deactivated", "To deactivate"), ("defer", "Waiting for their start date", None),
            ("left", "Not created, had left before the first sync", None)]


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


def route(report: RunReport) -> str:
    return f"{report.source or '?'} → {report.sink or '?'}"


def subject(report: RunReport) -> str:
    """One line stating the outcome, e.g. ``Personio → Winningtemp: 3 created, 5 updated, 1 needs attention``."""
    if report.status == STOPPED:
        return f"{route(report)}: run stopped — action needed"
    parts = [f"{report.counts[k]} {k}" for k in ("created", "updated", "deactivated") if report.counts.get(k)]
    attention = len(report.attention)
    if attention:
        parts.append(f"{attention} need{'s' if attention == 1 else ''} attention")
    if report.status == INTERRUPTED:
        parts.append("interrupted")
    return f"{route(report)}: " + (", ".join(parts) if parts else "no changes")


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


def view(report: RunReport, *, limit: int = DEFAULT_LIMIT) -> ReportView:
    pointer = f"hrsync report {report.run_id}" if report.run_id else "hrsync run --dry-run --json"

    def capped(title: str, lines: list[Line]) -> Section:
        return Section(title, lines[:limit], max(0, len(lines) - limit))

    attention = capped("Needs your attention", [
        Line(a.person, a.email, [a.reason or a.message] + ([a.message] if a.reason and a.message else []))
        for a in report.attention])
    sections = []
    for kind, title, planned in SECTIONS:
        group = [a for a in report.actions if a.action == kind and a.outcome != "failed"]
        if group:
            lines = [Line(a.person, a.email, _details(a, kind)) for a in group]
            sections.append(capped(f"{(planned or title) if report.dry_run else title} ({len(group)})", lines))
    title = ("Plan (dry run — nothing was written)" if report.dry_run
             else f"Run {report.run_id}" if report.run_id else "Run")
    return ReportView(
        title=title, subject=subject(report), connection=report.connection, status=report.status,
        started_at=local_time(report.started_at, report.timezone),
        ended_at=local_time(report.ended_at, report.timezone),
        counts=report.counts, stopped=report.stopped, warnings=report.warnings + report.notices,
        attention=attention, sections=sections, pointer=pointer, dry_run=report.dry_run,
    )


def _details(line: PersonLine, kind: str) -> list[str]:
    details = describe_changes(line.changes) if kind == "update" else ([line.reason] if line.reason else [])
    details += line.notes
    if line.matched and kind != "create":
        details.append("matched an existing user by e-mail")
    if line.invited:
        details.append("invitation requested")
    return details


def render_text(report: RunReport, *, limit: int = DEFAULT_LIMIT) -> str:
    """Plain-text report of a run (or of a plan, for ``--dry-run``)."""
    text = _environment(False).get_template("report.txt.j2").render(r=view(report, limit=limit))
    return REDACTOR.redact(text)


def render_html(report: RunReport, *, limit: int = DEFAULT_LIMIT) -> str:
    """HTML report (autoescaped: names and messages from HR data are never markup)."""
    html = _environment(True).get_template("report.html.j2").render(r=view(report, limit=limit))
    return REDACTOR.redact(html)


def render_json(report: RunReport) -> str:
    return REDACTOR.redact(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str))
