"""The CSV attached to the report e-mail: every line of the report, so that no list stops at "and 183 more".

Data flow: :func:`hrsync.report.mail.build_message` attaches :func:`changes_csv` of the run's stored
:class:`~hrsync.results.RunReport`. One row per person (or group): name, e-mail, what happened in the report's
words (:mod:`.words`), the NAMES of the fields that changed, and the reason or the app's message. Values of
fields are never in it - no birthday or gender can be - and a cell a spreadsheet would run as a formula is
quoted. UTF-8 with a byte-order mark, so that spreadsheet programs show names as typed.
"""

from __future__ import annotations

import csv
import io

from ..results import RunReport
from ..secrets import REDACTOR
from .words import happened, label

HEADER = ["Name", "E-mail", "What happened", "Changed fields", "Details"]
#: A cell starting with one of these is a formula to a spreadsheet: it is shown as text instead.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def attachment_name(report: RunReport) -> str:
    return f"hrsync-{report.connection}-{f'run-{report.run_id}' if report.run_id else 'plan'}.csv"


def rows(report: RunReport) -> list[list[str]]:
    """The report's people and groups, one row each, in the order the report lists them."""
    source, sink, dry = report.source or "the source", report.sink or "the app", report.dry_run
    out = []
    for a in report.actions:
        fields = "" if a.action == "create" else ", ".join(label(name, source) for name in a.changes if name != "id")
        out.append([a.person, a.email or "", happened(a, dry), fields,
                    "; ".join(part for part in [a.reason, a.message, *a.notes] if part)])
    out += [[u.person, u.email or "", f"in {sink}, not in {source}: left as it is", "", ""] for u in report.unmatched]
    out += [[k.person, k.email or "", f"still active in {sink}: missing: ignore leaves them", "", k.reason]
            for k in report.left_alone]
    out += [[r.person, r.email or "", "resolved since the last run", "", f"{r.message}; last run: {r.reason}"]
            for r in report.resolved]
    out += [[f"Group {g.name}", "", "group: " + g.describe(), "", ""] for g in report.groups]
    return out


def changes_csv(report: RunReport) -> bytes:
    """The attachment's bytes (empty when the report lists nobody)."""
    lines = rows(report)
    if not lines:
        return b""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows([["'" + cell if cell.startswith(_FORMULA) else cell for cell in row] for row in lines])
    return REDACTOR.redact(buffer.getvalue()).encode("utf-8-sig")
