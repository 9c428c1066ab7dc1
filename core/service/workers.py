"""The daemon's worker processes: connections run on every core of the host, not in threads of one process.

Data flow: :class:`hrsync.service.daemon.Daemon` submits a connection's name to :class:`WorkerPool` → the pool hands
it to the least busy of up to ``processes`` worker processes over that worker's pipe → the worker
(:mod:`.worker_process`) runs it in one of its threads and sends the outcome back → the pool resolves the run's
Future in the daemon. The workers' log records travel to the daemon's log.

Workers are spawned, not forked: a forked child would inherit SQLite's bookkeeping of the daemon's open state
connections (and think it holds their locks) - a corrupt state file. A worker starts from ``work()``, a picklable
factory that loads hosts.yaml and returns the function running one connection. A worker process that dies (SIGKILL,
the out-of-memory killer) fails the runs it held with :class:`WorkerLost` and is replaced; the next run of such a
connection finds its run unfinished and recovers it, as after any crash. A worker that cannot start (no process
could be made, or it ended before it said it was ready, with why if it could) fails the runs sent to it with
:class:`WorkerNotStarted` and is not replaced: the next run that needs a worker starts one. After a reload the
daemon retires the workers: they finish their runs and exit, and new ones load the new configuration.
"""

from __future__ import annotations

import itertools
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..errors import HrsyncError
from .worker_process import Work, serve

log = logging.getLogger("hrsync.service.workers")


class WorkerLost(HrsyncError):
    """The worker process running a connection died before the run reported back."""


class WorkerNotStarted(WorkerLost):
    """No worker process could be started for a run (the process could not be made, or it ended before it was
    ready to take runs): the run never began."""


@dataclass
class _Worker:
    process: Any  # multiprocessing's spawned Process
    conn: multiprocessing.connection.Connection
    jobs: dict[int, tuple[str, Future]] = field(default_factory=dict)
    retiring: bool = False
    ready: bool = False  # it loaded hosts.yaml and takes runs
    unable: str = ""  # why it could not start, as it said before it ended


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's or ``taskset``'s share), which
    ``os.cpu_count()`` does not see: it counts the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity on this platform (macOS)
        return os.cpu_count() or 1


