"""The words a report uses - field labels, numbers, statuses, what to do - as HR reads them, never code names.

Data flow: :mod:`.view` builds the sections of a :class:`~hrsync.results.RunReport` with these words, and the
CSV attachment (:mod:`.changes_csv`) uses the same, so that the e-mail and its attachment agree. Sensitive
fields are said to have "changed", never with a value (the report holds no value of theirs anyway).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from ..plan import APPLIED, CREATE, DEACTIVATE, DEFER, FAILED, LEFT, UPDATE, WRITES
from ..results import INTERRUPTED, OK, PARTIAL, STOPPED, PersonLine, RunReport

#: A run's status as a sentence ends (the report's first lines say the rest).
STATUS = {OK: "completed", PARTIAL: "completed; some items need your attention", STOPPED: "stopped before finishing",
          INTERRUPTED: "interrupted before finishing"}
#: What happened to a person, after a run and in a dry run's plan (the CSV's "What happened" column).
HAPPENED = {CREATE: ("created", "to create"), UPDATE: ("updated", "to update"),
            DEACTIVATE: ("deactivated", "to deactivate"), DEFER: ("waiting for their start date",) * 2,
            LEFT: ("not created: had already left",) * 2}
#: What to do about a write the app refused (its own words say what went wrong).
RETRY = "hrsync tries again at the next run; if it fails again, pass this on to whoever looks after hrsync."


def label(name: str, source: str = "") -> str:
    """A field's name as people read it: ``last_name`` → "Last name", ``id`` → "Personio ID"."""
    if name == "email":
        return "E-mail"
    if name == "id":
        return f"{source or 'Source'} ID"
    return name.replace("_", " ").capitalize()


def describe_changes(changes: dict[str, dict[str, Any]], source: str = "", *, leave_out: tuple[str, ...] = ()
                     ) -> list[str]:
    """One phrase per changed field, e.g. "Last name: Berg → Lindqvist"; sensitive fields only "changed"."""
    out = []
    for name, change in changes.items():
        if name in leave_out:
            continue
        what, old, new = label(name, source), change.get("old"), change.get("new")
        if change.get("changed"):
            out.append(f"{what} changed")
        elif name == "active":
            out.append("set active" if new else "set inactive")
        elif old in (None, ""):
            out.append(f"{what}: {new}")
        else:
            out.append(f"{what}: {old} → {'(empty)' if new in (None, '') else new}")
    return out


def shown(line: PersonLine, dry_run: bool) -> bool:
    """A write is said to be done only once the sink confirmed it (a plan says what it would do)."""
    if line.action in WRITES and not dry_run:
        return line.outcome == APPLIED
    return line.outcome != FAILED


def linked(report: RunReport) -> list[PersonLine]:
    """People linked to an existing user of the app by e-mail (this run, or planned by a dry run)."""
    return [a for a in report.matched if shown(a, report.dry_run)]


def numbers(report: RunReport, *, brief: bool = False) -> list[str]:
    """The run's numbers, largest news first, zeros left out: "56 created, 3 linked, 2 need attention".
    People linked count as linked only (not also as updated); ``brief`` keeps what a subject line needs."""
    counts, plan = report.counts, report.dry_run
    linked_updates = sum(1 for a in linked(report) if a.action == UPDATE)
    attention = report.attention_count
    parts = [(counts["created"], "to create" if plan else "created"),
             (counts["updated"] - linked_updates, "to update" if plan else "updated"),
             (counts["deactivated"], "to deactivate" if plan else "deactivated"),
             (len(linked(report)), "to link" if plan else "linked"),
             (counts["not_applied"], "not applied"),
             (attention, "needs attention" if attention == 1 else "need attention")]
    if not brief:
        parts += [(counts["deferred"], "waiting for their start date"),
                  (counts["not_created"], "not created (had already left)"),
                  (counts["invited"], "invited"), (counts["unchanged"], "unchanged")]
    return [f"{n} {words}" for n, words in parts if n > 0]


def happened(line: PersonLine, dry_run: bool) -> str:
    """What happened to one person, in a few words."""
    if line.needs_attention:
        return "needs attention"
    if line.matched and shown(line, dry_run):
        return "to link" if dry_run else "linked to an existing user"
    if line.action in WRITES and not shown(line, dry_run):
        return f"not applied: {HAPPENED[line.action][1]}"
    words = HAPPENED.get(line.action)
    return words[1 if dry_run else 0] if words else line.action


def subject(report: RunReport) -> str:
    """One line naming the connection and what happened: ``acme: 3 created, 1 needs attention``.

    Numbers are what the sink confirmed; an interrupted or stopped run says so first.
    """
    done = ", ".join(numbers(report, brief=True))
    if report.status == STOPPED:
        return f"{report.connection}: run stopped — action needed" + (f" ({done})" if done else "")
    if report.status == INTERRUPTED:
        return f"{report.connection}: interrupted — " + (done or "nothing applied")
    return f"{report.connection}: " + (done or "no changes")


def banner(report: RunReport) -> str:
    """The line every format starts with when a run did not finish its plan."""
    missing = report.counts.get("not_applied", 0)
    if report.status == INTERRUPTED:
        return (f"INTERRUPTED on request: {missing} planned change{'s' if missing != 1 else ''} not applied; "
                "the next run finishes them. The numbers below are what was applied.")
    if report.status == STOPPED and missing:
        return (f"STOPPED: {missing} planned change{'s' if missing != 1 else ''} not applied. "
                "The numbers below are what was applied.")
    return ""


def local_time(stamp: str | None, timezone: str | None) -> str:
    """A stored UTC timestamp as people read it: in the host's time zone, to the minute."""
    if not stamp:
        return ""
    moment = dt.datetime.fromisoformat(stamp)
    if timezone:
        moment = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:%M %Z")
