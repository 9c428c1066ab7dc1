"""Runs on Celery workers: one task runs one connection's scheduled slot, in the worker's process.

Data flow: ``hrsync schedule`` (:mod:`.celery_schedule`) sends ``hrsync.run_connection(connection, slot)`` to
the host's queue (``host.celery.queue``: a connection's state lives on its host, so its runs go there) with
the task id ``QUEUE:CONNECTION@SLOT`` → an ``hrsync worker`` on that host takes it → :func:`run_slot` takes the
connection's Redis lease (:mod:`.lease`), skips a paused connection or a slot a successful run already
served (the idempotency key is the slot: a redelivered or twice-sent task finds the run in the state), then
runs it like ``hrsync run NAME`` (:func:`hrsync.service.runner.run_and_report`, under the state's connection
lock) → :data:`ON_EXIT` maps the exit code ``hrsync run NAME`` would have ended with to done or retry (with a
doubling delay); after ``host.daemon.quarantine_after`` stopped runs in a row, quarantine (:mod:`.quarantine`).

Delivery is at least once: the message is acknowledged after the run (``acks_late``) and requeued, not
acknowledged, when the process running it is lost (``reject_on_worker_lost``); a worker killed mid-run leaves
it unacknowledged, and Redis hands it to another worker after ``visibility_timeout``, which must exceed the
longest run. The killed run is
marked crashed by the next one, which finishes its work (the engine's intents repair writes in flight).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
from dataclasses import dataclass

import redis
from celery import Celery, Task

from ..config.celery import CeleryConfig
from ..config.load import Config
from ..errors import EXIT_OK, EXIT_RECORDS, EXIT_REPORT, EXIT_STOPPED, RunError
from ..registry import Plugins
from ..state.places import open_connection_state
from ..state.storage import open_private
from ..state.store import open_state
from ..sync.engine import RunOptions
from .lease import Lease, lease_key
from .quarantine import is_paused, quarantine_if_due
from .runner import run_and_report, run_exit_code

log = logging.getLogger("hrsync.service.celery")

TASK = "hrsync.run_connection"
DONE, RETRY, QUARANTINED = "done", "retry", "quarantined"

#: What the exit code of ``hrsync run NAME`` (:func:`~hrsync.service.runner.run_exit_code`) means for the run's task.
#: 1: the run finished and the people who need attention are tried again by the next slot; 2: the run stopped
#: before (more) writes - a network fault may pass, so it is tried again, and quarantine ends the retries of a
#: fault that does not pass (credentials, a guard); 3: the report is in the outbox, and it outranks 1 and 2 as
#: in ``hrsync run``: a retry would not send it, only add another undelivered report.
ON_EXIT = {EXIT_OK: DONE, EXIT_RECORDS: DONE, EXIT_REPORT: DONE, EXIT_STOPPED: RETRY}


def task_id(queue: str, connection: str, slot: dt.datetime) -> str:
    """The idempotency key of one scheduled run: the host's queue, the connection and the slot (UTC, seconds)."""
    return f"{queue}:{connection}@{slot.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"


def make_app(settings: CeleryConfig) -> Celery:
    """The Celery app of hrsync's workers and schedulers, configured from ``host.celery``."""
    app = Celery("hrsync", broker=settings.broker_url(), set_as_current=False)
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True,
        # One message reserved per running slot: a message waiting in a busy worker's buffer would pass its
        # visibility timeout and be handed to a second worker.
        worker_prefetch_multiplier=1, task_default_queue=settings.queue, task_ignore_result=True,
        task_serializer="json", accept_content=["json"], enable_utc=True, timezone="UTC",
        # A worker whose broker does not answer when it starts exits at once, non-zero, rather than retrying for most
        # of an hour: its supervisor (systemd) sees it and restarts it. A broker lost later is waited for.
        broker_connection_retry_on_startup=False, worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,  # hrsync logs through logging; its last word after the worker must reach stderr
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            # How often a worker looks for messages a lost worker left unacknowledged past the timeout.
            "unacked_restore_interval": max(1.0, min(60.0, settings.visibility_timeout / 4)),
            "unacked_restore_throttle": 1,
        },
    )
    return app


@dataclass
class Worker:
    """What the task needs in a worker process, loaded once when the worker starts."""

    config: Config
    plugins: Plugins
    redis: redis.Redis


@dataclass(frozen=True)
class Outcome:
    action: str
    detail: str


