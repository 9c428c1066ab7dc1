"""The daemon: schedules on a controllable clock, failures, quarantine, overlap, catch-up, reload, signals."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import threading

import pytest
import time_machine
import yaml

from hrsync.errors import EXIT_LOCKED
from hrsync.service.daemon import Daemon, connection_status
from hrsync.state.store import open_state
from hrsync_plugins.personio.sandbox_data import generate_employees
from tests.helpers import HRSYNC, bundled_plugins, cli_env, connection_dict, run_cli, wait_until

STOCKHOLM = dt.timezone(dt.timedelta(hours=1))  # Europe/Stockholm in November


def write_hosts(path, personio, scim, connections=None, **host):
    data = {"host": {"state": "state.db", "outbox": "outbox", "timezone": "Europe/Stockholm", **host},
            "connections": connections or {"acme": connection_dict(personio, scim, create_leavers=True)}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def daemon_for(config_path) -> Daemon:
    """A daemon over the hosts.yaml at ``config_path``, with the bundled plugins only (reloads too)."""
    return Daemon(config_path, plugins_factory=bundled_plugins)


@pytest.fixture
def clock():
    with time_machine.travel(dt.datetime(2026, 11, 26, 1, 58, tzinfo=STOCKHOLM), tick=False) as traveller:
        yield traveller


def finish(daemon: Daemon, name: str = "acme") -> str:
    return daemon.running[name].result(timeout=60)


def test_nightly_slot_at_0200_host_time(tmp_path, personio, scim, secrets_env, clock):
    daemon = daemon_for(write_hosts(tmp_path / "hosts.yaml", personio, scim))
    job = daemon.jobs["acme"]
    assert job.next_run.astimezone(STOCKHOLM).strftime("%H:%M") == "02:00"
    daemon.tick()
    assert "acme" not in daemon.running
    clock.shift(dt.timedelta(minutes=3))
    daemon.tick()
    assert finish(daemon) == "ok"
    assert len(scim.users()) == 60
    daemon.shutdown()


def test_failing_job_never_kills_the_daemon_and_quarantines_after_three(tmp_path, personio, scim, secrets_env,
                                                                        clock, monkeypatch, caplog):
    monkeypatch.setenv("PERSONIO_CLIENT_SECRET", "wrong")
    path = write_hosts(tmp_path / "hosts.yaml", personio, scim)
    daemon = daemon_for(path)
    for night in range(3):
        assert "acme" in daemon.jobs
        clock.shift(dt.timedelta(days=1) if night else dt.timedelta(minutes=3))
        daemon.tick()
        assert finish(daemon) == "stopped"
    assert "acme" not in daemon.jobs
    assert "paused (quarantined)" in caplog.text
    alerts = [p for p in (tmp_path / "outbox").iterdir() if b"was paused after 3 runs" in p.read_bytes()]
    assert len(alerts) == 1
    (row,) = connection_status(daemon.config)
    assert row["paused"] and row["next_run"] is None
    daemon.shutdown()
    # Still paused after a restart with the same config; lifted when the config changes.
    restarted = daemon_for(path)
    assert "acme" not in restarted.jobs
    data = yaml.safe_load(path.read_text())
    data["connections"]["acme"]["schedule"] = {"daily_at": "03:00"}
    path.write_text(yaml.safe_dump(data))
    assert restarted.reload() and "acme" in restarted.jobs
    restarted.shutdown()


def test_operator_resume_lifts_a_pause(tmp_path, personio, scim, secrets_env):
    path = write_hosts(tmp_path / "hosts.yaml", personio, scim)
    state = open_state(tmp_path / "state.db")
    state.pause("acme", "test", "whatever")
    state.close()
    status = run_cli("--config", str(path), "status", "--json")
    assert '"paused": true' in status.stdout
    result = run_cli("--config", str(path), "resume", "acme")
    assert result.returncode == 0 and "pause lifted" in result.stdout
    assert "acme" in daemon_for(path).jobs


def test_overlapping_slot_is_skipped_with_a_log_line(tmp_path, personio, scim, secrets_env, clock, caplog):
    conn = connection_dict(personio, scim, schedule={"every_hours": 1})
    daemon = daemon_for(write_hosts(tmp_path / "hosts.yaml", personio, scim, connections={"acme": conn}))
    personio.faults.gate = threading.Event()
    clock.shift(dt.timedelta(hours=1, minutes=1))
    daemon.tick()
    first = daemon.running["acme"]
    clock.shift(dt.timedelta(hours=1))
    daemon.tick()
    assert daemon.running["acme"] is first
    assert "still running from its previous slot; this slot is skipped" in caplog.text
    personio.faults.gate.set()
    assert first.result(timeout=60) == "ok"
    daemon.shutdown()


def test_concurrency_limit(tmp_path, personio, scim, secrets_env, clock):
    connections = {"one": connection_dict(personio, scim), "two": connection_dict(personio, scim)}
    daemon = daemon_for(write_hosts(tmp_path / "hosts.yaml", personio, scim, connections=connections,
                                    daemon={"max_concurrent": 1}))
    personio.faults.gate = threading.Event()
    clock.shift(dt.timedelta(minutes=3))
    daemon.tick()
    wait_until(lambda: personio.requests_to("/v1/auth"))
    assert len(personio.requests_to("/v1/auth")) == 1  # the second connection waits for a free slot
    personio.faults.gate.set()
    assert daemon.running["one"].result(timeout=60) == "ok" and daemon.running["two"].result(timeout=60) == "ok"
    assert len(personio.requests_to("/v1/auth")) == 2
    daemon.shutdown()


def test_catch_up_runs_stale_connections_once_at_start(tmp_path, personio, scim, secrets_env, clock):
    connections = {"fresh": connection_dict(personio, scim), "stale": connection_dict(personio, scim),
                   "never": connection_dict(personio, scim)}
    path = write_hosts(tmp_path / "hosts.yaml", personio, scim, connections=connections)
    state = open_state(tmp_path / "state.db")
    for name, age in (("fresh", dt.timedelta(hours=3)), ("stale", dt.timedelta(days=2))):
        run_id = state.start_run(name, "normal")
        started = (dt.datetime.now(dt.UTC) - age).isoformat(timespec="seconds")
        with state.db.atomic():
            state.db["runs"].update(run_id, {"status": "ok", "started_at": started})
    state.close()
    daemon = daemon_for(path)
    assert sorted(daemon.catch_up()) == ["never", "stale"]
    for name in ("never", "stale"):
        daemon.running[name].result(timeout=60)
    daemon.shutdown()


def test_reload_good_and_bad_config(tmp_path, personio, scim, secrets_env, clock, caplog):
    path = write_hosts(tmp_path / "hosts.yaml", personio, scim)
    daemon = daemon_for(path)
    data = yaml.safe_load(path.read_text())
    data["connections"]["second"] = connection_dict(personio, scim, schedule={"every_hours": 6})
    path.write_text(yaml.safe_dump(data))
    assert daemon.reload() and set(daemon.jobs) == {"acme", "second"}
    data["connections"]["second"]["missing"] = "delete"
    data["connections"]["acme"]["schedul"] = {}
    path.write_text(yaml.safe_dump(data))
    assert not daemon.reload()
    assert set(daemon.jobs) == {"acme", "second"}
    assert "connections.second.missing" in caplog.text and "connections.acme.schedul" in caplog.text
    assert "keeping the previous configuration" in caplog.text
    daemon.shutdown()


def test_disabled_connections_are_not_scheduled(tmp_path, personio, scim, secrets_env):
    connections = {"on": connection_dict(personio, scim), "off": connection_dict(personio, scim, enabled=False)}
    daemon = daemon_for(write_hosts(tmp_path / "hosts.yaml", personio, scim, connections=connections))
    assert set(daemon.jobs) == {"on"}
    rows = {r["connection"]: r for r in connection_status(daemon.config)}
    assert rows["off"]["next_run"] is None and rows["on"]["next_run"].endswith("02:00+01:00")
    daemon.shutdown()


def test_sigterm_during_a_sync_exits_cleanly_and_a_restart_finishes(tmp_path, personio, scim, secrets_env):
    personio.employees = generate_employees(150, seed=51)
    scim.faults.slow_seconds = 0.02
    path = write_hosts(tmp_path / "hosts.yaml", personio, scim)
    daemon = subprocess.Popen([HRSYNC, "--config", str(path), "daemon"], stderr=subprocess.PIPE, text=True,
                              env=cli_env())
    wait_until(lambda: len(scim.write_requests()) >= 20)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=60) == 0
    log = daemon.stderr.read()
    assert "stopping: no new runs" in log and "daemon stopped" in log
    state = open_state(tmp_path / "state.db", read_only=True)
    (run,) = state.runs("acme")
    links = state.links("acme")
    state.close()
    assert run["status"] == "interrupted"
    assert 0 < len(scim.users()) < 150
    assert {link.sink_id for link in links.values()} == {u["id"] for u in scim.users()}

    def last_status() -> str:
        state = open_state(tmp_path / "state.db", read_only=True)
        try:
            return state.runs("acme")[0]["status"]
        finally:
            state.close()

    restarted = subprocess.Popen([HRSYNC, "--config", str(path), "daemon"], stderr=subprocess.PIPE, text=True,
                              env=cli_env())
    wait_until(lambda: last_status() == "ok")
    restarted.send_signal(signal.SIGTERM)
    assert restarted.wait(timeout=60) == 0
    names = [u["userName"] for u in scim.users()]
    assert len(names) == len(set(names)) == 150


def test_a_connection_held_by_a_manual_run_is_skipped_not_failed(tmp_path, personio, scim, secrets_env, clock,
                                                                 caplog):
    daemon = daemon_for(write_hosts(tmp_path / "hosts.yaml", personio, scim))
    state = open_state(tmp_path / "state.db")
    with state.lock("acme"):
        clock.shift(dt.timedelta(minutes=3))
        daemon.tick()
        assert finish(daemon) == "skipped"
    state.close()
    assert "slot skipped: Connection 'acme' is already running" in caplog.text
    assert "acme" in daemon.jobs
    daemon.shutdown()


def test_a_second_daemon_on_the_same_state_is_refused_before_it_touches_anything(tmp_path, personio, scim,
                                                                                  secrets_env):
    conn = connection_dict(personio, scim, enabled=False)  # the first daemon runs nothing: it stays as it started
    path = write_hosts(tmp_path / "hosts.yaml", personio, scim, connections={"acme": conn},
                       metrics_file="hrsync.prom")
    log = tmp_path / "first.log"
    with log.open("w") as stderr:
        first = subprocess.Popen([HRSYNC, "--config", str(path), "daemon"], stderr=stderr, env=cli_env())
    try:
        wait_until(lambda: "daemon started" in log.read_text())
        # What a second daemon's start would change: a pause its config change lifts, the metrics file.
        with open_state(tmp_path / "state.db") as state:
            state.pause("acme", "3 runs in a row stopped", config_hash="from-an-older-config")
        (tmp_path / "hrsync.prom").unlink()
        second = run_cli("--config", str(path), "daemon", timeout=60)
        assert second.returncode == EXIT_LOCKED
        assert "Another hrsync daemon is already running" in second.stderr
        with open_state(tmp_path / "state.db", read_only=True) as state:
            assert [row["connection"] for row in state.pauses()] == ["acme"]
        assert not (tmp_path / "hrsync.prom").exists()
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0


def test_connections_running_at_once_share_the_state_file_without_lock_errors(tmp_path, personio, scim,
                                                                                 secrets_env):
    from hrsync_plugins.winningtemp.sandbox import ScimSandbox

    personio.employees = generate_employees(60, seed=8)
    sinks = [ScimSandbox(token=scim.token).start() for _ in range(4)]
    try:
        connections = {f"c{i}": connection_dict(personio, sink, create_leavers=True) for i, sink in enumerate(sinks)}
        daemon = daemon_for(write_hosts(tmp_path / "hosts.yaml", personio, scim, connections=connections,
                                        daemon={"max_concurrent": 4}))
        for _ in range(2):  # a first sync each, then a no-change run each: all four at once
            futures = [daemon.submit(name) for name in connections]
            assert [future.result(timeout=120) for future in futures] == ["ok"] * 4
        daemon.shutdown()
        assert all(len(sink.users()) == 60 for sink in sinks)
    finally:
        for sink in sinks:
            sink.stop()
