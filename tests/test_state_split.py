"""One state file per connection (``host.state_dir``) and ``hrsync state split``, on the in-memory connectors
and real SQLite files: each connection's rows in its own file, the history, pauses and status read across the
files, and a split that keeps every link, digest, run, group and pause - the next run changes nothing."""

from __future__ import annotations

import json
import sqlite3

import pytest

from hrsync.config.load import parse_config
from hrsync.errors import LockedError, RunError, UsageError
from hrsync.registry import load_plugins
from hrsync.service.daemon import connection_status
from hrsync.service.runner import run_and_report
from hrsync.state.places import StateFiles, open_connection_state
from hrsync.state.split import split_state
from hrsync.state.store import open_state
from hrsync.sync.engine import RunOptions, sync_connection
from hrsync.testing import MemoryWorld, memory_plugin
from tests.helpers import person, run_cli

NAMES = ("acme", "globex")


@pytest.fixture
def host(tmp_path):
    """``host(state=...)``: (config, plugins, worlds) for two connections, each with its own world of people
    in departments (groups) and sensitive values (birthday, gender)."""
    worlds = {name: MemoryWorld() for name in NAMES}
    for n, world in enumerate(worlds.values()):
        world.people = [person(i + 100 * n, department={"id": str(i % 2), "name": f"Dept{i % 2}"})
                        for i in range(6)]
    plugins = load_plugins(entry_points=False, plugins=[("memory", memory_plugin())])

    def load(**host_settings):
        connections = {name: {"source": {"plugin": "memory", "world": world}, "groups": ["department"],
                              "sink": {"plugin": "memory", "world": world}} for name, world in worlds.items()}
        data = {"host": host_settings, "connections": connections}
        return parse_config(data, plugins, path=tmp_path / "hosts.yaml"), plugins, worlds

    return load


