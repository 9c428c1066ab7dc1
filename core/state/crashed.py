"""The report of a run that never finished, rebuilt from its change log.

Data flow: a run killed (SIGKILL, a power loss, a second Ctrl-C) never stores its report, but every write
it made is in its change log (``changes``), committed as the sink confirmed it. When the next run of the
connection marks it crashed (:meth:`~hrsync.state.history.RunHistory.mark_crashed_runs`), its report is
built here from that log, so the writes it made are in history: ``hrsync report`` shows and sends it.
"""

from __future__ import annotations

from typing import Any

from ..plan import APPLIED, CREATE, DEACTIVATE, FAILED, UPDATE
from ..results import INTERRUPTED, PersonLine, RunReport

#: What the runs table says of such a run, and the report's explanation.
CRASHED = "crashed"
MESSAGE = ("The run ended before it finished (the process was killed or stopped at once), so it wrote no report "
           "itself; the changes below are the writes it made, from its change log. The run that followed "
           "picked up the rest.")
_COUNTED = {CREATE: "created", UPDATE: "updated", DEACTIVATE: "deactivated"}


def crashed_report(run: dict[str, Any], changes: list[dict[str, Any]], *, ended_at: str) -> RunReport:
    """The report of ``run`` (its row in ``runs``) from its change-log rows (oldest first)."""
    counts: dict[str, int] = {}
    lines = []
    for row in changes:
        kind, outcome = row["action"], row["outcome"]
        key = "failed" if outcome == FAILED else _COUNTED.get(kind) if outcome == APPLIED else None
        if key:
            counts[key] = counts.get(key, 0) + 1
        lines.append(PersonLine(action=kind, person=row["person"], source_id=row["source_id"] or None,
                                changes=row["fields"], outcome=outcome, message=row["message"] or ""))
    return RunReport(connection=run["connection"], status=INTERRUPTED, run_id=run["id"], mode=run["mode"] or "normal",
                     message=MESSAGE, started_at=run["started_at"], ended_at=changes[-1]["at"] if changes else ended_at,
                     counts=counts, actions=lines, stopped=MESSAGE)
