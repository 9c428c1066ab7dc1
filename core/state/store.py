"""Sync state in SQLite: runs, links, last applied values, per-run change log, create intents.

Data flow: the engine reads :class:`Link` rows to plan; the applier records every
sink write's outcome (:meth:`State.record_applied` / :meth:`State.record_failed`) right
after the sink confirms it (grouped with the next intents by :meth:`State.batch`), so a run killed at any
moment loses at most the writes in flight - which the next run repairs (a create intent,
:meth:`State.intend_create`, makes it list the sink and link instead of creating twice).
Runs and reports: :class:`~hrsync.state.history.RunHistory`; groups: :class:`~hrsync.state.groups.GroupState`;
leavers left uncreated: :class:`~hrsync.state.unlinked.UnlinkedState`; what reports said:
:class:`~hrsync.state.reported.ReportedState`; one person's history: :class:`~hrsync.state.person.PersonHistory`.

Sensitive values (birthday, gender) are never stored: ``applied`` keeps keyed hashes (:mod:`.digests`).
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from ..errors import LockedError, RunError
from .digests import Digests
from .groups import GroupState
from .history import RunHistory, now
from .locking import BUSY_TIMEOUT, hold_lock, is_locked, locked_message
from .migrations import migrations
from .person import PersonHistory
from .reported import ReportedState
from .storage import private_state, refuse_symlink, storage_error
from .unlinked import UnlinkedState

# The encodings of the apply path, built once (json.dumps with options builds an encoder per call).
_APPLIED_JSON = json.JSONEncoder(sort_keys=True).encode
_LOG_JSON = json.JSONEncoder(default=str).encode


class Link:
    """What the state remembers of one person: the sink user they are linked to, and what was applied.

    ``applied`` - the desired state last applied, sensitive values as keyed hashes - is kept as its
    stored JSON, decoded on each read, and a run's links leave it in the database altogether
    (:meth:`State.applied` reads it in batches): a run holds every link of a connection at once.
    ``active`` is the applied ``active`` flag, always at hand.
    """

    __slots__ = ("source_id", "sink_id", "email_key", "applied_json", "active", "origin", "deactivated")

    def __init__(self, source_id: str, sink_id: str, email_key: str | None = None,
                 applied: dict[str, Any] | str | None = None, origin: str | None = None,
                 deactivated: bool = False, *, active: bool | None = None) -> None:
        self.source_id, self.sink_id, self.email_key = source_id, sink_id, email_key
        if isinstance(applied, dict):
            applied, active = _APPLIED_JSON(applied), applied.get("active")
        self.applied_json, self.active = applied, active
        #: created (by this connection) | linked (matched an existing user); None keeps the stored origin.
        self.origin = origin
        self.deactivated = deactivated

    @property
    def applied(self) -> dict[str, Any]:
        """A fresh dict of the values last applied."""
        if self.applied_json is None:
            raise LookupError(f"the applied values of {self.source_id} were not read: use State.applied()")
        return json.loads(self.applied_json)

    def __repr__(self) -> str:
        return f"Link({self.source_id!r} → {self.sink_id!r}, deactivated={self.deactivated})"


@dataclass
class LogEntry:
    """One row of a run's change log: a write and its outcome, with public changes only."""

    run_id: int
    source_id: str
    person: str
    action: str
    fields: dict[str, Any]
    outcome: str
    message: str = ""


# The statements of the apply loop, run once or twice per person: plain SQL the sqlite3 module keeps
# prepared, with none of sqlite-utils' schema lookups (it stays for migrations and inspection).
_INTEND = ("insert into pending (connection, source_id, email_key, run_id, at) values (?, ?, ?, ?, ?) "
           "on conflict (connection, source_id) do update set email_key = excluded.email_key, "
           "run_id = excluded.run_id, at = excluded.at")
_UPSERT_PERSON = (
    "insert into people (connection, source_id, sink_id, email_key, origin, applied, deactivated, first_run, "
    "last_run, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (connection, source_id) do update set "
    "sink_id = excluded.sink_id, email_key = excluded.email_key, origin = coalesce(excluded.origin, people.origin), "
    "applied = excluded.applied, deactivated = excluded.deactivated, last_run = excluded.last_run, "
    "updated_at = excluded.updated_at")