class WorkerPool:
    """Up to ``processes`` worker processes with ``max_concurrent`` runs in flight between them."""

    def __init__(self, work: Work, *, processes: int, max_concurrent: int) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._work = work
        self.size = max(1, min(processes, max_concurrent))
        self.threads = math.ceil(max_concurrent / self.size)
        self._stop_flag = self._ctx.RawValue("b", 0)
        self._queue: deque[tuple[int, str, Future]] = deque()
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._closing = False
        self._supervisor: threading.Thread | None = None
        self._logs: Any = None

    def submit(self, name: str) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("the worker pool is closed")
            self._queue.append((next(self._ids), name, future))
            if self._supervisor is None:
                self._logs = self._ctx.Queue()
                threading.Thread(target=_relay_logs, args=(self._logs,), name="hrsync-logs", daemon=True).start()
                self._supervisor = threading.Thread(target=self._supervise, name="hrsync-workers", daemon=True)
                self._supervisor.start()
        self._wake_w.send(None)
        return future

    def stop_runs(self) -> None:
        """Ask every run in every worker to stop after the writes in flight."""
        self._stop_flag.value = 1

    def renew(self, work: Work) -> None:
        """Runs from now on go to new workers started from ``work``; the current ones finish theirs, then exit."""
        with self._lock:
            self._work = work
            for worker in self._workers:
                self._retire(worker)
        self._wake_w.send(None)

    def where(self) -> dict[str, int]:
        """The connections running now, each with the pid of its worker process."""
        with self._lock:
            return {name: w.process.pid for w in self._workers for name, _ in w.jobs.values()}

    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._workers if not w.retiring]

    def close(self) -> None:
        """Let the runs in flight and queued finish, then end every worker process (waits)."""
        with self._lock:
            self._closing = True
            supervisor = self._supervisor
        self._wake_w.send(None)
        if supervisor is not None:
            supervisor.join()
            self._logs.put(None)

    # -- the supervisor thread ----------------------------------------------------------------

    def _supervise(self) -> None:
        while True:
            with self._lock:
                self._dispatch()
                if self._closing and not self._queue:
                    for worker in self._workers:
                        self._retire(worker)
                    if not self._workers:
                        return
                waitables: dict[Any, _Worker] = {}
                for worker in self._workers:
                    waitables[worker.conn] = waitables[worker.process.sentinel] = worker
            ready = multiprocessing.connection.wait([self._wake_r, *waitables])
            with self._lock:
                while self._wake_r.poll():
                    self._wake_r.recv()
                for ready_one in ready:
                    worker = waitables.get(ready_one)
                    if worker is not None and worker in self._workers:
                        self._collect(worker, ended=ready_one == worker.process.sentinel)

    def _dispatch(self) -> None:
        while self._queue:
            try:
                worker = self._free_worker()
            except Exception as exc:  # noqa: BLE001 - no process, no fds, a start method that fails: this run fails
                _, name, future = self._queue.popleft()
                future.set_exception(WorkerNotStarted(f"no worker process could be started ({type(exc).__name__}: "
                                                      f"{exc}); the run did not begin", connection=name))
                continue
            if worker is None:
                return
            job_id, name, future = self._queue.popleft()
            worker.jobs[job_id] = (name, future)
            try:
                worker.conn.send((job_id, name))
            except OSError:  # it ended already: its sentinel fails the run; send it nothing more
                worker.retiring = True
                continue
            log.info("%s: running in worker process %d", name, worker.process.pid)

    def _free_worker(self) -> _Worker | None:
        serving = [w for w in self._workers if not w.retiring]
        idle = [w for w in serving if not w.jobs]
        if idle:
            return idle[0]
        if len(serving) < self.size:
            return self._start()
        least = min(serving, key=lambda w: len(w.jobs), default=None)
        return least if least is not None and len(least.jobs) < self.threads else None

    def _start(self) -> _Worker:
        parent_end, child_end = self._ctx.Pipe()
        levels = {name: logger.level for name, logger in logging.root.manager.loggerDict.items()
                  if isinstance(logger, logging.Logger) and logger.level}
        process = self._ctx.Process(target=serve, name="hrsync-worker", daemon=True,
                                    args=(child_end, self._work, self.threads, self._stop_flag, self._logs,
                                          logging.root.level, levels))
        try:
            process.start()
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        worker = _Worker(process, parent_end)
        self._workers.append(worker)
        log.info("worker process %d started (%d of %d, up to %d runs each)", process.pid,
                 sum(not w.retiring for w in self._workers), self.size, self.threads)
        return worker

    def _retire(self, worker: _Worker) -> None:
        if not worker.retiring:
            worker.retiring = True
            try:
                worker.conn.send(None)
            except OSError:  # already dead: its sentinel tells the rest
                pass

    def _collect(self, worker: _Worker, *, ended: bool) -> None:
        try:
            while worker.conn.poll():
                job_id, ok, value = worker.conn.recv()
                if job_id is None:  # about the worker itself: ready, or why it cannot start
                    worker.ready, worker.unable = ok, value
                    continue
                name, future = worker.jobs.pop(job_id)
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(WorkerLost(value, connection=name))
        except (EOFError, OSError):
            ended = True
        if not ended:
            return
        worker.process.join()
        self._workers.remove(worker)
        worker.conn.close()
        code = worker.process.exitcode
        for name, future in worker.jobs.values():
            if worker.ready:
                future.set_exception(WorkerLost(f"worker process {worker.process.pid} ended ({_how(code)}) during "
                                                "the run", connection=name))
            else:
                future.set_exception(WorkerNotStarted(
                    f"worker process {worker.process.pid} could not start ({worker.unable or _how(code)}); the run "
                    "did not begin", connection=name))
        if not worker.ready and (worker.jobs or worker.unable):
            log.error("worker process %d could not start (%s); %d run(s) sent to it fail", worker.process.pid,
                      worker.unable or _how(code), len(worker.jobs))
        elif worker.jobs:
            log.error("worker process %d ended (%s) with %d run(s) in flight", worker.process.pid, _how(code),
                      len(worker.jobs))
        elif not worker.retiring:
            log.info("worker process %d ended (%s)", worker.process.pid, _how(code))
        # Replaced at once only when it died with runs in flight; an idle one, or one that never started, is
        # started again when a run needs it (_free_worker): a worker that cannot even load hosts.yaml must not be
        # respawned in a tight loop.
        if worker.jobs and worker.ready and not worker.retiring and not self._closing and not self._stop_flag.value:
            try:
                log.info("worker process %d replaces worker process %d", self._start().process.pid,
                         worker.process.pid)
            except Exception as exc:  # noqa: BLE001 - the next run tries again, and fails alone if it must
                log.error("worker process %d not replaced: %s: %s", worker.process.pid, type(exc).__name__, exc)


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


def _relay_logs(logs: Any) -> None:
    """In the daemon: hand each worker's log record to the daemon's own loggers (their handlers mask secrets)."""
    while (record := logs.get()) is not None:
        logging.getLogger(record.name).handle(record)
