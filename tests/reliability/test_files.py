"""Files holding personal data are private: the state, its WAL/SHM and lock files, the key, the outbox."""

from __future__ import annotations

import os

from hrsync.sync.engine import sync_connection


def mode(path) -> str:
    return oct(path.stat().st_mode)[-3:]


def test_13_the_state_and_everything_beside_it_is_created_private(memory_config, memory_world, tmp_path):
    memory_world.people = [{"id": "1", "email": "a@example.com", "first_name": "A", "last_name": "B"}]
    old = os.umask(0o022)  # a typical umask: without care, files would be world-readable
    try:
        config, plugins = memory_config()
        assert sync_connection(config, "mem", plugins).status == "ok"
    finally:
        os.umask(old)
    made = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("state.db"))
    assert {"state.db", "state.db.key", "state.db.mem.lock"} <= set(made)
    assert {p: mode(tmp_path / p) for p in made} == dict.fromkeys(made, "600")


def test_13_an_older_world_readable_state_is_made_private(memory_config, memory_world, tmp_path):
    (tmp_path / "state.db").touch(mode=0o644)
    (tmp_path / "state.db").chmod(0o644)
    config, plugins = memory_config()
    sync_connection(config, "mem", plugins)
    assert mode(tmp_path / "state.db") == "600"


def test_13_the_wal_and_shm_files_of_an_open_state_are_private(tmp_path):
    from hrsync.state.store import open_state

    old = os.umask(0o022)
    try:
        state = open_state(tmp_path / "state.db")
        state.start_run("acme", "normal")  # a write: SQLite now holds -wal and -shm beside the file
        sidecars = [tmp_path / "state.db-wal", tmp_path / "state.db-shm"]
        assert all(p.exists() for p in sidecars)
        assert [mode(p) for p in sidecars] == ["600", "600"]
        state.close()
    finally:
        os.umask(old)
