"""Inside one of the daemon's worker processes: load hosts.yaml once, then run the connections the daemon sends.

Data flow: :class:`hrsync.service.workers.WorkerPool` spawns a process at :func:`serve` with a picklable ``work``
factory (:func:`worker_runs` bound to the daemon's hosts.yaml text) → ``work()`` loads the configuration in this
process and returns the function running one connection → each ``(job id, connection)`` that arrives over the pipe
runs in one of this process's threads (runs wait on the network most of the time) → its outcome, or the traceback
of what it raised, goes back over the pipe; log records go to the daemon over a queue.

A worker that sees SIGTERM/SIGINT, or loses its daemon (its pipe closes), takes no more runs and lets its runs stop
after the writes in flight; it does not hold the daemon's lock, but each run holds its connection's, so an orphan
never runs beside a new daemon. SIGHUP is the daemon's: a worker keeps the configuration it started with.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing.connection
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..config.load import parse_config
from ..config.yaml_text import load_yaml
from ..errors import HrsyncError, LockedError, crash_site
from ..registry import Plugins
from ..sync.engine import RunOptions, tune_collector

log = logging.getLogger("hrsync.service.worker_process")

#: Called once in each worker process; returns ``run(name, should_stop)``, whose result must pickle.
Work = Callable[[], Callable[[str, Callable[[], bool]], Any]]


class _Asked(Exception):
    """SIGTERM/SIGINT in a worker: take no more runs."""


def worker_runs(text: str, config_path: Path, plugins_factory: Callable[[], Plugins],
                runner: Callable) -> Callable[[str, Callable[[], bool]], tuple[str, int, str]]:
    """In a worker process: load the daemon's hosts.yaml text (resolving the secrets registers them to mask), and
    return what runs a connection. The text, not the file: an edit the daemon has not reloaded does not count."""
    plugins = plugins_factory()
    config = parse_config(load_yaml(text), plugins, path=config_path)

    def run(name: str, should_stop: Callable[[], bool]) -> tuple[str, int, str]:
        """One run: its outcome, and a line (with its level) for the daemon's log."""
        try:
            result, delivery = runner(config, name, plugins, RunOptions(should_stop=should_stop))
        except LockedError as exc:  # `hrsync run` by hand holds the connection: like an overlap, not a failure
            return "skipped", logging.WARNING, f"slot skipped: {exc}"
        except Exception as exc:  # told by type and place: its text may quote a record (--debug logs it)
            log.error("%s: run crashed (%s)", name, crash_site(exc))
            log.debug("%s: the crash", name, exc_info=True)
            return "crashed", logging.ERROR, ""
        counts = ", ".join(f"{k} {v}" for k, v in result.report.counts.items() if v) or "no changes"
        return (result.status, logging.INFO,
                f"run {result.run_id} finished: {result.status} ({counts}); {delivery.detail}")

    return run


def _why(exc: Exception) -> str:
    """Why a worker could not start, for the daemon's log: hrsync's errors are written for people; another
    exception (a plugin's bug) is told by its type and place, since its text may quote a record."""
    if isinstance(exc, _Asked):
        return "asked to stop"
    return f"{type(exc).__name__}: {exc}" if isinstance(exc, HrsyncError) else crash_site(exc)


def serve(conn: multiprocessing.connection.Connection, work: Work, threads: int, stop_flag: Any, logs: Any,
          level: int, levels: dict[str, int]) -> None:
    """A worker process: run each connection the daemon sends in a thread, send back each outcome."""
    tune_collector()  # a process that runs syncs, set up as the hrsync command is (spawned: nothing is inherited)
    logging.root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    logging.root.setLevel(level)
    for name, named_level in levels.items():
        logging.getLogger(name).setLevel(named_level)
    asked = threading.Event()

    def on_signal(*_: Any) -> None:
        if not asked.is_set():
            asked.set()
            raise _Asked  # out of the wait for more runs; the runs in flight finish their writes

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the daemon reloads; this worker keeps its configuration

    def should_stop() -> bool:
        return bool(stop_flag.value) or asked.is_set()

    sending = threading.Lock()
    try:
        run_one = work()
    except Exception as exc:  # noqa: BLE001 - the daemon fails the runs sent here with it
        conn.send((None, False, _why(exc)))
        sys.exit(1)  # said through the daemon's log, whose handlers mask secrets; not as a traceback on stderr
    conn.send((None, True, ""))  # ready: a death from now on is during runs

    def run(job_id: int, name: str) -> None:
        try:
            outcome = (job_id, True, run_one(name, should_stop))
        except BaseException:  # noqa: BLE001 - the daemon decides; the traceback travels as text
            outcome = (job_id, False, traceback.format_exc())
        with sending:
            conn.send(outcome)

    with ThreadPoolExecutor(threads, thread_name_prefix="hrsync-run") as runs:
        try:
            while (message := conn.recv()) is not None:
                runs.submit(run, *message)
        except (EOFError, OSError):  # the daemon is gone: stop after the writes in flight
            asked.set()
        except _Asked:
            pass