def run_slot(worker: Worker, connection: str, slot: str, *, owner: str) -> Outcome:
    """Run ``connection`` for ``slot`` (ISO 8601) unless it is paused, disabled or the slot is served."""
    config = worker.config
    conn = config.connections.get(connection)
    if conn is None or not conn.enabled:
        return Outcome(DONE, f"not run: {'disabled' if conn else 'not'} in {config.path}")
    lease = Lease(worker.redis, lease_key(config.celery.queue, connection), config.celery.lease_seconds, owner=owner)
    if not lease.acquire():
        return Outcome(RETRY, f"another worker holds the connection ({lease.holder() or 'lease just released'})")
    with lease:
        try:
            with open_connection_state(config, connection) as state:
                if is_paused(state, config, connection):
                    return Outcome(DONE, "not run: paused (hrsync resume)")
                last = state.last_successful_run(connection)
            if last and dt.datetime.fromisoformat(last["started_at"]) >= dt.datetime.fromisoformat(slot):
                return Outcome(DONE, f"slot already served by run {last['id']}")
            result, delivery = run_and_report(config, connection, worker.plugins,
                                              RunOptions(should_stop=lease.lost.is_set))
        except RunError as exc:
            # LockedError: `hrsync run` by hand (or a daemon) holds the connection on this host, or another
            # program the state; StorageError: the state refused a write - a full disk may be cleared.
            return Outcome(RETRY, str(exc))
        action = ON_EXIT[run_exit_code(result.exit_code, delivery.delivered)]
        detail = f"run {result.run_id} {result.status}; {delivery.detail}"
        if result.exit_code == EXIT_STOPPED:  # it counts toward quarantine whatever became of its report
            with open_connection_state(config, connection) as state:
                reason = quarantine_if_due(state, config, worker.plugins, connection)
            if reason is not None:
                return Outcome(QUARANTINED, reason)
        return Outcome(action, detail)


def register(app: Celery, worker: Worker) -> Task:
    """Add the run task to ``app``, bound to ``worker``'s config and plugins."""
    settings = worker.config.celery

    @app.task(name=TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=settings.retries)
    def run_connection(self: Task, connection: str, slot: str) -> str:
        outcome = run_slot(worker, connection, slot, owner=self.request.id)
        log.info("%s: slot %s: %s (%s)", connection, slot, outcome.action, outcome.detail)
        if outcome.action != RETRY:
            return outcome.action
        if self.request.retries >= settings.retries:
            log.error("%s: slot %s given up after %d retries; the next slot runs it again", connection, slot,
                      settings.retries)
            return outcome.action
        raise self.retry(countdown=settings.retry_delay * 2 ** self.request.retries)

    return run_connection


def _prepare_state(config: Config) -> None:
    """Create or upgrade the state before taking runs, one worker at a time: workers starting together on a
    new host would otherwise race to create its tables."""
    if config.state_dir is not None:  # a file per connection, created by its first run under the lease
        config.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return
    config.state.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(open_private(config.state.with_name(config.state.name + ".workers.lock"), os.O_RDWR)) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # blocking: the other worker's set-up takes a moment
        open_state(config.state, busy_timeout=config.busy_timeout).close()


def start_worker(config: Config, plugins: Plugins, *, concurrency: int, events: bool, log_level: str) -> None:
    """Consume this host's queue until stopped (SIGTERM: a warm shutdown lets the running slots finish); a worker
    that stops on a failure (its broker does not answer at start, say) raises a RunError saying why."""
    _prepare_state(config)
    app = make_app(config.celery)
    client = redis.Redis.from_url(config.celery.broker_url())
    register(app, Worker(config, plugins, client))
    # Threads, not prefork children: the runs wait on HTTP, and a killed worker takes its runs with it (a
    # prefork child would outlive its killed parent and go on writing while the message is redelivered).
    argv = ["worker", "--queues", config.celery.queue, "--pool", "threads", "--concurrency", str(concurrency),
            "--hostname", f"hrsync.{config.celery.queue}.{os.getpid()}@%h", "--loglevel", log_level,
            "--without-mingle", "--without-gossip"]
    from celery.bin.celery import celery as celery_command  # the command line: only a worker needs it

    # Celery's command itself: app.worker_main drops the exit code it returns.
    code = celery_command.main(args=[*argv, "--task-events"] if events else argv, standalone_mode=False,
                               default_map={"app": app})
    if code:
        raise _stopped(config.celery, client, code)


def _stopped(settings: CeleryConfig, client: redis.Redis, code: int) -> RunError:
    """Why the worker stopped with exit code ``code``: its broker, when that does not answer, or Celery's log."""
    try:
        client.ping()
    except redis.RedisError as exc:  # the type only: the text may carry the URL
        return RunError(f"The Celery broker {settings.broker} did not answer ({type(exc).__name__}); start it or fix "
                        "host.celery.broker (and broker_password), then start the worker again.")
    return RunError(f"The Celery worker of queue {settings.queue} stopped with exit code {code}; the lines above "
                    "say why.")
