"""``hrsync worker`` and ``hrsync schedule``: connections run on Celery workers, beyond one host.

Both need the ``celery`` extra (``pip install 'hrsync[celery]'``); without it they say so, and the other
commands never import Celery. The worker runs :mod:`hrsync.service.celery_app`'s task; the scheduler sends
each connection's slots to its host's queue (:mod:`hrsync.service.celery_schedule`). docs/scaling.md says
when to move from the daemon to workers and how to route, run and watch them.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import signal
import threading
from types import ModuleType

import click

from ..errors import HrsyncError, RunError
from ..registry import load_plugins
from .common import HostTimeFormatter, load_for, user_errors


def _celery_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"hrsync.service.{name}")
    except ImportError as exc:
        if exc.name not in ("celery", "kombu", "redis"):
            raise
        raise HrsyncError("Celery is not installed: pip install 'hrsync[celery]' (Celery with Redis).") from None


@click.command()
@click.option("--concurrency", "-c", default=4, show_default=True, type=click.IntRange(1, 256),
              help="Connections this worker runs at the same time (threads: the runs wait on the network).")
@click.option("--events", is_flag=True, help="Send task events, for Flower or `celery events`.")
@click.pass_context
@user_errors
def worker(ctx: click.Context, concurrency: int, events: bool) -> None:
    """Run connections sent to this host's queue (host.celery.queue) until SIGTERM (a warm shutdown)."""
    celery_app = _celery_module("celery_app")
    plugins = load_plugins()
    config = load_for(ctx, plugins)
    HostTimeFormatter.timezone = config.timezone
    level = logging.getLevelName(logging.getLogger().level)
    celery_app.start_worker(config, plugins, concurrency=concurrency, events=events, log_level=level)


@click.command()
@click.option("--now", "now", is_flag=True, help="Send the connections once, now, and exit.")
@click.argument("connections", nargs=-1)
@click.pass_context
@user_errors
def schedule(ctx: click.Context, now: bool, connections: tuple[str, ...]) -> None:
    """Send every enabled connection's runs to its host's queue at its schedule (--now: once, at once)."""
    celery_app, scheduling = _celery_module("celery_app"), _celery_module("celery_schedule")
    import kombu.exceptions  # installed with celery
    import redis  # installed with celery[redis]

    config = load_for(ctx, load_plugins())
    HostTimeFormatter.timezone = config.timezone
    app = celery_app.make_app(config.celery)
    client = redis.Redis.from_url(config.celery.broker_url())
    names = scheduling.due_now(config, list(connections) or None)
    if now:
        slot = dt.datetime.now(dt.UTC).replace(microsecond=0)
        try:
            for key in scheduling.enqueue(app, client, config, names, slot):
                click.echo(key)
        except (redis.RedisError, kombu.exceptions.OperationalError, OSError) as exc:
            raise RunError(f"The Celery broker {config.celery.broker} did not take the runs "
                           f"({type(exc).__name__}); start it or fix host.celery.broker, then send them "
                           "again.") from None
        return
    if connections:
        raise click.UsageError("Name connections only with --now; the schedule sends every enabled one.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scheduling.serve(app, client, config, stop)
