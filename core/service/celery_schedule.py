"""``hrsync schedule``: sends each connection's runs to its host's Celery queue at its time.

Data flow: hosts.yaml → :func:`hrsync.service.daemon.build_jobs` (the daemon's own schedule: daily at HH:MM in
the host's time zone, or every N hours) → at each slot :func:`enqueue` sends ``hrsync.run_connection`` with
the slot's task id (:func:`hrsync.service.celery_app.task_id`) to ``host.celery.queue`` → a worker on that
host runs it (:mod:`.celery_app`). A Redis key per task id (kept a day) makes a second scheduler, or a
restarted one, send a slot at most once; the worker's check of the state makes a duplicate harmless anyway.
The scheduler reads no state: it may run on any machine that reaches the broker.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

import redis
import schedule
from celery import Celery
from kombu.exceptions import OperationalError

from ..config.load import Config
from .celery_app import TASK, task_id
from .daemon import build_jobs

log = logging.getLogger("hrsync.service.schedule")

#: Seconds a sent slot is remembered: longer than any delay between two schedulers' clocks.
SENT_KEPT = 86400


def enqueue(app: Celery, client: redis.Redis, config: Config, names: list[str], slot: dt.datetime) -> list[str]:
    """Send one run of each connection in ``names`` for ``slot``; the task ids sent (a slot sent before: none)."""
    queue, sent = config.celery.queue, []
    for name in names:
        key = task_id(queue, name, slot)
        if not client.set(f"hrsync:{queue}:sent:{key}", "1", nx=True, ex=SENT_KEPT):
            log.info("%s: slot %s was sent already", name, key)
            continue
        app.send_task(TASK, args=[name, slot.astimezone(dt.UTC).isoformat(timespec="seconds")], task_id=key,
                      queue=queue)
        log.info("%s: sent to queue %s as %s", name, queue, key)
        sent.append(key)
    return sent


def due_now(config: Config, names: list[str] | None = None) -> list[str]:
    """The enabled connections among ``names`` (default: all), checked to exist."""
    chosen = names or sorted(config.connections)
    return [name for name in chosen if config.connection(name).enabled]


def serve(app: Celery, client: redis.Redis, config: Config, stop: threading.Event) -> None:
    """Send every enabled connection at its slots until ``stop`` is set."""
    scheduler = schedule.Scheduler()

    def send(name: str) -> None:
        # The slot is the minute it fell due, so two schedulers (or a restart) name it alike.
        slot = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        try:
            enqueue(app, client, config, [name], slot)
        except (redis.RedisError, OperationalError, OSError) as exc:  # the broker is away: the next slot
            log.error("%s: slot %s not sent: %s", name, slot.isoformat(), exc)

    jobs = build_jobs(scheduler, config, send)
    for name, job in jobs.items():
        log.info("%s: scheduled on queue %s, next run %s", name, config.celery.queue, job.next_run)
    while not stop.is_set():
        scheduler.run_pending()
        idle = scheduler.idle_seconds
        stop.wait(max(0.5, min(idle if idle is not None else 30.0, 30.0)))
