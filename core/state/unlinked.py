"""People the state knows of but has not linked (mixed into ``State``): leavers left uncreated, and create
intents whose outcome was lost.

Data flow: the applier remembers each run's leavers left uncreated (:meth:`UnlinkedState.remember_uncreated`);
the reactivation guard reads them back (:meth:`UnlinkedState.uncreated`), since one of them coming back active is
a reactivation as much as a linked leaver is - a source that suddenly shows every former employee active must
not turn into a wave of creates. Create intents are written by :class:`~hrsync.state.store.State`; their
e-mails are read here (:meth:`UnlinkedState.intent_emails`) to resolve them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .history import now


class UnlinkedState:
    """Leavers left uncreated and pending intents; needs ``self.db`` and ``self.batch()`` of :class:`State`."""

    db: Any

    def remember_uncreated(self, connection: str, source_ids: Iterable[str], run_id: int) -> None:
        """Remember leavers this run left uncreated (kept until they are linked)."""
        rows = [(connection, source_id, run_id, now()) for source_id in source_ids]
        if rows:
            with self.batch():
                self.db.conn.executemany("insert or ignore into uncreated (connection, source_id, run_id, at) "
                                         "values (?, ?, ?, ?)", rows)

    def uncreated(self, connection: str) -> set[str]:
        """Leavers some run left uncreated and nobody has linked since (a later create links them)."""
        table = self.db["uncreated"]
        if not table.exists():  # a read-only open of a file from before this table
            return set()
        rows = self.db.execute("select source_id from uncreated u where connection = ? and not exists (select 1 "
                               "from people p where p.connection = u.connection and p.source_id = u.source_id)",
                               [connection])
        return {row[0] for row in rows}

    def intents(self, connection: str) -> set[str]:
        """Source ids whose create may have reached the sink without its outcome being recorded."""
        return {r["source_id"] for r in self.db["pending"].rows_where("connection = ?", [connection])}

    def intent_emails(self, connection: str) -> dict[str, str]:
        """The pending create intents of the connection: source id → the e-mail the create was sent with."""
        rows = self.db.execute("select source_id, email_key from pending where connection = ?", [connection])
        return {row[0]: row[1] for row in rows}