_FORGET_INTENT = "delete from pending where connection = ? and source_id = ?"
_LOG = ("insert into changes (run_id, connection, source_id, person, action, fields, outcome, message, at) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?)")


class Batch:
    """The context manager of :meth:`State.batch` (a class: the apply path enters a few per person).

    ``BEGIN IMMEDIATE`` takes the write lock at once, so another writer of the file (a daemon's
    other connection) is waited for (busy_timeout) instead of failing the round half-way.
    """

    __slots__ = ("conn", "opens")

    def __init__(self, conn: sqlite3.Connection, *, outermost: bool) -> None:
        self.conn, self.opens = conn, not conn.in_transaction
        if outermost and not self.opens:
            raise RuntimeError("a transaction is already open: the intents of this round would not be "
                               "committed before their writes start")

    def __enter__(self) -> None:
        if self.opens:
            self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, *exc_info: object) -> None:
        # After some errors (a full disk) SQLite has rolled the transaction back itself: a COMMIT or ROLLBACK
        # now would fail and hide the real error.
        if not self.opens or not self.conn.in_transaction:
            return
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")  # never leave a transaction open for later records to join
            raise


class State(GroupState, RunHistory, UnlinkedState, ReportedState, PersonHistory):
    """The state of every connection of one host, in one SQLite file."""

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.busy_timeout = busy_timeout
        refuse_symlink(self.path)
        if read_only:
            # Dry runs must leave the file's bytes alone: read-only, and an empty state when there is no file yet.
            if self.path.exists():
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            else:
                conn = sqlite3.connect(":memory:")
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self.db = Database(conn)
            if not self.path.exists() or self._upgraded_in_memory():
                migrations.apply(self.db)
            self.digests = Digests.beside(self.path, create=False, in_use=self._digests_in_use())
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        private_state(self.path)
        # A program holding the database (a backup, a `sqlite3` shell) is waited for busy_timeout seconds.
        self.db = Database(sqlite3.connect(self.path, timeout=busy_timeout))
        self.db.enable_wal()
        # In WAL mode NORMAL never corrupts and keeps every commit across a killed process; only a power
        # loss can drop the commits since the last checkpoint - which the intent and 409 → look up → link
        # paths repair. Checkpoints (this mode's only fsyncs) come every 16,000 pages, not SQLite's 1,000:
        # a created person's commit writes about 8, so one per ~2,000 people instead of ~125.
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA wal_autocheckpoint = 16000")
        self.db.execute("PRAGMA journal_size_limit = 67108864")  # the WAL file is cut back to 64 MB after one
        migrations.apply(self.db)
        self.digests = Digests.beside(self.path, create=True, in_use=self._digests_in_use())

    def _upgraded_in_memory(self) -> bool:
        """A file an older hrsync wrote, opened read-only, is read through an upgraded copy in memory."""
        if not self.db["_sqlite_migrations"].exists() or not migrations.pending(self.db):
            return False
        copy = sqlite3.connect(":memory:")
        self.db.conn.backup(copy)
        self.db.close()
        self.db = Database(copy)
        return True

    def _digests_in_use(self) -> bool:
        return self.db.execute("select 1 from people where applied like '%\"hmac%' limit 1").fetchone() is not None

    # -- locking -------------------------------------------------------------------------

    def lock(self, connection: str):
        """Refuse a second concurrent run of one connection. The OS drops the lock if we die."""
        return hold_lock(self.path.with_name(f"{self.path.name}.{connection}.lock"),
                         f"Connection {connection!r} is already running ({{holder}}); wait for it to finish.",
                         connection=connection)

    # -- people --------------------------------------------------------------------------

    def links(self, connection: str, *, with_applied: bool = True) -> dict[str, Link]:
        """Every person this connection has linked, by source id; ``with_applied=False`` leaves their
        applied values in the database (a run reads them in batches with :meth:`applied`)."""
        rows = self.db.execute(f"select source_id, sink_id, email_key, {'applied' if with_applied else 'null'}, "
                               "origin, deactivated, json_extract(applied, '$.active') from people "
                               "where connection = ?", [connection])
        return {row[0]: Link(row[0], row[1], row[2], row[3] or ("{}" if with_applied else None), row[4],
                             bool(row[5]), active=None if row[6] is None else bool(row[6])) for row in rows}

    def applied(self, connection: str, source_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The values last applied to these people (ask for a few hundred at a time)."""
        marks = ",".join("?" * len(source_ids))
        rows = self.db.execute(f"select source_id, applied from people where connection = ? and source_id in "
                               f"({marks})", [connection, *source_ids])
        return {source_id: json.loads(text or "{}") for source_id, text in rows}

    def batch(self, *, outermost: bool = False) -> Batch:
        """One transaction around the records of several writes (a round of the applier), committed when
        the block ends - also when it raises: every record in it is a fact the next run must know.
        Each record method is such a transaction on its own, and joins the batch it is called in;
        ``outermost`` refuses to join one (the applier's rounds must commit before their writes start).
        """
        return Batch(self.db.conn, outermost=outermost)

    def intend_create(self, connection: str, source_id: str, email_key: str, run_id: int) -> None:
        """Commit the intent to create, before the create is sent."""
        with self.batch():
            self.db.execute(_INTEND, [connection, source_id, email_key, run_id, now()])

    def forget_intents(self, connection: str) -> None:
        """Drop every create intent of the connection (once a listing has resolved them)."""
        with self.batch():
            self.db.execute("delete from pending where connection = ?", [connection])

    def record_applied(self, connection: str, entry: LogEntry, link: Link) -> None:
        """Commit one confirmed write: the person's link and applied values, and its change-log row."""
        with self.batch():
            self.db.execute(_UPSERT_PERSON, [
                connection, link.source_id, link.sink_id, link.email_key, link.origin,
                link.applied_json or "{}", int(link.deactivated), entry.run_id, entry.run_id, now()])
            self.db.execute(_FORGET_INTENT, [connection, link.source_id])
            self._log(connection, entry)

    def record_failed(self, connection: str, entry: LogEntry, *, forget_intent: bool) -> None:
        """Commit one failed write's change-log row, dropping the person's create intent if told to."""
        with self.batch():
            if forget_intent:
                self.db.execute(_FORGET_INTENT, [connection, entry.source_id])
            self._log(connection, entry)

    def dropped_fields(self, connection: str) -> set[str]:
        """Fields the sink accepted but did not keep (read back empty), so they are not re-sent."""
        table = self.db["dropped_fields"]
        return {r["field"] for r in table.rows_where("connection = ?", [connection])} if table.exists() else set()

    def mark_dropped(self, connection: str, field: str, dropped: bool) -> None:
        with self.batch():
            if dropped:
                self.db["dropped_fields"].upsert({"connection": connection, "field": field, "since": now()},
                                                 pk=("connection", "field"))
            else:
                self.db.execute("delete from dropped_fields where connection = ? and field = ?", [connection, field])

    def _log(self, connection: str, entry: LogEntry) -> None:
        self.db.execute(_LOG, [entry.run_id, connection, entry.source_id, entry.person, entry.action,
                               _LOG_JSON(entry.fields), entry.outcome, entry.message, now()])

    # -- pauses (quarantine) ----------------------------------------------------------------

    def pauses(self) -> list[dict]:
        # A read-only open of a file from before the pauses migration has no such table yet.
        table = self.db["pauses"]
        return [dict(r) for r in table.rows] if table.exists() else []

    def pause(self, connection: str, reason: str, config_hash: str) -> None:
        with self.batch():
            self.db["pauses"].upsert({"connection": connection, "reason": reason, "config_hash": config_hash,
                                      "paused_at": now()}, pk="connection")

    def resume(self, connection: str) -> bool:
        with self.batch():
            cursor = self.db.execute("delete from pauses where connection = ?", [connection])
            return cursor.rowcount > 0

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_state(path: str | os.PathLike, *, read_only: bool = False, busy_timeout: float = BUSY_TIMEOUT) -> State:
    try:
        return State(path, read_only=read_only, busy_timeout=busy_timeout)
    except (sqlite3.DatabaseError, OSError) as exc:
        if (refused := storage_error(exc, path)) is not None:
            raise refused from None
        if is_locked(exc):
            raise LockedError(locked_message(path, busy_timeout)) from None
        raise RunError(f"Cannot open the state file {path}: {exc}. Check host.state in hosts.yaml.") from exc
