"""Run reports rendered for people: text, HTML, JSON (and, through :mod:`hrsync.report.mail`, e-mail).

Data flow: a :class:`~hrsync.results.RunReport` (from the engine, or loaded from the
state) becomes a :class:`ReportView` and is rendered with the Jinja2 templates in
``templates/`` (HTML autoescaped), for ``hrsync run``, ``hrsync report RUN_ID`` and
the report e-mail. Values are never re-read from elsewhere, so a report shows exactly
what the state may keep: public changes only, sensitive fields as "changed".
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import jinja2

from ..plan import APPLIED, FAILED, WRITES
from ..printable import printable
from ..results import INTERRUPTED, STOPPED, PersonLine, RunReport
from ..secrets import REDACTOR

DEFAULT_LIMIT = 50
#: action → section title after a run, and in a dry run's plan.
SECTIONS = [("create", "Created", "To create"), ("update", "Updated", "To update"),
            ("deactivate", "Deactivated", "To deactivate"), ("defer", "Waiting for their start date", None),
            ("left", "Not created, had already left", None)]


@functools.cache
def _environment(autoescape: bool) -> jinja2.Environment:
    # Built once per process (with its compiled templates): rebuilding it cost a quarter of a no-change run's CPU.
    # Text reports reach terminals: every value from HR data is shown with its control characters escaped.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("hrsync.report", "templates"),
        autoescape=autoescape,
        finalize=None if autoescape else (lambda value: printable(value) if isinstance(value, str) else value),
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
    """One line stating what happened, e.g. ``Personio → Winningtemp: 3 created, 5 updated, 1 needs attention``.

    Counts are what the sink confirmed; an interrupted or stopped run says so first.
    """
    parts = [f"{report.counts[k]} {k}" for k in ("created", "updated", "deactivated") if report.counts.get(k)]
    if report.matched:  # linked to users already in the app: not "no changes"
        parts.append(f"{len(report.matched)} linked")
    if report.counts.get("not_applied"):
        parts.append(f"{report.counts['not_applied']} not applied")
    attention = len(report.attention)
    if attention:
        parts.append(f"{attention} need{'s' if attention == 1 else ''} attention")
    done = ", ".join(parts)
    if report.status == STOPPED:
        return f"{route(report)}: run stopped — action needed" + (f" ({done})" if done else "")
    if report.status == INTERRUPTED:
        return f"{route(report)}: interrupted — " + (done or "nothing applied")
    return f"{route(report)}: " + (done or "no changes")


def banner(report: RunReport) -> str:
    """The line every format starts with when a run did not finish its plan."""
    missing = report.counts.get("not_applied", 0)
    if report.status == INTERRUPTED:
        return (f"INTERRUPTED on request: {missing} planned change{'s' if missing != 1 else ''} not applied; "
                "the next run finishes them. The counts below are what was applied.")
    if report.status == STOPPED and missing:
        return (f"STOPPED: {missing} planned change{'s' if missing != 1 else ''} not applied. "
                "The counts below are what was applied.")
    return ""


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
    banner: str
    warnings: list[str]
    #: What the sink says about this run that is no warning (a delivery confirmed, groups to place once).
    notes: list[str]
    attention: Section
    sections: list[Section]
    pointer: str
    dry_run: bool


def view(report: RunReport, *, limit: int = DEFAULT_LIMIT) -> ReportView:
    pointer = f"hrsync report {report.run_id}" if report.run_id else "hrsync run --dry-run --json"

    def capped(title: str, lines: list[Line]) -> Section:
        return Section(title, lines[:limit], max(0, len(lines) - limit))

    # A skip's reason already names the person; a failed write's message (the sink's words) does not.
    attention = capped("Needs your attention", [
        Line("" if a.action == "skip" else a.person, None if a.action == "skip" else a.email,
             [a.reason or a.message] + ([a.message] if a.reason and a.message else []))
        for a in report.attention] + [Line(f"Group {g.name}", None, [g.message]) for g in report.groups_failed])
    sections = []
    for kind, title, planned in SECTIONS:
        group = [a for a in report.actions if a.action == kind and _shown(a, report.dry_run)]
        if group:
            lines = [Line(a.person, a.email, _details(a, kind)) for a in group]
            sections.append(capped(f"{(planned or title) if report.dry_run else title} ({len(group)})", lines))
    if report.not_applied:
        why = "was interrupted" if report.status == INTERRUPTED else "stopped"
        sections.append(capped(f"Not applied: the run {why} before these ({len(report.not_applied)})", [
            Line(a.person, a.email, [a.action] + _details(a, a.action)) for a in report.not_applied]))
    groups = [g for g in report.groups if g.outcome != FAILED]
    if groups:
        sections.append(capped(f"Groups ({len(groups)})", [Line(g.describe(), None, []) for g in groups]))
    if report.matched:
        title = f"{'To link' if report.dry_run else 'Linked'} to existing {report.sink or 'app'} users by e-mail"
        sections.append(capped(f"{title} ({len(report.matched)})",
                               [Line(a.person, a.email, describe_changes(a.changes)) for a in report.matched]))
    if report.unmatched:
        title = f"In {report.sink or 'the app'}, not in {report.source or 'the source'}"
        sections.append(capped(f"{title} ({len(report.unmatched)})",
                               [Line(u.person, u.email) for u in report.unmatched]))
    title = ("Plan (dry run — nothing was written)" if report.dry_run
             else f"Run {report.run_id}" if report.run_id else "Run")
    return ReportView(
        title=title, subject=subject(report), connection=report.connection, status=report.status,
        started_at=local_time(report.started_at, report.timezone),
        ended_at=local_time(report.ended_at, report.timezone),
        counts=report.counts, stopped=report.stopped, banner=banner(report),
        warnings=report.warnings, notes=report.notices,
        attention=attention, sections=sections, pointer=pointer, dry_run=report.dry_run,
    )


def _shown(line: PersonLine, dry_run: bool) -> bool:
    """A write is shown as done only once the sink confirmed it (a plan shows what it would do)."""
    if line.action in WRITES and not dry_run:
        return line.outcome == APPLIED
    return line.outcome != FAILED


def _details(line: PersonLine, kind: str) -> list[str]:
    details = describe_changes(line.changes) if kind == "update" else ([line.reason] if line.reason else [])
    details += line.notes
    if line.matched and kind != "create":
        details.append("linked to an existing user by e-mail")
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
