"""The daemon's worker processes: connections run on every core of the host, not in threads of one process.

Data flow: :class:`hrsync.service.daemon.Daemon` submits a connection's name to :class:`WorkerPool` → the pool hands
it to the least busy of up to ``processes`` forked worker processes over that worker's pipe → the worker runs it in
one of its threads (``work(name, should_stop)``: the engine, the report; runs wait on the network most of the time,
so a process holds several) and sends the outcome back → the pool resolves the run's Future in the daemon.

A worker process that dies (SIGKILL, the out-of-memory killer) fails the runs it held with :class:`WorkerLost` and
is replaced; the next run of such a connection finds its run unfinished and recovers it, as after any crash. Workers
are forked, so they hold the configuration, plugins and secrets the daemon loaded, and they share its ``flock`` on
the state: a second daemon is refused while any of them lives. After a reload the daemon retires them: they finish
their runs and exit, and new workers are forked with the new configuration. A worker that sees SIGTERM/SIGINT, or
loses its daemon (its pipe closes), asks its runs to stop after the writes in flight, like the daemon does.
"""

from __future__ import annotations

import itertools
import logging
import math
import multiprocessing
import multiprocessing.connection
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import HrsyncError

log = logging.getLogger("hrsync.service.workers")

#: ``work(name, should_stop)`` runs one connection inside a worker process; its result must pickle.
Work = Callable[[str, Callable[[], bool]], Any]


class WorkerLost(HrsyncError):
    """The worker process running a connection died before the run reported back."""


class _Asked(Exception):
    """SIGTERM/SIGINT in a worker: take no more runs."""


@dataclass
class _Worker:
    process: Any  # multiprocessing's forked Process
    conn: multiprocessing.connection.Connection
    jobs: dict[int, tuple[str, Future]] = field(default_factory=dict)
    retiring: bool = False


class WorkerPool:
    """Up to ``processes`` forked worker processes with ``max_concurrent`` runs in flight between them."""

    def __init__(self, work: Work, *, processes: int, max_concurrent: int) -> None:
        # fork, not spawn: a worker starts with everything the daemon loaded, nothing is pickled per run.
        self._ctx = multiprocessing.get_context("fork")
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

    def submit(self, name: str) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("the worker pool is closed")
            self._queue.append((next(self._ids), name, future))
            if self._supervisor is None:
                self._supervisor = threading.Thread(target=self._supervise, name="hrsync-workers", daemon=True)
                self._supervisor.start()
        self._wake_w.send(None)
        return future

    def stop_runs(self) -> None:
        """Ask every run in every worker to stop after the writes in flight."""
        self._stop_flag.value = 1

    def renew(self) -> None:
        """Runs submitted from now on go to newly forked workers; the current ones finish theirs, then exit."""
        with self._lock:
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
            worker = self._free_worker()
            if worker is None:
                return
            job_id, name, future = self._queue.popleft()
            worker.jobs[job_id] = (name, future)
            worker.conn.send((job_id, name))
            log.info("%s: running in worker process %d", name, worker.process.pid)

    def _free_worker(self) -> _Worker | None:
        serving = [w for w in self._workers if not w.retiring]
        idle = [w for w in serving if not w.jobs]
        if idle:
            return idle[0]
        if len(serving) < self.size:
            return self._fork()
        least = min(serving, key=lambda w: len(w.jobs), default=None)
        return least if least is not None and len(least.jobs) < self.threads else None

    def _fork(self) -> _Worker:
        parent_end, child_end = self._ctx.Pipe()
        # The child closes the daemon's ends of every pipe, so a worker sees EOF when the daemon is gone.
        inherited = [parent_end, self._wake_r, self._wake_w, *(w.conn for w in self._workers)]
        process = self._ctx.Process(target=_serve, name="hrsync-worker", daemon=True,
                                    args=(child_end, inherited, self._work, self.threads, self._stop_flag))
        process.start()
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
            future.set_exception(WorkerLost(f"worker process {worker.process.pid} ended ({_how(code)}) during the "
                                            "run", connection=name))
        if worker.jobs:
            log.error("worker process %d ended (%s) with %d run(s) in flight", worker.process.pid, _how(code),
                      len(worker.jobs))
        elif not worker.retiring:
            log.info("worker process %d ended (%s)", worker.process.pid, _how(code))
        if not worker.retiring and not self._closing and not self._stop_flag.value:
            log.info("worker process %d replaces worker process %d", self._fork().process.pid, worker.process.pid)


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


def _serve(conn: multiprocessing.connection.Connection, inherited: list, work: Work, threads: int,
           stop_flag: Any) -> None:
    """A worker process: run each connection the daemon sends in a thread, send back each outcome."""
    for other in inherited:
        other.close()
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

    def run(job_id: int, name: str) -> None:
        try:
            outcome = (job_id, True, work(name, should_stop))
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
