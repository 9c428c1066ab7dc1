"""The host daemon: every enabled connection on its schedule, unattended.

Data flow: hosts.yaml → :func:`build_jobs` puts one job per enabled, unpaused connection on a ``schedule.Scheduler``
of our own (daily at HH:MM in the host's time zone, :mod:`.slots`, or every N hours) → each due job goes to the
worker processes of :mod:`.workers` (at most ``max_concurrent`` runs at once over ``processes`` processes, never
the same connection twice), where :func:`hrsync.service.runner.run_and_report` runs it → the run and its report are
recorded by the engine and the mailer; the outcome comes back to the daemon, which logs it and decides on quarantine.

Failures never stop the daemon: a job's exception is logged with its connection; a killed worker process is replaced
and its runs count as crashed; a worker that cannot start fails the runs sent to it, which never began. After
``quarantine_after`` consecutive run-level failures the connection is paused, with one alert report, until its config
changes or an operator runs ``hrsync resume``. At start, a connection whose last successful run is older than its
interval runs once at once (catch-up). SIGTERM/SIGINT stop scheduling and let running syncs finish the person in
flight; SIGHUP reloads hosts.yaml, keeping the old config when the new one is invalid. With ``host.metrics_file`` set,
the metrics of every connection are written there at start, on SIGHUP, after each run and after a pause
(:mod:`.metrics`). One daemon per state: a second one is refused when it is made, before it lifts a pause or writes
the metrics file.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import pickle
import signal
import threading
import zoneinfo
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import schedule

from ..config.load import Config, ConnectionConfig, load_config
from ..errors import EXIT_STOPPED, ConfigError, PluginError
from ..registry import Plugins, load_plugins
from ..state.locking import hold_lock
from ..state.places import StateFiles, daemon_lock, open_connection_state
from .metrics import write_metrics
from .quarantine import config_fingerprint, quarantine_if_due
from .runner import run_and_report
from .slots import DailySlot
from .worker_process import worker_runs
from .workers import WorkerLost, WorkerNotStarted, WorkerPool, usable_cores

log = logging.getLogger("hrsync.service.daemon")


def interval(conn: ConnectionConfig) -> dt.timedelta:
    return dt.timedelta(hours=conn.schedule.every_hours) if conn.schedule.every_hours else dt.timedelta(days=1)


def build_jobs(scheduler: schedule.Scheduler, config: Config, callback: Callable[[str], Any],
               skip: set[str] = frozenset()) -> dict[str, schedule.Job]:
    """Schedule every enabled connection not in ``skip``; returns the jobs by connection."""
    jobs = {}
    for name, conn in sorted(config.connections.items()):
        if not conn.enabled or name in skip:
            continue
        if conn.schedule.every_hours:
            job = scheduler.every(conn.schedule.every_hours).hours.do(callback, name)
        else:
            job = DailySlot(scheduler, conn.schedule.daily_at, config.timezone).do(callback, name)
        jobs[name] = job.tag(name)
    return jobs


class Daemon:
    def __init__(self, config_path: str | Path, *, plugins_factory: Callable[[], Plugins] = load_plugins,
                 runner=run_and_report) -> None:
        self.config_path = Path(config_path)
        self.plugins_factory = plugins_factory
        self.runner = runner
        self.plugins = plugins_factory()
        self.config = load_config(self.config_path, self.plugins)
        settings = self.config.daemon
        self.shutdown_timeout = settings.shutdown_timeout
        self.scheduler = schedule.Scheduler()
        self.pool = ThreadPoolExecutor(max_workers=settings.max_concurrent, thread_name_prefix="hrsync-wait")
        self.workers = WorkerPool(self._worker_setup(), processes=settings.processes or usable_cores(),
                                  max_concurrent=settings.max_concurrent)
        self.running: dict[str, Future] = {}
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.lock = threading.RLock()
        self.jobs: dict[str, schedule.Job] = {}
        # One daemon per state: refused here, before the pauses it would lift or the metrics file it would write.
        self._held = contextlib.ExitStack()
        self._held.enter_context(_daemon_lock(self.config))
        try:
            self._reschedule()
        except BaseException:
            self._held.close()
            raise

    def _worker_setup(self) -> functools.partial:
        """What a worker process starts from: the text of hosts.yaml as this daemon just loaded it."""
        text = self.config_path.read_text(encoding="utf-8")
        work = functools.partial(worker_runs, text, self.config_path, self.plugins_factory, self.runner)
        try:  # spawned workers receive it pickled: refused here, not in a thread no run would ever hear from
            pickle.dumps(work)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise PluginError(f"The daemon's worker processes cannot receive its plugins_factory or runner ({exc}): "
                              "give the daemon module-level functions, not lambdas or local ones.") from None
        return work

    # -- scheduling ---------------------------------------------------------------------

    def _reschedule(self) -> None:
        self.scheduler.clear()
        paused = self._sync_pauses()
        self.jobs = build_jobs(self.scheduler, self.config, self.submit, skip=paused)
        for name, job in self.jobs.items():
            log.info("%s: scheduled, next run %s", name, job.next_run)
        for name in sorted(paused):
            log.warning("%s: paused after repeated failures; not scheduled (hrsync resume %s)", name, name)
        write_metrics(self.config)  # at start and on SIGHUP: monitoring sees the connections and their pauses

    def _sync_pauses(self) -> set[str]:
        """Paused connections; a pause ends by itself when the connection's config changed."""
        with StateFiles(self.config, read_only=False) as files:
            paused = set()
            for row in files.pauses():
                conn = self.config.connections.get(row["connection"])
                if conn is not None and config_fingerprint(conn) != row["config_hash"]:
                    files.of(row["connection"]).resume(row["connection"])
                    log.info("%s: config changed; pause lifted", row["connection"])
                else:
                    paused.add(row["connection"])
            return paused

    def reload(self) -> bool:
        """Load hosts.yaml again; on errors keep the running config and log every problem."""
        try:
            plugins = self.plugins_factory()
            config = load_config(self.config_path, plugins)
        except ConfigError as exc:
            for line in exc.lines:
                log.error("reload rejected: %s", line)
            log.error("reload rejected: keeping the previous configuration")
            return False
        with self.lock:
            self.plugins, self.config = plugins, config
            self._reschedule()
            self.workers.renew(self._worker_setup())
        log.info("configuration reloaded from %s", self.config_path)
        return True

    def catch_up(self) -> list[str]:
        """Run at once every connection whose last successful run is older than its interval."""
        now = dt.datetime.now(dt.UTC)
        due = []
        with StateFiles(self.config) as files:
            for name in self.jobs:
                last = files.of(name).last_successful_run(name)
                started = dt.datetime.fromisoformat(last["started_at"]) if last else None
                if started is None or now - started > interval(self.config.connections[name]):
                    due.append(name)
        for name in due:
            log.info("%s: last successful run is older than its interval; catching up now", name)
            self.submit(name)
        return due

    def submit(self, name: str) -> Future | None:
        """Start one run of ``name`` unless it is still running or the daemon is stopping."""
        with self.lock:
            if self.stopping.is_set():
                return None
            current = self.running.get(name)
            if current is not None and not current.done():
                log.warning("%s: still running from its previous slot; this slot is skipped", name)
                return None
            log.info("%s: starting run", name)
            future = self.pool.submit(self._run, name, self.config, self.plugins)
            self.running[name] = future
            return future

    # -- one job ---------------------------------------------------------------------------

    def _run(self, name: str, config: Config, plugins: Plugins) -> str:
        try:
            status, level, line = self.workers.submit(name).result()
        except WorkerNotStarted as exc:  # no run began: nothing in history to mark or to count
            log.error("%s: run crashed: %s", name, exc)
            return "crashed"
        except WorkerLost as exc:
            status, level, line = "crashed", logging.ERROR, f"run crashed: {exc}"
            with open_connection_state(config, name) as state, state.lock(name):  # the dead worker's lock is free
                state.mark_crashed_runs(name)  # its run row said "running": quarantine counts it as it is
        if line:
            log.log(level, "%s: %s", name, line)
        if status in ("stopped", "crashed"):
            self._maybe_quarantine(name, config, plugins)
        return status

    def _maybe_quarantine(self, name: str, config: Config, plugins: Plugins) -> None:
        with open_connection_state(config, name) as state:
            if quarantine_if_due(state, config, plugins, name) is None:
                return
        with self.lock:
            job = self.jobs.pop(name, None)
            if job is not None:
                self.scheduler.cancel_job(job)

    # -- main loop -------------------------------------------------------------------------

    def tick(self) -> None:
        with self.lock:
            self.scheduler.run_pending()

    def stop(self, *_: Any) -> None:
        if not self.stopping.is_set():
            log.info("stopping: no new runs; running syncs finish the writes in flight")
        self.stopping.set()
        self.workers.stop_runs()
        self.wake.set()

    def serve(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGHUP, lambda *_: self.reload())
        log.info("daemon started with %d scheduled connection(s), time zone %s", len(self.jobs),
                 self.config.timezone)
        self.catch_up()
        while not self.stopping.is_set():
            self.tick()
            idle = self.scheduler.idle_seconds
            self.wake.wait(timeout=max(0.5, min(idle if idle is not None else 30.0, 30.0)))
            self.wake.clear()
        return self.shutdown()

    def shutdown(self) -> int:
        self.scheduler.clear()
        with self.lock:
            pending = [f for f in self.running.values() if not f.done()]
        done = threading.Event()
        threading.Thread(target=lambda: (self.pool.shutdown(wait=True), self.workers.close(), done.set()),
                         daemon=True).start()
        finished = done.wait(self.shutdown_timeout)
        self._held.close()  # the runs still going hold their connections' locks
        if not finished:
            log.error("stopping: %d run(s) did not finish within %ss", len(pending), self.shutdown_timeout)
            return EXIT_STOPPED
        log.info("daemon stopped")
        return 0


