"""Sync state in SQLite: runs, links, last applied values, per-run change log, create intents.

Data flow: the engine reads links and applied values to plan, then records every
sink write's outcome right after the sink confirms it, each in its own
``db.atomic()`` transaction, so a run killed at any moment loses at most the write in
flight - which the next run repairs (a pending create intent makes it list the sink
and link instead of creating twice).

Sensitive values (birthday, gender by default) are never stored: ``applied`` keeps a
keyed hash (HMAC-SHA256) for them, with a key kept in a separate file beside the
database, so the state file alone reveals nothing.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from .errors import LockedError, RunError

migrations = Migrations("hrsync")


@migrations()
def m001_initial(db: Database) -> None:
    db["runs"].create(
        {
            "id": int, "connection": str, "started_at": str, "ended_at": str, "status": str,
            "mode": str, "counts": str, "message": str, "report": str,
        },
        pk="id",
    )
    db["runs"].create_index(["connection", "started_at"])
    db["people"].create(
        {
            "connection": str, "source_id": str, "sink_id": str, "email_key": str, "origin": str,
            "applied": str, "deactivated": int, "first_run": int, "last_run": int, "updated_at": str,
        },
        pk=("connection", "source_id"),
    )
    db["people"].create_index(["connection", "sink_id"], unique=True)
    db["pending"].create(
        {"connection": str, "source_id": str, "email_key": str, "run_id": int, "at": str},
        pk=("connection", "source_id"),
    )
    db["changes"].create(
        {
            "id": int, "run_id": int, "connection": str, "source_id": str, "person": str, "action": str,
            "fields": str, "outcome": str, "message": str, "at": str,
        },
        pk="id",
    )
    db["changes"].create_index(["run_id"])


@migrations()
def m002_pauses(db: Database) -> None:
    db["pauses"].create(
        {"connection": str, "reason": str, "config_hash": str, "paused_at": str},
        pk="connection",
    )


@contextmanager
def hold_lock(lock_path: Path, busy_message: str, **context: object):
    """An exclusive, non-blocking ``flock`` on ``lock_path`` for the duration of the block.

    ``busy_message`` may name ``{holder}`` (the pid and start time the holder wrote).
    The OS releases the lock when the process dies, so a killed run never leaves it stuck.
    """
    fh = open(lock_path, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise LockedError(busy_message.format(holder=holder), **context) from None
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {now()}")
        fh.flush()
        yield
    finally:
        fh.truncate(0)
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class State:
    """The state of every connection of one host, in one SQLite file."""

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only:
            # Dry runs must leave the file's bytes alone: read-only, and an empty state
            # when there is no file yet.
            if self.path.exists():
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            else:
                conn = sqlite3.connect(":memory:")
            self.db = Database(conn)
            if not self.path.exists():
                migrations.apply(self.db)
            self._key = self._read_key(create=False)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.path)
        self.db.enable_wal()
        migrations.apply(self.db)
        self._key = self._read_key(create=True)

    # -- keyed hashes of sensitive values ---------------------------------------------

    @property
    def key_path(self) -> Path:
        return self.path.with_name(self.path.name + ".key")

    def _read_key(self, *, create: bool) -> bytes:
        if self.key_path.exists():
            return bytes.fromhex(self.key_path.read_text().strip())
        if not create:
            return secrets.token_bytes(32)
        key = secrets.token_bytes(32)
        fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.hex())
        return key

    def digest(self, value: Any) -> str:
        """A keyed hash of a sensitive value: equal values give equal digests, and nothing else leaks."""
        payload = json.dumps(value, sort_keys=True, default=str).encode()
        return "hmac:" + hmac.new(self._key, payload, hashlib.sha256).hexdigest()[:32]

    def protect(self, values: dict[str, Any], sensitive: Iterable[str]) -> dict[str, Any]:
        sensitive = set(sensitive)
        return {k: (self.digest(v) if k in sensitive and v is not None else v) for k, v in values.items()}

    # -- locking -------------------------------------------------------------------------

    def lock(self, connection: str):
        """Refuse a second concurrent run of one connection. The OS drops the lock if we die."""
        return hold_lock(self.path.with_name(f"{self.path.name}.{connection}.lock"),
                         f"Connection {connection!r} is already running ({{holder}}); wait for it to finish.",
                         connection=connection)

    # -- runs ----------------------------------------------------------------------------

    def start_run(self, connection: str, mode: str) -> int:
        with self.db.atomic():
            table = self.db["runs"]
            table.insert({"connection": connection, "started_at": now(), "status": "running", "mode": mode})
            return table.last_pk

    def finish_run(self, run_id: int, status: str, counts: dict, message: str, report: dict) -> None:
        with self.db.atomic():
            self.db["runs"].update(
                run_id,
                {
                    "ended_at": now(), "status": status, "counts": json.dumps(counts),
                    "message": message, "report": json.dumps(report, default=str),
                },
            )

    def runs(self, connection: str | None = None, limit: int = 50) -> list[dict]:
        where, args = ("connection = ?", [connection]) if connection else (None, [])
        rows = self.db["runs"].rows_where(where, args, order_by="id desc", limit=limit)
        return [self._run_row(r) for r in rows]

    def run(self, run_id: int) -> dict | None:
        rows = list(self.db["runs"].rows_where("id = ?", [run_id]))
        return self._run_row(rows[0]) if rows else None

    @staticmethod
    def _run_row(row: dict) -> dict:
        row = dict(row)
        row["counts"] = json.loads(row["counts"]) if row.get("counts") else {}
        row["report"] = json.loads(row["report"]) if row.get("report") else None
        return row

    def last_successful_run(self, connection: str) -> dict | None:
        rows = list(self.db["runs"].rows_where(
            "connection = ? and status in ('ok', 'partial')", [connection], order_by="id desc", limit=1))
        return self._run_row(rows[0]) if rows else None

    def mark_crashed_runs(self, connection: str) -> None:
        """A run still marked running when we hold the lock was killed: say so."""
        with self.db.atomic():
            self.db.execute(
                "update runs set status = 'crashed', ended_at = ?, "
                "message = 'The run was interrupted; this run picked up its work.' "
                "where connection = ? and status = 'running'",
                [now(), connection],
            )

    # -- people --------------------------------------------------------------------------

    def people(self, connection: str) -> dict[str, dict]:
        out = {}
        for row in self.db["people"].rows_where("connection = ?", [connection]):
            row = dict(row)
            row["applied"] = json.loads(row["applied"] or "{}")
            out[row["source_id"]] = row
        return out

    def pending(self, connection: str) -> dict[str, dict]:
        return {r["source_id"]: dict(r) for r in self.db["pending"].rows_where("connection = ?", [connection])}

    def add_pending(self, connection: str, source_id: str, email_key: str, run_id: int) -> None:
        with self.db.atomic():
            self.db["pending"].upsert(
                {"connection": connection, "source_id": source_id, "email_key": email_key, "run_id": run_id,
                 "at": now()},
                pk=("connection", "source_id"),
            )

    def drop_pending(self, connection: str, source_id: str) -> None:
        with self.db.atomic():
            self.db.execute("delete from pending where connection = ? and source_id = ?", [connection, source_id])

    def record_write(
        self,
        *,
        run_id: int,
        connection: str,
        source_id: str,
        person: str,
        action: str,
        fields: dict,
        outcome: str,
        message: str = "",
        link: dict | None = None,
    ) -> None:
        """Commit one write's outcome: its change-log row, and on success the person's new state."""
        with self.db.atomic():
            if link is not None:
                existing = list(self.db["people"].rows_where(
                    "connection = ? and source_id = ?", [connection, source_id]))
                row = {
                    "connection": connection, "source_id": source_id, "last_run": run_id, "updated_at": now(),
                    **{k: v for k, v in link.items() if k != "applied"},
                }
                if "applied" in link:
                    row["applied"] = json.dumps(link["applied"], sort_keys=True)
                if not existing:
                    row.setdefault("first_run", run_id)
                    row.setdefault("deactivated", 0)
                self.db["people"].upsert(row, pk=("connection", "source_id"))
                self.db.execute(
                    "delete from pending where connection = ? and source_id = ?", [connection, source_id])
            self.db["changes"].insert({
                "run_id": run_id, "connection": connection, "source_id": source_id, "person": person,
                "action": action, "fields": json.dumps(fields, default=str), "outcome": outcome,
                "message": message, "at": now(),
            })

    def changes(self, run_id: int) -> list[dict]:
        rows = self.db["changes"].rows_where("run_id = ?", [run_id], order_by="id")
        return [{**r, "fields": json.loads(r["fields"] or "{}")} for r in rows]

    def prune(self, older_than: dt.datetime) -> int:
        """Delete finished runs (and their change logs) that started before ``older_than``.

        Links, last applied values, pending intents and pauses are kept: they are the sync's memory.
        Returns the number of runs deleted.
        """
        cutoff = older_than.astimezone(dt.UTC).isoformat(timespec="seconds")
        with self.db.atomic():
            ids = [r["id"] for r in self.db.query(
                "select id from runs where started_at < ? and status != 'running'", [cutoff])]
            for chunk in range(0, len(ids), 500):
                marks = ",".join("?" * len(ids[chunk:chunk + 500]))
                self.db.execute(f"delete from changes where run_id in ({marks})", ids[chunk:chunk + 500])
                self.db.execute(f"delete from runs where id in ({marks})", ids[chunk:chunk + 500])
        return len(ids)

    # -- pauses (quarantine) ----------------------------------------------------------------

    def pauses(self) -> list[dict]:
        # A read-only open of a file from before the pauses migration has no such table yet.
        table = self.db["pauses"]
        return [dict(r) for r in table.rows] if table.exists() else []

    def pause(self, connection: str, reason: str, config_hash: str) -> None:
        with self.db.atomic():
            self.db["pauses"].upsert({"connection": connection, "reason": reason, "config_hash": config_hash,
                                      "paused_at": now()}, pk="connection")

    def resume(self, connection: str) -> bool:
        with self.db.atomic():
            cursor = self.db.execute("delete from pauses where connection = ?", [connection])
            return cursor.rowcount > 0

    def close(self) -> None:
        self.db.close()


def open_state(path: str | os.PathLike, *, read_only: bool = False) -> State:
    try:
        return State(path, read_only=read_only)
    except sqlite3.DatabaseError as exc:
        raise RunError(f"Cannot open the state file {path}: {exc}. Check host.state in hosts.yaml.") from exc
