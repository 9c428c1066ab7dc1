"""Connections on Celery workers (``hrsync worker``, ``hrsync schedule``) with a real Redis on loopback.

Two workers take twenty small connections (CSV exports → the SCIM sandbox); one is SIGKILLed in the middle
of a run. The broker hands its unacknowledged run to the other worker after the visibility timeout, the
lease has expired by then, and every connection ends with exactly one successful run and no duplicate user.
The task's decisions (a slot delivered twice, a held lease, retries and quarantine) are also tested in this
process, against the same real Redis.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import redis
import yaml
from marshmallow import ValidationError

from hrsync.config.load import load_config
from hrsync.config.schema import CelerySchema, DaemonSchema, SmtpSchema
from hrsync.errors import EXIT_STOPPED
from hrsync.sandbox.smtp import SmtpCapture
from hrsync.service.celery_app import DONE, QUARANTINED, RETRY, Outcome, Worker, make_app, run_slot
from hrsync.service.celery_schedule import enqueue
from hrsync.service.lease import lease_key
from hrsync.state.store import open_state
from hrsync_csv import plugin as csv_plugin
from tests.helpers import BUNDLED, HRSYNC, bundled_plugins, cli_env, run_cli, wait_until

WITH_CSV = (*BUNDLED, "csv")
QUEUE = "test-host"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    """A redis-server of its own on a free loopback port, its files in the test's folder."""
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert Path(server).exists(), "redis-server is missing: `make test` installs it (apt-get install redis-server)"
    port = _free_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)

    def answers() -> bool:
        with contextlib.suppress(redis.ConnectionError):
            return client.ping()
        return False

    try:
        wait_until(answers, timeout=15)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def write_hosts(tmp_path: Path, scim, broker: str, count: int, people: int) -> Path:
    connections = {}
    for n in range(count):
        export = tmp_path / f"export-{n:02}.csv"
        export.write_text("id,email,first_name,last_name,status\n" + "".join(
            f"{n * 100 + i},c{n:02}p{i}@example.com,First{i},Last{n:02}x{i},active\n" for i in range(people)))
        connections[f"c{n:02}"] = {"source": {"plugin": "csv", "path": str(export)},
                                   "sink": {"plugin": "winningtemp", "token": "${WINNINGTEMP_TOKEN}",
                                            "base_url": scim.url, "retry_backoff": 0.01,
                                            "external_id_prefix": f"c{n:02}-"}}  # 20 exports, one tenant
    # A visibility timeout of seconds (a real host's is hours, above its longest run) lets the test see the
    # killed worker's run handed on; the lease expires before that, as it must.
    celery = {"broker": broker, "queue": QUEUE, "visibility_timeout": 6, "lease_seconds": 3,
              "retry_delay": 0.5, "retries": 3}
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump({"host": {"state": "state.db", "outbox": "outbox", "celery": celery},
                                    "connections": connections}))
    return path


def test_twenty_connections_run_exactly_once_when_a_worker_is_killed_mid_run(tmp_path, scim, redis_url,
                                                                            monkeypatch):
    monkeypatch.setenv("WINNINGTEMP_TOKEN", scim.token)
    scim.faults.latency_ms = 40  # a remote service's pace, so a run lasts long enough to be killed inside
    hosts = write_hosts(tmp_path, scim, redis_url, count=20, people=5)
    config = load_config(hosts, bundled_plugins(("csv", csv_plugin), memory=False))
    env = {**cli_env(WITH_CSV), "WINNINGTEMP_TOKEN": scim.token}
    workers = [subprocess.Popen([HRSYNC, "--config", str(hosts), "worker", "--concurrency", "2"], env=env,
                                stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"worker{i}.log", "w"))
               for i in range(2)]
    try:
        sent = run_cli("--config", str(hosts), "schedule", "--now", plugins=WITH_CSV,
                       env={"WINNINGTEMP_TOKEN": scim.token})
        assert sent.returncode == 0, sent.stderr
        assert len(sent.stdout.split()) == 20

        def running_in(pid: int) -> bool:
            """A run row is 'running' and its connection's lock names the worker's pid."""
            with open_state(config.state, read_only=True) as state:
                running = {r["connection"] for r in state.runs(limit=100) if r["status"] == "running"}
            return any(lock.read_text().startswith(f"pid {pid} ")
                       and any(name in str(lock.relative_to(tmp_path)) for name in running)
                       for lock in tmp_path.rglob("*.lock"))

        victim = workers[0]
        wait_until(lambda: running_in(victim.pid), timeout=30)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        client = redis.Redis.from_url(redis_url)

        def all_done() -> bool:
            with open_state(config.state, read_only=True) as state:
                runs = state.runs(limit=1000)
            served = {r["connection"] for r in runs if r["status"] == "ok"}
            # Nothing left to deliver: no message waits in the queue or unacknowledged by the dead worker.
            return (len(served) == 20 and not any(r["status"] == "running" for r in runs)
                    and client.llen(QUEUE) == 0 and client.hlen("unacked") == 0)

        wait_until(all_done, timeout=60)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
    with open_state(config.state, read_only=True) as state:
        runs = state.runs(limit=1000)
    ok = sorted(r["connection"] for r in runs if r["status"] == "ok")
    assert ok == sorted(config.connections), "every connection has exactly one successful run"
    assert any(r["status"] == "crashed" for r in runs), "the worker was killed in the middle of a run"
    names = [u["userName"] for u in scim.users()]
    assert len(names) == len(set(names)) == 100, "no person was created twice"