def _daemon_lock(config: Config) -> contextlib.AbstractContextManager:
    """The lock that says a daemon serves this host's state (one daemon per state file or folder)."""
    lock_path, where = daemon_lock(config), config.state_dir or config.state
    lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return hold_lock(lock_path, f"Another hrsync daemon is already running for {where} ({{holder}}); "
                                "stop it first (or give this host its own host.state or host.state_dir).")


def connection_status(config: Config) -> list[dict[str, Any]]:
    """Per connection: enabled, paused, last run, next scheduled run and the runs whose report was not
    delivered (for ``hrsync status``)."""
    scheduler = schedule.Scheduler()
    files = StateFiles(config)
    try:
        paused = {row["connection"]: row for row in files.pauses()}
        jobs = build_jobs(scheduler, config, lambda name: None, skip=set(paused))
        tz = zoneinfo.ZoneInfo(config.timezone)
        rows = []
        for name, conn in sorted(config.connections.items()):
            runs = files.of(name).runs(name, limit=1)
            last = runs[0] if runs else None
            job = jobs.get(name)
            rows.append({
                "connection": name, "enabled": conn.enabled, "paused": name in paused,
                "paused_reason": paused[name]["reason"] if name in paused else None,
                "last_run": None if last is None else {"id": last["id"], "status": last["status"],
                                                      "started_at": last["started_at"],
                                                      "ended_at": last["ended_at"], "delivery": last["delivery"],
                                                      "delivery_detail": last["delivery_detail"]},
                "next_run": None if job is None or job.next_run is None
                else job.next_run.astimezone(tz).isoformat(timespec="minutes"),
                "undelivered": files.of(name).undelivered(name),
            })
        return rows
    finally:
        files.close()
