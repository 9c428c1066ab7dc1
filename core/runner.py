"""One complete sync of one connection, as the CLI and the daemon run it: run, then report.

Data flow: :func:`sync` runs the engine (:func:`hrsync.engine.run_connection`), then
delivers the stored report (:func:`hrsync.mailer.deliver`) - also, and especially,
when the run stopped at run level - records how it was delivered with the run, and
forgets run history older than ``host.keep_days``. A report SMTP would not take is in
the outbox; the run's outcome is unchanged, and the caller decides the exit code.
"""

from __future__ import annotations

import datetime as dt
import logging

from .config import Config
from .engine import RunOptions, RunResult, run_connection
from .mailer import Delivery, deliver
from .registry import Plugins
from .state import open_state

log = logging.getLogger("hrsync.runner")


def sync(config: Config, name: str, plugins: Plugins, options: RunOptions | None = None) -> tuple[RunResult, Delivery]:
    options = options or RunOptions()
    result = run_connection(config, name, plugins, options)
    if options.dry_run:
        return result, Delivery("skipped", "dry run: no report is sent")
    conn = config.connection(name)
    delivery = deliver(config, result.report, conn.report["recipients"], conn.report["send"])
    if not delivery.delivered:
        log.error("%s: report of run %s not delivered: %s", name, result.run_id, delivery.detail)
    if result.run_id is not None:
        record_delivery(config, result.run_id, delivery)
    log.info("%s: run %s %s; %s", name, result.run_id, result.status, delivery.detail)
    if config.keep_days:
        prune_history(config)
    return result, delivery


def record_delivery(config: Config, run_id: int, delivery: Delivery) -> None:
    state = open_state(config.state, busy_timeout=config.busy_timeout)
    try:
        state.record_delivery(run_id, delivery.how, delivery.detail)
    finally:
        state.close()


def prune_history(config: Config, days: int | None = None) -> int:
    """Forget run history older than ``days`` (default: ``host.keep_days``); returns runs deleted."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=config.keep_days if days is None else days)
    state = open_state(config.state, busy_timeout=config.busy_timeout)
    try:
        deleted = state.prune(cutoff)
    finally:
        state.close()
    if deleted:
        log.info("pruned %d run(s) older than %s", deleted, cutoff.date())
    return deleted
