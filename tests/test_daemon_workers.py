"""The daemon's worker processes: a SIGKILLed worker fails only its own run, is replaced, and that connection's
next scheduled run completes."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing.spawn
import os
import re
import signal
import threading

import pytest

from hrsync.errors import PluginError
from hrsync.service.daemon import Daemon
from hrsync.state.store import open_state
from hrsync_plugins.winningtemp.sandbox import ScimSandbox
from tests.helpers import bundled_plugins, connection_dict, wait_until
from tests.test_daemon import clock, daemon_for, write_hosts  # noqa: F401 - clock is a fixture

NAMES = ("a", "b", "c")


def latest_statuses(path) -> dict[str, list[str]]:
    state = open_state(path, read_only=True)
    try:
        return {name: [run["status"] for run in state.runs(name)] for name in NAMES}
    finally:
        state.close()


def test_a_killed_worker_process_crashes_its_run_only_and_the_pool_carries_on(tmp_path, personio, scim,
                                                                              secrets_env, clock):  # noqa: F811
    sinks = {name: ScimSandbox(token=scim.token).start() for name in NAMES}
    try:
        connections = {name: connection_dict(personio, sink, create_leavers=True, schedule={"every_hours": 1})
                       for name, sink in sinks.items()}
        daemon = daemon_for(write_hosts(tmp_path / "hosts.yaml", personio, scim, connections=connections,
                                        daemon={"max_concurrent": 3, "processes": 3}))
        personio.faults.gate = threading.Event()
        clock.shift(dt.timedelta(hours=1, minutes=1))
        daemon.tick()
        wait_until(lambda: all(runs[:1] == ["running"] for runs in latest_statuses(tmp_path / "state.db").values()))
        where = daemon.workers.where()
        assert len(set(where.values())) == 3  # one run per process: the kill below hits "a" alone
        os.kill(where["a"], signal.SIGKILL)
        assert daemon.running["a"].result(timeout=60) == "crashed"
        assert latest_statuses(tmp_path / "state.db")["a"][0] == "crashed"  # at once: quarantine counts it
        personio.faults.gate.set()
        assert daemon.running["b"].result(timeout=60) == daemon.running["c"].result(timeout=60) == "ok"
        wait_until(lambda: len(daemon.workers.pids()) == 3 and where["a"] not in daemon.workers.pids())

        clock.shift(dt.timedelta(hours=1))
        daemon.tick()
        assert [daemon.running[name].result(timeout=60) for name in NAMES] == ["ok", "ok", "ok"]
        assert latest_statuses(tmp_path / "state.db") == {"a": ["ok", "crashed"], "b": ["ok", "ok"],
                                                          "c": ["ok", "ok"]}
        assert all(len(sink.users()) == 60 for sink in sinks.values())
        daemon.shutdown()
    finally:
        for sink in sinks.values():
            sink.stop()


def test_an_idle_worker_that_dies_is_started_again_only_when_a_run_needs_it(tmp_path, personio, scim, secrets_env,
                                                                            caplog):
    # A worker that cannot even load hosts.yaml (a secret file gone) would otherwise be respawned without end.
    daemon = daemon_for(write_hosts(tmp_path / "hosts.yaml", personio, scim,
                                    connections={"a": connection_dict(personio, scim)},
                                    daemon={"max_concurrent": 1, "processes": 1}))
    try:
        assert daemon.submit("a").result(timeout=60) == "ok"
        (pid,) = daemon.workers.pids()
        with caplog.at_level(logging.INFO, logger="hrsync"):
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: any(f"worker process {pid} ended" in r.getMessage() for r in caplog.records))
        assert daemon.workers.pids() == []
        assert not any("replaces" in r.getMessage() for r in caplog.records)
        assert daemon.submit("a").result(timeout=60) == "ok"  # a run that needs a worker starts one
        assert len(daemon.workers.pids()) == 1
    finally:
        daemon.shutdown()


def test_a_plugins_factory_the_worker_processes_cannot_receive_is_refused_at_once(tmp_path, personio, scim,
                                                                                   secrets_env):
    path = write_hosts(tmp_path / "hosts.yaml", personio, scim, connections={"a": connection_dict(personio, scim)})
    with pytest.raises(PluginError, match="module-level functions"):  # a lambda: it used to hang every run
        Daemon(path, plugins_factory=lambda: bundled_plugins(memory=False))


def test_a_worker_process_that_cannot_start_fails_its_run_and_the_daemon_serves_on(tmp_path, personio, scim,
                                                                                   secrets_env, caplog):
    sinks = [ScimSandbox(token=scim.token).start() for _ in range(2)]  # one tenant each: a pair may not share one
    daemon = daemon_for(write_hosts(tmp_path / "hosts.yaml", personio, scim,
                                    connections={name: connection_dict(personio, sink)
                                                 for name, sink in zip(("a", "b"), sinks, strict=True)},
                                    daemon={"max_concurrent": 1, "processes": 1, "shutdown_timeout": 5}))
    python = multiprocessing.spawn.get_executable()
    try:
        assert daemon.submit("a").result(timeout=60) == "ok"
        # An upgrade removed the Python the daemon started from, and a reload retired its worker: the next worker
        # process ends at once, before it can take a run.
        multiprocessing.set_executable(str(tmp_path / "python-removed"))
        assert daemon.reload()
        with caplog.at_level(logging.INFO, logger="hrsync"):
            assert daemon.submit("a").result(timeout=60) == "crashed"
        assert re.search(r"a: run crashed: worker process \d+ could not start \(exit code 255\); the run did not "
                         "begin", caplog.text)
        multiprocessing.set_executable(python)
        assert daemon.submit("b").result(timeout=60) == "ok"  # the daemon goes on serving
        assert daemon.submit("a").result(timeout=60) == "ok"
    finally:
        multiprocessing.set_executable(python)
        daemon.shutdown()
        for sink in sinks:
            sink.stop()


def test_a_worker_that_cannot_load_the_configuration_fails_the_run_with_the_reason(tmp_path, personio, scim,
                                                                                   secrets_env, monkeypatch,
                                                                                   caplog):
    daemon = daemon_for(write_hosts(tmp_path / "hosts.yaml", personio, scim,
                                    connections={"a": connection_dict(personio, scim)},
                                    daemon={"max_concurrent": 1, "processes": 1, "shutdown_timeout": 5}))
    try:
        monkeypatch.delenv("WINNINGTEMP_TOKEN")  # gone after the daemon loaded hosts.yaml: its workers cannot
        with caplog.at_level(logging.INFO, logger="hrsync"):
            assert daemon.submit("a").result(timeout=60) == "crashed"
        (line,) = [r.getMessage() for r in caplog.records if "run crashed" in r.getMessage()]
        assert re.fullmatch(r"a: run crashed: worker process \d+ could not start \(ConfigError: .*WINNINGTEMP_TOKEN"
                            r".*\); the run did not begin", line, re.DOTALL)
        assert daemon.workers.pids() == []  # not respawned: the next run starts one
    finally:
        daemon.shutdown()


def collector_runner(config, name, plugins, options):
    """A runner whose run's status is the garbage collector's thresholds of the process it runs in."""
    import gc
    from types import SimpleNamespace

    result = SimpleNamespace(run_id=1, status=str(gc.get_threshold()), report=SimpleNamespace(counts={}))
    return result, SimpleNamespace(detail="")


def test_worker_processes_run_syncs_with_the_collector_tuned_as_the_hrsync_command_does(tmp_path, personio, scim,
                                                                                         secrets_env):
    # Spawned, a worker starts a fresh interpreter: without this it scanned each run's heap at the default
    # thresholds, a fifth more CPU per tenant than the daemon of one process.
    from hrsync.sync.engine import COLLECTOR_THRESHOLDS

    daemon = Daemon(write_hosts(tmp_path / "hosts.yaml", personio, scim,
                                connections={"a": connection_dict(personio, scim)}, daemon={"processes": 1}),
                    plugins_factory=bundled_plugins, runner=collector_runner)
    try:
        assert daemon.submit("a").result(timeout=60) == str(COLLECTOR_THRESHOLDS)
    finally:
        daemon.shutdown()


def test_the_worker_processes_are_as_many_as_the_cores_this_process_may_use(tmp_path, personio, scim, secrets_env):
    # A container or `taskset` gives a daemon fewer cores than the machine has: more processes would only
    # share them (os.cpu_count() counts the machine's).
    path = write_hosts(tmp_path / "hosts.yaml", personio, scim, connections={"a": connection_dict(personio, scim)},
                       daemon={"max_concurrent": 8})
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        daemon = daemon_for(path)
    finally:
        os.sched_setaffinity(0, allowed)
    try:
        assert daemon.workers.size == 1
    finally:
        daemon.shutdown()
