"""Run history in the state database: one row per run with its report, and each run's change log.

Data flow: the engine opens a run (:meth:`RunHistory.start_run`) and stores its
:class:`~hrsync.results.RunReport` when it ends (:meth:`RunHistory.finish_run`), compressed:
a first sync of 100,000 people makes a report of tens of MB as JSON, a few as zlib.
``hrsync runs``/``report``/``status`` read it back; ``prune`` drops old runs. The change
log rows (``changes``) are written by the applier through :class:`~hrsync.state.store.State`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
import zlib

from sqlite_utils import Database

from ..results import RunReport
from .crashed import CRASHED, crashed_report
from .storage import storage_error

_clock: tuple[int, str] = (0, "")


def now() -> str:
    """The current UTC time to the second, ISO 8601 (made once a second: the apply path asks per record)."""
    global _clock
    second = int(time.time())
    if _clock[0] != second:
        _clock = (second, dt.datetime.fromtimestamp(second, dt.UTC).isoformat())
    return _clock[1]


def _compressed(data: dict) -> bytes:
    """``data`` as zlib-compressed JSON."""
    return zlib.compress(json.dumps(data, default=str).encode())


class RunHistory:
    """The runs of every connection; mixed into :class:`~hrsync.state.store.State`, which owns ``db``."""

    db: Database

    def start_run(self, connection: str, mode: str) -> int:
        with self.batch():
            table = self.db["runs"]
            table.insert({"connection": connection, "started_at": now(), "status": "running", "mode": mode})
            return table.last_pk

    def finish_run(self, report: RunReport) -> None:
        """Store the run's outcome and report; a disk that refuses it is a StorageError naming the file."""
        try:
            with self.batch():
                self.db.execute(
                    "update runs set ended_at = ?, status = ?, counts = ?, message = ?, report = null, report_z = ? "
                    "where id = ?", [report.ended_at or now(), report.status, json.dumps(report.counts),
                                     report.message, _compressed(report.to_dict()), report.run_id])
        except sqlite3.Error as exc:
            refused = storage_error(exc, self.path)
            if refused is None:
                raise
            raise refused from None

    _SUMMARY = "id, connection, started_at, ended_at, status, mode, counts, message, delivery, delivery_detail"

    def runs(self, connection: str | None = None, limit: int = 50) -> list[dict]:
        """Run summaries, newest first (without their reports: see :meth:`run`)."""
        where, args = ("where connection = ?", [connection]) if connection else ("", [])
        rows = self.db.query(f"select {self._SUMMARY} from runs {where} order by id desc limit ?", [*args, limit])
        return [self._summary(r) for r in rows]

    def run(self, run_id: int) -> dict | None:
        """One run's summary and its ``report`` as a :class:`RunReport` (None while it runs)."""
        rows = list(self.db["runs"].rows_where("id = ?", [run_id]))
        if not rows:
            return None
        row = self._summary(rows[0])
        stored = rows[0].get("report_z")
        row["report"] = RunReport.from_dict(json.loads(zlib.decompress(stored))) if stored else None
        return row

    @staticmethod
    def _summary(row: dict) -> dict:
        return {**{k: v for k, v in row.items() if k not in ("report", "report_z")},
                "counts": json.loads(row["counts"]) if row.get("counts") else {}}

    def discard_run(self, run_id: int) -> None:
        """Forget a run that turned out to be no run (a usage error found once the source was read)."""
        with self.batch():
            self.db.execute("delete from changes where run_id = ?", [run_id])
            self.db.execute("delete from runs where id = ?", [run_id])

    def record_delivery(self, run_id: int, how: str, detail: str) -> None:
        """How the run's report was delivered (sent, outbox, failed, lost, skipped)."""
        with self.batch():
            self.db["runs"].update(run_id, {"delivery": how, "delivery_detail": detail})

    def undelivered(self, connection: str) -> list[dict]:
        """The runs whose report was not delivered (SMTP refused it: in the outbox; or lost), oldest first, until
        ``hrsync report N --send`` delivers them or the history is pruned."""
        rows = self.db.query("select id, started_at, delivery, delivery_detail from runs where connection = ? and "
                             "delivery in ('failed', 'lost') order by id", [connection])
        return [dict(r) for r in rows]

    def last_successful_run(self, connection: str) -> dict | None:
        rows = list(self.db.query(f"select {self._SUMMARY} from runs where connection = ? and status in "
                                  "('ok', 'partial') order by id desc limit 1", [connection]))
        return self._summary(rows[0]) if rows else None

    def mark_crashed_runs(self, connection: str) -> None:
        """A run still marked running when we hold the lock was killed: say so, with the report of the writes
        it made (from its change log), so that they stay in history and its report can be shown and sent."""
        with self.batch():
            for run in list(self.db.query("select id, connection, started_at, mode from runs where connection = ? "
                                          "and status = 'running'", [connection])):
                report = crashed_report(run, self.changes(run["id"]), ended_at=now())
                self.db.execute("update runs set status = ?, ended_at = ?, counts = ?, message = ?, report = null, "
                                "report_z = ? where id = ?", [CRASHED, report.ended_at, json.dumps(report.counts),
                                                              report.message, _compressed(report.to_dict()), run["id"]])

    def changes(self, run_id: int) -> list[dict]:
        rows = self.db["changes"].rows_where("run_id = ?", [run_id], order_by="id")
        return [{**r, "fields": json.loads(r["fields"] or "{}")} for r in rows]

    def prunable(self, older_than: dt.datetime, connection: str | None = None) -> list[int]:
        """The finished runs of ``connection`` (or of all) that started before ``older_than``: what
        :meth:`prune` would delete. Found through the ``runs(started_at)`` index, outside any transaction."""
        cutoff = older_than.astimezone(dt.UTC).isoformat(timespec="seconds")
        where, args = ("connection = ? and ", [connection]) if connection is not None else ("", [])
        return [row[0] for row in self.db.execute(
            f"select id from runs where {where}started_at < ? and status != 'running' order by id", [*args, cutoff])]

    def prune(self, older_than: dt.datetime, connection: str | None = None) -> int:
        """Delete finished runs (and their change logs) of ``connection`` (or of all) started before ``older_than``.

        Links, last applied values, pending intents and pauses are kept: they are the sync's memory.
        Other connections' commits to the file never wait behind a scan of the history. Returns the runs deleted.
        """
        return self.delete_runs(self.prunable(older_than, connection))

    def delete_runs(self, ids: list[int]) -> int:
        """Delete these runs and their change logs, 500 to a transaction (the ones ``hrsync prune`` was told to)."""
        for chunk in range(0, len(ids), 500):
            marks = ",".join("?" * len(ids[chunk:chunk + 500]))
            with self.batch():
                self.db.execute(f"delete from changes where run_id in ({marks})", ids[chunk:chunk + 500])
                self.db.execute(f"delete from runs where id in ({marks})", ids[chunk:chunk + 500])
        return len(ids)
