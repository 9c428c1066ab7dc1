"""What a report shows, in the order HR reads it: what needs them, what to review, what was resolved, what changed.

Data flow: :func:`view` turns a :class:`~hrsync.results.RunReport` into a :class:`ReportView` - sections of
lines in human words (:mod:`.words`), lists capped - which the templates of :mod:`.render` lay out as text
and HTML. Each long list says where the rest is: the CSV attached to the e-mail, or ``hrsync report N``.
A warning an earlier report already said in full (a standing condition) becomes one quiet line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..plan import FAILED, SKIP
from ..results import INTERRUPTED, PersonLine, RunReport
from .words import RETRY, STATUS, banner, describe_changes, happened, linked, local_time, numbers, shown, subject

#: action → section title after a run, and in a dry run's plan.
CHANGES = [("create", "Created", "To create"), ("update", "Updated", "To update"),
           ("deactivate", "Deactivated", "To deactivate"), ("defer", "Waiting for their start date", None)]


@dataclass
class Line:
    person: str
    email: str | None = None
    details: list[str] = field(default_factory=list)
    #: What to do about it (attention items).
    todo: str = ""


@dataclass
class Section:
    title: str
    lines: list[Line]
    #: How many more there are than shown, and where they are.
    more: int = 0
    more_text: str = ""
    #: What the list means and what, if anything, to do with it.
    advice: str = ""


@dataclass
class ReportView:
    """What a report shows, ready for a template."""

    title: str
    subject: str
    connection: str
    route: str
    status: str
    started_at: str
    ended_at: str
    #: The numbers, e.g. "56 created, 2 need attention, 184 unchanged".
    numbers: str
    banner: str
    #: Why the run stopped (said first, under "Needs your attention").
    stopped: str
    attention: Section
    #: Warnings said in full: new ones, or changed since the last report said them.
    warnings: list[str]
    #: Warnings an earlier report said in full and that still hold: one quiet line each.
    standing: list[str]
    #: What the sink says about this run that is no warning (a delivery confirmed, groups to place once).
    notes: list[str]
    review_title: str
    review: list[Section]
    resolved: Section | None
    changes: list[Section]
    #: The CSV attached to the e-mail with every line, when there is one.
    attachment: str
    dry_run: bool


def view(report: RunReport, *, limit: int, attachment: str = "", pointer: str = "") -> ReportView:
    """The report laid out; lists longer than ``limit`` point to ``attachment`` (the e-mail's CSV) or ``pointer``."""
    source, sink, dry = report.source or "the source", report.sink or "the app", report.dry_run

    def capped(title: str, lines: list[Line], *, advice: str = "") -> Section:
        more = max(0, len(lines) - limit)
        where = f"all {len(lines)} are in the attached {attachment}" if attachment else f"see `{pointer}`"
        return Section(f"{title} ({len(lines)})", lines[:limit], more, where if more else "", advice)

    attention = capped("", [_attention(a) for a in report.attention] + [
        Line(f"Group {g.name}", None, [g.message], RETRY) for g in report.groups_failed])
    items = len(report.attention) + len(report.groups_failed) + bool(report.stopped)
    attention.title = f"Needs your attention ({items})" if items else "Nothing needs your attention"
    review = []
    matched = linked(report)
    if matched:
        review.append(capped(f"{'To link' if dry else 'Linked'} to existing {sink} users by e-mail", [
            Line(a.person, a.email, _linked_details(a, source)) for a in matched], advice=(
            f"They already had a {sink} user with the same e-mail, so hrsync linked them instead of creating a "
            f"second one. Check that each is the same person; from now on {source} keeps them up to date.")))
    if report.unmatched:
        review.append(capped(f"In {sink}, not in {source}", [Line(u.person, u.email) for u in report.unmatched],
                             advice=(
            f"Nobody in {source} has these users' e-mail, so hrsync leaves them as they are. If they have left, "
            f"deactivate them in {sink}; if they work here, give them the same e-mail in {source} and the next "
            "run links them.")))
    left = [a for a in report.actions if a.action == "left"]
    if left:
        review.append(capped("Not created, had already left", [Line(a.person, None) for a in left],
                             advice=f"They had left before the first sync, so hrsync did not add them to {sink}. "
                                    "Nothing to do."))
    if report.left_alone:
        review.append(capped(f"Still active in {sink}, no longer synced from {source}", [
            Line(a.person, a.email, [a.reason]) for a in report.left_alone], advice=(
            f"hrsync linked them earlier, but {source} no longer gives them, and the connection setting 'missing: "
            f"ignore' leaves them as they are in {sink}. If they have left, deactivate them in {sink}, or ask "
            "whoever looks after hrsync to set 'missing: deactivate'.")))
    resolved = capped("Resolved since the last run", [
        Line(a.person, a.email, [a.message, f"last run: {a.reason}"]) for a in report.resolved],
        advice="They needed your attention after the last run; nothing is left to do for them.") \
        if report.resolved else None
    return ReportView(
        title="Plan (dry run — nothing was written)" if dry else f"Run {report.run_id}" if report.run_id else "Run",
        subject=subject(report), connection=report.connection, route=f"{report.source or '?'} → {report.sink or '?'}",
        status="plan only" if dry else STATUS.get(report.status, report.status),
        started_at=local_time(report.started_at, report.timezone),
        ended_at=local_time(report.ended_at, report.timezone), numbers=", ".join(numbers(report)) or "no changes",
        banner=banner(report), stopped=report.stopped, attention=attention,
        warnings=[w for w in report.warnings if w not in report.standing], standing=[_gist(w) for w in report.standing],
        notes=report.notices, review_title="Please review" + (" (first sync)" if report.first_run else ""),
        review=review, resolved=resolved, changes=_changes(report, capped, source), attachment=attachment,
        dry_run=dry)


def _attention(a: PersonLine) -> Line:
    """A skip's reason names the person and says what to do (after " — "); a failed write's message does not."""
    if a.action == SKIP:
        problem, _, todo = a.reason.rpartition(" — ") if " — " in a.reason else (a.reason, "", "")
        return Line("", None, [problem], todo[:1].upper() + todo[1:])
    return Line(a.person, a.email, [a.reason or a.message] + ([a.message] if a.reason and a.message else []), RETRY)


def _linked_details(line: PersonLine, source: str) -> list[str]:
    # Linking writes the source's id into the user: said by "linked", not as a field.
    changes = describe_changes(line.changes, source, leave_out=("id",))
    return ADOPTED * line.adopted + (["updated: " + "; ".join(changes)] if changes else ["already up to date"]) + \
        line.notes + (
        ["invitation requested"] if line.invited else [])


#: Said of a linked user that carried no source id: hrsync wrote its own (and the names) onto it.
ADOPTED = ["adopted: it carried no source id, hrsync wrote this person's onto it"]


def _changes(report: RunReport, capped, source: str) -> list:
    sections = []
    for kind, title, planned in CHANGES:
        group = [a for a in report.actions if a.action == kind and not a.matched and shown(a, report.dry_run)]
        if group:
            sections.append(capped(planned if report.dry_run and planned else title,
                                   [Line(a.person, a.email, _details(a, source)) for a in group]))
    if report.not_applied:
        why = "was interrupted" if report.status == INTERRUPTED else "stopped"
        sections.append(capped(f"Not applied: the run {why} before these", [
            Line(a.person, a.email, [happened(a, False).removeprefix("not applied: ")] + _details(a, source))
            for a in report.not_applied], advice="The next run applies them."))
    groups = [g for g in report.groups if g.outcome != FAILED]
    if groups:
        sections.append(capped("Groups", [Line("", None, [g.describe()]) for g in groups]))
    return sections


def _details(line: PersonLine, source: str) -> list[str]:
    details = describe_changes(line.changes, source) if line.action == "update" else (
        [line.reason] if line.reason else [])
    return details + line.notes + (["invitation requested"] if line.invited else [])


def _gist(warning: str) -> str:
    """A standing condition in one line: its statement, without the explanation an earlier report gave."""
    head, colon, _ = warning.partition(": ")
    return (head if colon and len(head) >= 20 else warning.rstrip(".")) + "."