@pytest.fixture
def slot_worker(redis_url, memory_config, world):
    """The task's side of a worker, in this process: connection `mem` (memory connectors), a real Redis for the
    lease, quarantine after two stopped runs."""
    config, plugins = memory_config()
    config = dataclasses.replace(config, daemon=DaemonSchema().load({"quarantine_after": 2}))
    return Worker(config, plugins, redis.Redis.from_url(redis_url))


def slot_now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def test_a_slot_delivered_twice_runs_once(slot_worker, world):
    slot = slot_now()
    first = run_slot(slot_worker, "mem", slot, owner="delivery-1")
    again = run_slot(slot_worker, "mem", slot, owner="delivery-2")
    assert (first.action, again.action) == (DONE, DONE)
    assert again.detail == "slot already served by run 1"
    with open_state(slot_worker.config.state, read_only=True) as state:
        assert [r["status"] for r in state.runs("mem")] == ["ok"]
    assert len(world.users) == 20


def test_a_connection_leased_by_another_worker_is_retried_not_run(slot_worker, world):
    slot_worker.redis.set(lease_key(slot_worker.config.celery.queue, "mem"), "other-host:1:task", px=60_000)
    outcome = run_slot(slot_worker, "mem", slot_now(), owner="delivery-1")
    assert outcome == Outcome(RETRY, "another worker holds the connection (other-host:1:task)")
    with open_state(slot_worker.config.state, read_only=True) as state:
        assert state.runs("mem") == []


def test_stopped_runs_are_retried_then_quarantined(slot_worker, world):
    world.fail_read = True
    first = run_slot(slot_worker, "mem", slot_now(), owner="delivery-1")
    second = run_slot(slot_worker, "mem", slot_now(), owner="delivery-1")
    assert first.action == RETRY and second.action == QUARANTINED
    assert second.detail.startswith("2 runs in a row stopped")
    world.fail_read = False
    assert run_slot(slot_worker, "mem", slot_now(), owner="delivery-2") == Outcome(DONE, "not run: paused "
                                                                                         "(hrsync resume)")
    # The lease was released after each attempt: nothing is left for a redelivery to wait for.
    assert slot_worker.redis.get(lease_key(slot_worker.config.celery.queue, "mem")) is None


def test_a_stopped_run_whose_report_was_not_delivered_is_done_as_hrsync_run_exits_3(redis_url, memory_config,
                                                                                    world):
    config, plugins = memory_config(report={"recipients": ["hr@example.com"]})
    with SmtpCapture(refuse={"hr@example.com"}) as smtp:
        smtp_settings = SmtpSchema().load({"host": "127.0.0.1", "port": smtp.port, "security": "none",
                                           "sender": "hrsync@example.com"})
        worker = Worker(dataclasses.replace(config, smtp=smtp_settings,
                                            daemon=DaemonSchema().load({"quarantine_after": 2})),
                        plugins, redis.Redis.from_url(redis_url))
        world.fail_read = True
        first = run_slot(worker, "mem", slot_now(), owner="delivery-1")
        second = run_slot(worker, "mem", slot_now(), owner="delivery-1")
    # `hrsync run` exits 3 for it (the report outranks the stop): done, like every run whose report is undelivered.
    assert first.action == DONE and first.detail.startswith("run 1 stopped; The SMTP server smtp://127.0.0.1")
    assert second.action == QUARANTINED  # a stopped run still counts toward quarantine


def test_a_slot_is_sent_once_however_often_it_is_scheduled(slot_worker, redis_url):
    config = dataclasses.replace(slot_worker.config, celery=CelerySchema().load(
        {"broker": redis_url, "queue": "host-a"}))
    slot = dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC)
    app = make_app(config.celery)
    assert enqueue(app, slot_worker.redis, config, ["mem"], slot) == ["host-a:mem@2026-01-05T02:00:00Z"]
    assert enqueue(app, slot_worker.redis, config, ["mem"], slot) == []  # a second scheduler, or a restart
    assert slot_worker.redis.llen("host-a") == 1


def test_celery_settings_refuse_a_password_in_the_url_and_a_timeout_shorter_than_a_wait():
    with pytest.raises(ValidationError) as info:
        CelerySchema().load({"broker": "redis://:hunter2@redis.internal:6379/0"})
    assert "broker_password" in str(info.value.messages) and "hunter2" not in str(info.value.messages)
    with pytest.raises(ValidationError, match="must exceed lease_seconds"):
        CelerySchema().load({"visibility_timeout": 600, "retry_delay": 60, "retries": 5})


def test_schedule_now_with_the_broker_down_is_a_stopped_run_with_the_broker_named(tmp_path, scim):
    hosts = write_hosts(tmp_path, scim, "redis://127.0.0.1:1/0", count=1, people=1)  # nothing listens on port 1
    sent = run_cli("--config", str(hosts), "schedule", "--now", plugins=WITH_CSV, env={"WINNINGTEMP_TOKEN": scim.token})
    assert sent.returncode == EXIT_STOPPED, sent.stderr
    assert "redis://127.0.0.1:1/0 did not take the runs" in sent.stderr and "Traceback" not in sent.stderr


def test_a_worker_whose_broker_does_not_answer_exits_at_once_non_zero_with_the_broker_named(tmp_path, scim):
    hosts = write_hosts(tmp_path, scim, "redis://127.0.0.1:1/0", count=1, people=1)  # nothing listens on port 1
    started = run_cli("--config", str(hosts), "worker", plugins=WITH_CSV, env={"WINNINGTEMP_TOKEN": scim.token},
                      timeout=60)  # it used to retry for most of an hour, then exit 0
    assert started.returncode == EXIT_STOPPED, started.stderr
    assert ("The Celery broker redis://127.0.0.1:1/0 did not answer (ConnectionError); start it or fix "
            "host.celery.broker" in started.stderr)