def rows(path, table: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return sorted(conn.execute(f"select * from {table}").fetchall(), key=repr)
    finally:
        conn.close()


def test_each_connection_keeps_its_state_in_its_own_file(host, tmp_path):
    config, plugins, worlds = host(state_dir="state")
    for name in NAMES:
        assert run_and_report(config, name, plugins)[0].report.counts["created"] == 6
    files = sorted(p.name for p in (tmp_path / "state").iterdir() if p.suffix in (".db", ".key"))
    assert files == ["acme.db", "acme.db.key", "globex.db", "globex.db.key"]
    for name in NAMES:
        assert {row[0] for row in rows(tmp_path / "state" / f"{name}.db", "people")} == {name}
    with open_connection_state(config, "acme") as state:
        state.pause("acme", "three runs stopped", "hash")
    with StateFiles(config) as every:
        assert sorted(r["connection"] for r in every.runs()) == ["acme", "globex"]  # across the files
        assert [p["connection"] for p in every.pauses()] == ["acme"]
        assert every.run(1, "globex")["report"].counts["created"] == 6
        with pytest.raises(UsageError, match="--connection"):  # each file numbers its own runs
            every.run(1)
    status = {row["connection"]: row for row in connection_status(config)}
    assert status["acme"]["paused"] and not status["globex"]["paused"]
    assert status["globex"]["last_run"]["status"] == "ok"


def test_a_split_keeps_every_link_and_the_next_run_changes_nothing(host, tmp_path):
    config, plugins, worlds = host(state="shared.db")
    for name in NAMES:
        sync_connection(config, name, plugins)
    with open_state(config.state) as shared:
        shared.pause("globex", "three runs stopped", "hash")
        links = {name: {k: (v.sink_id, v.applied) for k, v in shared.links(name).items()} for name in NAMES}
        groups = {name: (shared.group_links(name), shared.memberships(name)) for name in NAMES}
        runs = {name: [r["id"] for r in shared.runs(name)] for name in NAMES}
    copied = split_state(config.state, tmp_path / "state")
    assert {name: copied[name]["people"] for name in NAMES} == {"acme": 6, "globex": 6}
    config, plugins, worlds = host(state_dir="state")
    with StateFiles(config) as every:
        for name in NAMES:
            state = every.of(name)
            assert {k: (v.sink_id, v.applied) for k, v in state.links(name).items()} == links[name]
            assert (state.group_links(name), state.memberships(name)) == groups[name]
            assert [r["id"] for r in state.runs(name)] == runs[name]
        assert [p["connection"] for p in every.pauses()] == ["globex"]
    for name in NAMES:
        worlds[name].calls.clear()
        result = sync_connection(config, name, plugins)
        assert result.status == "ok" and worlds[name].writes() == [], name
        assert result.report.counts["unchanged"] == 6 and result.report.groups == []
        assert result.run_id > max(max(ids) for ids in runs.values())  # numbered past every run of the shared file


def test_a_split_refuses_a_folder_holding_a_connection_and_a_connection_running_keeping_nothing(host, tmp_path):
    config, plugins, _ = host(state="shared.db")
    for name in NAMES:
        sync_connection(config, name, plugins)
    with open_state(config.state) as shared, shared.lock("globex"):  # a run of globex by hand
        with pytest.raises(LockedError, match="globex"):
            split_state(config.state, tmp_path / "state")
    assert list((tmp_path / "state").iterdir()) == []  # acme's copy, made first, is not kept either
    (tmp_path / "state" / "globex.db").write_bytes(b"")
    with pytest.raises(RunError, match="already holds the state of globex"):
        split_state(config.state, tmp_path / "state")
    assert not (tmp_path / "state" / "acme.db").exists()


def test_a_state_dir_refuses_to_start_a_connection_afresh_beside_the_unsplit_file(host, tmp_path):
    config, plugins, worlds = host()  # the default shared file beside hosts.yaml
    sync_connection(config, "acme", plugins)
    config, plugins, worlds = host(state_dir="state")
    with pytest.raises(RunError, match="hrsync state split"):
        sync_connection(config, "acme", plugins)
    with pytest.raises(RunError, match="hrsync state split"):
        sync_connection(config, "acme", plugins, RunOptions(dry_run=True))
    worlds["acme"].calls.clear()
    assert sync_connection(config, "globex", plugins).report.counts["created"] == 6  # it never ran: starts
    assert worlds["acme"].writes() == []
    config, plugins, worlds = host(state="custom.db")  # a host whose one file had its own name
    sync_connection(config, "acme", plugins)
    config, plugins, worlds = host(state="custom.db", state_dir="custom")  # host.state kept: the old file
    with pytest.raises(RunError, match=r"custom\.db holds the state of connection 'acme'.* --from \S*custom\.db"):
        sync_connection(config, "acme", plugins)
    split_state(config.state, config.state_dir)
    assert sync_connection(config, "acme", plugins).report.has_changes is False  # nothing started afresh
    config, plugins, worlds = host(state="other.db", state_dir="other")  # and the default file is still checked
    with pytest.raises(RunError, match=r"hrsync-state\.db holds the state of connection 'acme'"):
        sync_connection(config, "acme", plugins)


def test_the_state_split_command_and_history_across_the_files(host, tmp_path):
    config, plugins, _ = host(state="shared.db")
    for name in NAMES:
        sync_connection(config, name, plugins)
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("connections: {}\nhost: {state: shared.db}\n")
    split = run_cli("--config", str(hosts), "state", "split", "--into", str(tmp_path / "state"))
    assert split.returncode == 0, split.stderr
    assert "acme: 6 link(s), 1 run(s), 2 group(s), 0 pause(s)" in split.stdout
    hosts.write_text("connections: {}\nhost: {state_dir: state}\n")
    listed = json.loads(run_cli("--config", str(hosts), "runs", "--json").stdout)
    assert sorted((r["connection"], r["created"]) for r in listed) == [("acme", 6), ("globex", 6)]
    shown = run_cli("--config", str(hosts), "report", str(listed[0]["id"]), "--connection", listed[0]["connection"])
    assert shown.returncode == 0 and "6 created" in shown.stdout
    both = run_cli("--config", str(hosts), "report", "1")  # the shared file gave acme run 1 and globex run 2
    assert both.returncode == 0 and "acme" in both.stdout
    pruned = run_cli("--config", str(hosts), "prune", "--older-than", "0", "--yes")
    assert "Deleted 2 run(s)" in pruned.stdout


def test_beside_state_dir_state_names_the_old_file_which_is_never_written(host, tmp_path):
    config, plugins, _ = host(state="shared.db", state_dir="state")
    assert config.state_file("acme") == tmp_path / "state" / "acme.db" and config.state == tmp_path / "shared.db"
    assert sync_connection(config, "acme", plugins).report.counts["created"] == 6  # the old file holds none of it
    assert not config.state.exists()


def test_a_runs_prune_takes_only_its_connections_old_runs_found_by_an_index(host):
    config, plugins, _ = host(state="shared.db", keep_days=30)
    for name in NAMES:
        sync_connection(config, name, plugins)
    with open_state(config.state) as state:
        state.db.execute("update runs set started_at = '2001-01-01T00:00:00+00:00'")
        state.db.conn.commit()
        for where in ("connection = ? and started_at < ?", "started_at < ?"):
            plan = state.db.execute(f"explain query plan select id from runs where {where} and status != 'running'",
                                    ["acme", "x"][-where.count("?"):]).fetchall()
            assert "USING INDEX" in str(plan) and "SCAN runs" not in str(plan), plan
    run_and_report(config, "acme", plugins)
    with open_state(config.state) as state:
        assert [r["connection"] for r in state.runs()] == ["acme", "globex"]  # acme's old run went, globex's stays


def test_the_daemon_status_and_resume_read_each_connections_own_pause(tmp_path, personio, scim, secrets_env):
    from hrsync.service.daemon import Daemon, config_fingerprint
    from tests.helpers import bundled_plugins, connection_dict

    path = tmp_path / "hosts.yaml"
    connections = {name: connection_dict(personio, scim) for name in NAMES}
    path.write_text(json.dumps({"host": {"state_dir": "state"}, "connections": connections}))
    daemon = Daemon(path, plugins_factory=bundled_plugins)
    with open_connection_state(daemon.config, "acme") as state:
        state.pause("acme", "three runs stopped", config_fingerprint(daemon.config.connections["acme"]))
    assert (tmp_path / "state" / "acme.db").exists() and not (tmp_path / "state" / "globex.db").exists()
    assert daemon.reload() and sorted(daemon.jobs) == ["globex"]
    status = json.loads(run_cli("--config", str(path), "status", "--json").stdout)
    assert [row["paused"] for row in status] == [True, False]
    resumed = run_cli("--config", str(path), "resume", "acme")
    assert "pause lifted" in resumed.stdout
    assert daemon.reload() and sorted(daemon.jobs) == ["acme", "globex"]
    daemon.shutdown()


def test_a_shared_file_kept_in_the_state_dir_is_no_connection_of_its_own(host, tmp_path):
    config, plugins, _ = host(state="hrsync-state.db")
    for name in NAMES:
        run_and_report(config, name, plugins)
    with open_state(config.state) as shared:
        shared.pause("acme", "a pause from before the split", "hash")
    split_state(config.state, tmp_path)  # into the folder that holds the shared file, which stays as a backup
    split, _, _ = host(state_dir=".")
    with open_connection_state(split, "acme") as state:
        assert state.resume("acme")  # lifted in the connection's own file; the backup still holds it
    with StateFiles(split) as every:
        assert sorted(r["connection"] for r in every.runs()) == ["acme", "globex"]  # each run once
        assert every.pauses() == []  # the backup's pause is not the connection's
        assert every.run(1, "acme")["connection"] == "acme"
