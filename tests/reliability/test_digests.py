"""Sensitive values: keyed per person, never silently re-keyed."""

from __future__ import annotations

import json

import pytest

from hrsync.digests import Digests
from hrsync.engine import RunOptions, run_connection
from hrsync.state import open_state


def people(count: int, **values):
    return [{"id": str(i), "email": f"p{i}@example.com", "first_name": "P", "last_name": str(i), "gender": "female",
             "birthday": "1990-01-01", "status": "active", **values} for i in range(count)]


@pytest.mark.parametrize("damage", ["missing", "empty", "not hex"])
def test_05_a_lost_or_broken_key_is_refused_not_a_silent_rewrite_of_everyone(memory_config, memory_world, tmp_path,
                                                                            damage):
    memory_world.people = people(5)
    config, plugins = memory_config()
    assert run_connection(config, "mem", plugins).status == "ok"
    key = tmp_path / "state.db.key"
    if damage == "missing":
        key.unlink()
    else:
        key.write_text("" if damage == "empty" else "zz-not-a-key")
    memory_world.calls.clear()
    for options in (RunOptions(dry_run=True), RunOptions()):
        result = run_connection(config, "mem", plugins, options)
        assert result.status == "stopped" and "Restore it from the backup" in result.message
        assert result.exit_code == 2 and memory_world.writes() == []
    state = open_state(config.state, read_only=True)  # history stays readable meanwhile
    assert len(state.runs("mem")) == 2
    state.close()


def test_14_digests_are_keyed_per_person_and_old_ones_still_match(memory_config, memory_world, tmp_path):
    memory_world.people = people(3)
    config, plugins = memory_config()
    run_connection(config, "mem", plugins)
    state = open_state(config.state)
    links = state.links("mem")
    assert len({link.applied["gender"] for link in links.values()}) == 3  # same gender, three digests
    # A state written by hrsync 0.1 kept one digest per value for everyone: read without re-sending.
    legacy = "hmac:" + state.digests._hmac("female")
    with state.db.atomic():
        for source_id, link in links.items():
            state.db.execute("update people set applied = ? where source_id = ?",
                             [json.dumps({**link.applied, "gender": legacy}), source_id])
    state.close()
    memory_world.calls.clear()
    assert run_connection(config, "mem", plugins).report.counts["updated"] == 0 and memory_world.writes() == []
    state = open_state(config.state, read_only=True)  # ...and are re-keyed per person on the way, in the state only
    assert len({link.applied["gender"] for link in state.links("mem").values()}) == 3
    state.close()
    assert Digests(b"k" * 32).matches(legacy.replace("hmac:", "hmac2:"), "female", "0") is False
