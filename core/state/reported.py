"""What earlier reports told HR (mixed into ``State``): conditions said in full, the previous run's attention
items, and the names linked people were last reported under.

Data flow: as the sync stage builds a run's report it asks which of the run's warnings an earlier report
already said in full (:meth:`ReportedState.said`: those are said as one quiet line), who needed attention in
the previous run (:meth:`ReportedState.previous_attention`: who of them is fine now is "resolved"), and the
names of linked people it knows only by link (:meth:`ReportedState.names`). After delivery the runner records
what the report said (:meth:`ReportedState.remember_said`). A condition that goes away is forgotten, so it is
said in full again should it come back.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from typing import Any

from ..plan import needs_attention
from ..results import PersonLine
from .history import now

#: Runs whose report covers everyone the source gave: the previous run, as far as attention goes.
_PLANNED_EVERYONE = ("select counts, report_z from runs where connection = ? and id < ? and report_z is not null "
                     "and status in ('ok', 'partial', 'interrupted') and mode in ('normal', 'full') "
                     "order by id desc limit 1")


class ReportedState:
    """Needs ``self.db`` and ``self.batch()`` of :class:`~hrsync.state.store.State`."""

    db: Any

    def said(self, connection: str) -> set[str]:
        """The warnings an earlier report of the connection said in full and that have held since."""
        if not self.db["said"].exists():  # a read-only open of a file from before this table
            return set()
        return {row[0] for row in self.db.execute("select text from said where connection = ?", [connection])}

    def remember_said(self, connection: str, run_id: int, warnings: Iterable[str], *, complete: bool,
                      delivered: bool) -> None:
        """Record what a run's report said: its warnings, once it reached HR (``delivered``); a ``complete`` run
        (one that got as far as its sink's warnings) also forgets the conditions that no longer hold."""
        warnings = list(warnings)
        with self.batch():
            if complete:
                marks = ",".join("?" * len(warnings))
                self.db.execute(f"delete from said where connection = ? and text not in ({marks})",
                                [connection, *warnings])
            if delivered:
                self.db.conn.executemany("insert or ignore into said (connection, text, run_id, at) values "
                                         "(?, ?, ?, ?)", [(connection, text, run_id, now()) for text in warnings])

    def previous_attention(self, connection: str, before: int | None) -> list[PersonLine]:
        """Who needed attention in the connection's last run before ``before`` (None: the last run) that
        planned everyone (not ``--only``, not stopped before planning)."""
        row = self.db.execute(_PLANNED_EVERYONE, [connection, before or 2**62]).fetchone()
        counts = json.loads(row[0] or "{}") if row else {}
        if not counts.get("skipped") and not counts.get("failed"):  # the usual night: no report to unpack
            return []
        actions = json.loads(zlib.decompress(row[1])).get("actions", [])
        return [PersonLine(a["action"], a["person"], a.get("source_id"), a.get("email"), reason=a.get("reason", ""),
                           message=a.get("message", ""), outcome=a.get("outcome", "planned"))
                for a in actions if needs_attention(a["action"], a.get("outcome", "planned"))]

    def names(self, connection: str, source_ids: list[str]) -> dict[str, str]:
        """The name each person was last written under (their latest change-log row), by source id."""
        out: dict[str, str] = {}
        for start in range(0, len(source_ids), 500):
            chunk = source_ids[start:start + 500]
            rows = self.db.execute(f"select source_id, person from changes where connection = ? and source_id in "
                                   f"({','.join('?' * len(chunk))}) order by id", [connection, *chunk])
            out.update(dict(rows.fetchall()))
        return out
