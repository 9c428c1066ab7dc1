"""One person's history in the state, for ``hrsync person``: every run that touched them, and where they stand.

Data flow: the change log (``changes``: one row per write with its public changes, written by the applier) says
which runs wrote to a person, found by source id (an index); each stored run report adds what no write
records - a record skipped or deferred, a leaver left uncreated, a link by e-mail with nothing to change - and is
parsed only when its compressed text holds the person's id or e-mail. ``people``, ``pending``, ``uncreated`` and
``memberships`` say where they stand now. None of these holds a sensitive value (public changes only).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any

from ..emails import normalise_email
from ..plan import needs_attention

#: A person as the history knows them: (connection, source id); the id is None for a record skipped without one.
Key = tuple[str, str | None]


class PersonHistory:
    """Mixed into :class:`~hrsync.state.store.State` (which owns ``db``)."""

    db: Any

    def person_history(self, query: str, connection: str | None = None) -> list[dict[str, Any]]:
        """Everyone ``query`` (an e-mail, any case, or a source id) names, each with the runs that touched them
        (oldest first), their link now and what needs attention now; empty when the state knows nobody."""
        email = normalise_email(query) if "@" in query else None
        keys = self._keys(query, email, connection)
        needles = {query, *(email and [email] or []), *(sid for _, sid in keys if sid)}
        runs: dict[int, dict[str, Any]] = {}
        found: dict[Key, dict[int, list[dict[str, Any]]]] = {}
        for run, line in self._report_lines(needles, connection):
            key = (run["connection"], line.get("source_id"))
            if key in keys or line.get("source_id") == query or (email and line.get("email") == email):
                keys.add(key)
                runs[run["id"]] = run
                found.setdefault(key, {}).setdefault(run["id"], []).append(_event(line))
        for key in keys:
            self._add_writes(key, found.setdefault(key, {}), runs)
        latest = self._latest_runs()
        return [self._person(key, found[key], runs, latest.get(key[0])) for key in sorted(keys, key=str)
                if found[key] or key[1] is not None]

    def _keys(self, query: str, email: str | None, connection: str | None) -> set[Key]:
        scope, args = (" and connection = ?", [connection]) if connection else ("", [])
        keys: set[Key] = set()
        for table in ("people", "pending"):
            keys.update(self.db.execute(f"select connection, source_id from {table} where (source_id = ? or "
                                        f"email_key = ?){scope}", [query, email, *args]))
        for table in ("changes", "uncreated"):
            keys.update(self.db.execute(f"select distinct connection, source_id from {table} where source_id = ?"
                                        f"{scope}", [query, *args]))
        return keys

    def _report_lines(self, needles: set[str], connection: str | None) -> Iterator[tuple[dict, dict]]:
        """Each stored report's person lines, from the reports whose JSON holds one of ``needles`` as a string."""
        # The reports are stored as json.dumps writes them (non-ASCII escaped): the needles are written alike.
        encoded = [json.dumps(n).encode() for n in needles]
        scope, args = (" and connection = ?", [connection]) if connection else ("", [])
        rows = self.db.execute("select id, connection, started_at, status, mode, report_z from runs where report_z "
                               f"is not null{scope} order by id", args)
        for run_id, conn, started_at, status, mode, stored in rows:
            text = zlib.decompress(stored)
            if not any(n in text for n in encoded):
                continue
            run = {"id": run_id, "connection": conn, "started_at": started_at, "status": status, "mode": mode}
            for line in json.loads(text).get("actions", []):
                yield run, line

    def _add_writes(self, key: Key, events: dict[int, list[dict[str, Any]]], runs: dict[int, dict]) -> None:
        """The change log's writes to ``key`` that no report line tells of (a run still running, a link made
        when a lost create was found in the app)."""
        if key[1] is None:
            return
        rows = self.db.execute("select c.run_id, c.action, c.fields, c.outcome, c.message, c.person, r.connection, "
                               "r.started_at, r.status, r.mode from changes c join runs r on r.id = c.run_id where "
                               "c.connection = ? and c.source_id = ? order by c.id", list(key))
        for run_id, action, fields, outcome, message, person, conn, started_at, status, mode in rows:
            if any(e["action"] == action for e in events.get(run_id, [])):
                continue
            runs.setdefault(run_id, {"id": run_id, "connection": conn, "started_at": started_at, "status": status,
                                     "mode": mode})
            events.setdefault(run_id, []).append(_event({
                "action": action, "outcome": outcome, "changes": json.loads(fields or "{}"), "message": message,
                "person": person}))

    def _latest_runs(self) -> dict[str, int]:
        """Each connection's last run that stored a report."""
        rows = self.db.execute("select connection, max(id) from runs where report_z is not null group by connection")
        return dict(rows)

    def _person(self, key: Key, events: dict[int, list[dict[str, Any]]], runs: dict[int, dict],
                latest: int | None) -> dict[str, Any]:
        connection, source_id = key
        link = None
        if source_id is not None:
            row = self.db.execute("select sink_id, email_key, origin, deactivated, first_run, last_run from people "
                                  "where connection = ? and source_id = ?", list(key)).fetchone()
            if row:
                link = {"sink_id": row[0], "email": row[1], "origin": row[2], "active": not row[3],
                        "first_run": row[4], "last_run": row[5], "groups": self._groups(connection, source_id)}
        ordered = [{**runs[run_id], "events": events[run_id]} for run_id in sorted(events)]
        lines = [e for run in ordered for e in run["events"]]
        return {
            "connection": connection, "source_id": source_id,
            "name": next((e["person"] for e in reversed(lines) if e["person"] and e["action"] != "deactivate"),
                         None) or (lines[-1]["person"] if lines else source_id),
            "email": (link or {}).get("email") or next((e["email"] for e in reversed(lines) if e["email"]), None),
            "link": link,
            "create_pending": source_id is not None and self._has("pending", key),
            "left_uncreated": link is None and source_id is not None and self._has("uncreated", key),
            "attention": [e for e in events.get(latest, []) if e["attention"]] if latest is not None else [],
            "runs": ordered,
        }

    def _groups(self, connection: str, source_id: str) -> list[str]:
        rows = self.db.execute("select g.name from memberships m join groups g on g.connection = m.connection and "
                               "g.external_id = m.external_id where m.connection = ? and m.source_id = ? order by "
                               "g.name", [connection, source_id])
        return [name for (name,) in rows]

    def _has(self, table: str, key: Key) -> bool:
        return self.db.execute(f"select 1 from {table} where connection = ? and source_id = ?",
                               list(key)).fetchone() is not None


def _event(line: dict[str, Any]) -> dict[str, Any]:
    """What one run did to the person, from a report line or a change-log row (public changes only)."""
    action, outcome = line.get("action", ""), line.get("outcome", "planned")
    return {"action": action, "outcome": outcome, "changes": line.get("changes") or {},
            "reason": line.get("reason") or "", "message": line.get("message") or "",
            "notes": list(line.get("notes") or []), "linked_by_email": bool(line.get("matched")),
            "person": line.get("person") or "", "email": line.get("email"),
            "attention": needs_attention(action, outcome)}
