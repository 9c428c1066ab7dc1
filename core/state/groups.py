"""Groups in the state: each org unit's sink group, and the memberships hrsync made (mixed into ``State``).

Data flow: the sync stage reads :meth:`GroupState.group_links` and :meth:`GroupState.memberships`
to plan group changes, and records each confirmed group write at once
(:meth:`GroupState.record_group`, :meth:`GroupState.record_members`) - as for people, a write's
outcome is committed right after the sink confirms it. Only memberships hrsync made are kept:
under ``memberships: managed`` those are the only ones it ever removes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GroupLink:
    """An org unit's group in the sink, as hrsync last wrote it."""

    external_id: str
    sink_id: str
    name: str
    field: str


class GroupState:
    """Group links and managed memberships; needs ``self.db`` and ``self.batch()`` of :class:`State`."""

    db: Any

    def group_links(self, connection: str) -> dict[str, GroupLink]:
        """The connection's group links by external id."""
        rows = self.db.execute("select external_id, sink_id, name, field from groups where connection = ?",
                               [connection])
        return {row[0]: GroupLink(*row) for row in rows}

    def memberships(self, connection: str) -> dict[str, set[str]]:
        """The memberships hrsync made: external id → source ids."""
        out: dict[str, set[str]] = {}
        rows = self.db.execute("select external_id, source_id from memberships where connection = ?", [connection])
        for external_id, source_id in rows:
            out.setdefault(external_id, set()).add(source_id)
        return out

    def record_group(self, connection: str, link: GroupLink, run_id: int, at: str) -> None:
        """Commit a group created, found or renamed in the sink."""
        with self.batch():
            self.db.execute("insert or replace into groups (connection, external_id, sink_id, name, field, run_id, "
                            "at) values (?, ?, ?, ?, ?, ?, ?)",
                            [connection, link.external_id, link.sink_id, link.name, link.field, run_id, at])

    def record_members(self, connection: str, external_id: str, *, added: Iterable[str] = (),
                       removed: Iterable[str] = (), run_id: int, at: str) -> None:
        """Commit members the sink confirmed added to or removed from a group (source ids)."""
        with self.batch():
            self.db.conn.executemany(
                "insert or replace into memberships (connection, external_id, source_id, run_id, at) "
                "values (?, ?, ?, ?, ?)", [(connection, external_id, s, run_id, at) for s in added])
            self.db.conn.executemany(
                "delete from memberships where connection = ? and external_id = ? and source_id = ?",
                [(connection, external_id, s) for s in removed])
