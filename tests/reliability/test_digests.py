"""Sensitive values: keyed per person, never silently re-keyed."""

from __future__ import annotations

import json

import pytest

from hrsync.state.store import open_state
from hrsync.sync.engine import RunOptions, sync_connection


def people(count: int, **values):
    return [{"id": str(i), "email": f"p{i}@example.com", "first_name": "P", "last_name": str(i), "gender": "female",
             "birthday": "1990-01-01", "status": "active", **values} for i in range(count)]


@pytest.mark.parametrize("damage", ["missing", "empty", "not hex"])
def test_05_a_lost_or_broken_key_is_refused_not_a_silent_rewrite_of_everyone(memory_config, memory_world, tmp_path,
                                                                            damage):
    memory_world.people = people(5)
    config, plugins = memory_config()
    assert sync_connection(config, "mem", plugins).status == "ok"
    key = tmp_path / "state.db.key"
    if damage == "missing":
        key.unlink()
    else:
        key.write_text("" if damage == "empty" else "zz-not-a-key")
    memory_world.calls.clear()
    for options in (RunOptions(dry_run=True), RunOptions()):
        result = sync_connection(config, "mem", plugins, options)
        assert result.status == "stopped" and "Restore it from the backup" in result.message
        assert result.exit_code == 2 and memory_world.writes() == []
    state = open_state(config.state, read_only=True)  # history stays readable meanwhile
    assert len(state.runs("mem")) == 2
    state.close()


def test_14_digests_are_keyed_per_person_and_old_state_is_converted_once(memory_config, memory_world, tmp_path):
    memory_world.people = people(3)
    config, plugins = memory_config()
    sync_connection(config, "mem", plugins)
    state = open_state(config.state)
    links = state.links("mem")
    assert len({link.applied["gender"] for link in links.values()}) == 3  # same gender, three digests
    # State written by hrsync 0.1: one digest per value for everyone, and a report in plain JSON.
    legacy = "hmac:" + state.digests._hmac("female")
    old_report = {"connection": "mem", "status": "ok", "actions": [{"action": "create", "person": "P 0",
                                                                   "link": "linked"}]}
    with state.db.atomic():
        for source_id, link in links.items():
            state.db.execute("update people set applied = ? where source_id = ?",
                             [json.dumps({**link.applied, "gender": legacy}), source_id])
        old_id = state.db.execute("insert into runs (connection, status, report) values ('mem', 'ok', ?)",
                                  [json.dumps(old_report)]).lastrowid
        state.db.execute("delete from _sqlite_migrations where name = 'm006_retire_old_forms'")
    state.close()
    state = open_state(config.state)  # the migration converts what it can, once
    assert "hmac:" not in json.dumps([link.applied for link in state.links("mem").values()])
    assert state.run(old_id)["report"].actions[0].matched is True
    state.close()
    memory_world.calls.clear()
    result = sync_connection(config, "mem", plugins)  # the dropped 0.1 digests: gender is sent once more
    assert result.report.counts["updated"] == 3 and {tuple(a.changes) for a in result.plan.writes} == {("gender",)}
    state = open_state(config.state, read_only=True)
    assert len({link.applied["gender"] for link in state.links("mem").values()}) == 3
    state.close()
    assert sync_connection(config, "mem", plugins).report.counts["updated"] == 0
