"""One complete sync of one connection, as the CLI and the daemon run it: run, then report.

Data flow: :func:`run_and_report` runs the engine (:func:`hrsync.sync.engine.sync_connection`), then
delivers the stored report (:func:`hrsync.report.mail.deliver`) - also, and especially,
when the run stopped at run level - records how it was delivered with the run and which
conditions it said in full (said once, then quietly), forgets run history older than ``host.keep_days``,
and writes the metrics file (:mod:`.metrics`). A report SMTP would not take is in the outbox; the run's
outcome is unchanged, and :func:`run_exit_code` gives the one exit code of both (``hrsync run``'s; a Celery
task's outcome follows it).
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3

from ..config.load import Config
from ..errors import EXIT_REPORT
from ..registry import Plugins
from ..report.mail import Delivery, deliver
from ..results import OK, PARTIAL
from ..state.places import StateFiles, open_connection_state
from ..state.storage import storage_error
from ..state.store import State
from ..sync.engine import RunOptions, RunResult, sync_connection
from .metrics import write_metrics

log = logging.getLogger("hrsync.service.runner")


def run_and_report(config: Config, name: str, plugins: Plugins,
                   options: RunOptions | None = None) -> tuple[RunResult, Delivery]:
    """Sync ``name`` now, deliver its report, record the delivery and prune old history (one state open)."""
    options = options or RunOptions()
    try:
        outcome = _run_and_report(config, name, plugins, options)
    except (sqlite3.Error, OSError) as exc:  # the disk refused a write: say which path and what to do
        refused = storage_error(exc, config.state_file(name))
        if refused is None:
            raise
        raise refused from None
    if not options.dry_run:
        write_metrics(config)
    return outcome


def _run_and_report(config: Config, name: str, plugins: Plugins, options: RunOptions) -> tuple[RunResult, Delivery]:
    with open_connection_state(config, name, read_only=options.dry_run) as state:
        result = sync_connection(config, name, plugins, options, state=state)
        if options.dry_run:
            return result, Delivery("skipped", "dry run: no report is sent")
        conn = config.connection(name)
        delivery = deliver(config, result.report, conn.report.recipients, conn.report.send)
        if not delivery.delivered:
            log.error("%s: report of run %s not delivered: %s", name, result.run_id, delivery.detail)
        if result.run_id is not None:
            state.record_delivery(result.run_id, delivery.how, delivery.detail)
            # A condition is said in full until a report that said it reached HR (then one quiet line).
            state.remember_said(name, result.run_id, result.report.warnings, complete=result.status in (OK, PARTIAL),
                                delivered=delivery.how in ("sent", "outbox"))
        log.info("%s: run %s %s; %s", name, result.run_id, result.status, delivery.detail)
        if config.keep_days:  # after the run's lock; only this connection's runs, in short transactions
            prune_history(config, state=state, connection=name)
    return result, delivery


def run_exit_code(run_code: int, delivered: bool) -> int:
    """A run's exit code: its own outcome (0, 1 or 2), unless its report did not arrive: the report is how HR
    learns of everything else, so an undelivered one (3) is never hidden behind attention items or a stop."""
    return run_code if delivered else EXIT_REPORT


def prune_history(config: Config, days: int | None = None, *, state: State | None = None,
                  connection: str | None = None) -> int:
    """Forget run history older than ``days`` (default: ``host.keep_days``), of ``connection`` or of every
    connection; returns runs deleted."""
    if state is None:
        with StateFiles(config, read_only=False) as files:
            return sum(prune_history(config, days, state=each, connection=connection or name)
                       for name, each in files.every())
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=config.keep_days if days is None else days)
    deleted = state.prune(cutoff, connection)
    if deleted:
        log.info("pruned %d run(s) older than %s", deleted, cutoff.date())
    return deleted
