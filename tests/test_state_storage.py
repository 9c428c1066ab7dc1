"""The state on the apply path: plain SQL, grouped commits, compact reports - and still crash-safe."""

from __future__ import annotations

import json
import shutil
import sqlite3

from hrsync.state.store import open_state
from hrsync.sync.engine import sync_connection


def people(n, start=0):
    return [{"id": str(i), "email": f"p{i}@example.com", "first_name": f"F{i}", "last_name": "L", "status": "active",
             "gender": "female", "birthday": "1990-01-01"} for i in range(start, start + n)]


def test_the_apply_path_runs_no_schema_lookups_and_a_few_statements_per_person(memory_config, memory_world,
                                                                                monkeypatch):
    memory_world.people = people(200)
    config, plugins = memory_config()
    statements: list[str] = []
    connect = sqlite3.connect

    def traced(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr("hrsync.state.store.sqlite3.connect", traced)
    result = sync_connection(config, "mem", plugins)
    assert result.status == "ok" and len(memory_world.users) == 200
    first_write = next(i for i, s in enumerate(statements) if s.startswith("insert into pending"))
    last_write = max(i for i, s in enumerate(statements) if s.startswith("insert into changes"))
    hot = statements[first_write:last_write + 1]
    assert not [s for s in hot if "sqlite_master" in s or s.startswith("PRAGMA")]
    assert len(hot) <= 12 * 200, len(hot)  # intent + outcome: about 10 statements a person
    assert sum(s == "COMMIT" for s in hot) <= 201  # one commit a person: an outcome and the next intent together


def test_reports_are_stored_compressed_and_reports_stored_as_json_are_converted(memory_config, memory_world,
                                                                                tmp_path):
    memory_world.people = people(300)
    config, plugins = memory_config()
    result = sync_connection(config, "mem", plugins)
    db = sqlite3.connect(tmp_path / "state.db")
    plain, packed = db.execute("select report, report_z from runs where id = ?", [result.run_id]).fetchone()
    assert plain is None and len(packed) * 4 < len(json.dumps(result.report.to_dict()))
    # A run stored before compression (hrsync 0.2): its JSON in the report column.
    db.execute("update runs set report = ?, report_z = null where id = ?",
               [json.dumps(result.report.to_dict()), result.run_id])
    db.execute("delete from _sqlite_migrations where name = 'm006_retire_old_forms'")  # as before the upgrade
    db.commit()
    db.close()
    for read_only in (True, False):  # read-only (hrsync runs, a dry run): through an upgraded copy in memory
        state = open_state(tmp_path / "state.db", read_only=read_only)
        stored = state.run(result.run_id)
        state.close()
        assert stored["report"].counts == result.report.counts and len(stored["report"].actions) == 300
        assert "report_z" not in stored
    db = sqlite3.connect(tmp_path / "state.db")  # ...and the first open that may write converted the file
    assert db.execute("select report is null, report_z is not null from runs").fetchall() == [(1, 1)]
    db.close()


def test_commits_lost_with_the_power_are_repaired_by_conflict_lookup_and_link(memory_config, memory_world,
                                                                              tmp_path):
    """WAL with synchronous=NORMAL keeps every commit across a killed process, but a power loss may drop
    the last ones - intents included. The sink's 409 on create, a lookup and a link repair that."""
    memory_world.people = people(10)
    config, plugins = memory_config(sink={"plugin": "memory", "world": memory_world, "max_in_flight": 4})
    assert sync_connection(config, "mem", plugins).status == "ok"
    before = tmp_path / "before.db"
    shutil.copy(tmp_path / "state.db", before)  # the file as the disk last saw it (closed: no WAL left)
    memory_world.people += people(10, start=10)
    assert sync_connection(config, "mem", plugins).status == "ok"
    shutil.copy(before, tmp_path / "state.db")  # the power went: the second run's commits are gone
    memory_world.calls.clear()
    repaired = sync_connection(config, "mem", plugins)
    assert repaired.status == "ok", repaired.message
    assert len(memory_world.users) == 20 and len({u["email"] for u in memory_world.users.values()}) == 20
    newcomers = sorted(f"p{i}@example.com" for i in range(10, 20))
    assert sorted(c[1] for c in memory_world.calls if c[0] == "create") == newcomers  # each refused: taken
    assert sorted(c[1] for c in memory_world.calls if c[0] == "find") == newcomers
    state = open_state(tmp_path / "state.db", read_only=True)
    links = state.links("mem")
    state.close()
    assert {link.sink_id for link in links.values()} == set(memory_world.users)
    assert {line.source_id for line in repaired.report.actions if line.matched} == {str(i) for i in range(10, 20)}


def test_a_reports_stored_form_is_what_its_schema_writes_and_reads(memory_config, memory_world):
    from hrsync.results import SCHEMA

    memory_world.people = people(6) + [{"id": "90", "email": "not-an-address", "status": "active"}]
    memory_world.fail_emails.add("p2@example.com")
    memory_world.users["x1"] = {"email": "outsider@example.com", "first_name": "Out", "last_name": "Sider"}
    config, plugins = memory_config()
    report = sync_connection(config, "mem", plugins).report
    assert {line.action for line in report.actions} >= {"create", "skip"} and report.unmatched
    assert report.to_dict() == SCHEMA.dump(report)
    assert SCHEMA.load(report.to_dict()) == report


def test_a_round_of_the_applier_never_joins_an_open_transaction(tmp_path):
    import pytest

    state = open_state(tmp_path / "state.db")
    with state.batch():
        with pytest.raises(RuntimeError, match="would not be committed before their writes"):
            with state.batch(outermost=True):
                pass
    with state.batch(outermost=True):  # once committed, a round opens its own
        assert state.db.conn.in_transaction
    assert not state.db.conn.in_transaction
    state.close()


def test_the_state_commits_without_fsync_and_checkpoints_rarely(tmp_path):
    """WAL + synchronous=NORMAL: a commit is not an fsync; checkpoints (the fsyncs) every 16,000 pages."""
    state = open_state(tmp_path / "state.db")
    try:
        pragma = {name: state.db.execute(f"PRAGMA {name}").fetchone()[0]
                  for name in ("journal_mode", "synchronous", "wal_autocheckpoint", "journal_size_limit")}
    finally:
        state.close()
    assert pragma == {"journal_mode": "wal", "synchronous": 1, "wal_autocheckpoint": 16000,
                      "journal_size_limit": 64 * 1024 * 1024}
