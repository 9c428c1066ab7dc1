"""How many sink writes the applier keeps in flight at once, and how that number backs off.

Data flow: the engine builds one :class:`InFlightLimit` per run from the sink's
:meth:`~hrsync.Sink.max_in_flight` (1 unless the sink declares ``concurrent_writes``) and
hands it to the applier; the run context's ``throttled()`` (called by a sink whose service
answered 429 or 503) halves it, and each confirmed write lets it grow back slowly - the
additive-increase, multiplicative-decrease rule TCP uses, so a throttling service sees the
whole run slow down, not one thread at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

log = logging.getLogger("hrsync.sync.writes_in_flight")

T = TypeVar("T")
R = TypeVar("R")

#: Confirmed writes per slot in use before one more slot is opened again after a throttle.
GROW_AFTER = 10


class InFlightLimit:
    """The number of writes allowed in flight: ``maximum`` at first, halved on throttling, regrown slowly.

    Halving happens at most once per window of writes: the writes already out when it happened were
    sent under the old limit, and their 429s (and the retries of one stubborn request) say nothing new.
    Thread-safe: ``throttled()`` is called from the threads that talk to the sink.
    """

    def __init__(self, maximum: int) -> None:
        if maximum < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {maximum}")
        self.maximum = self.current = self.lowest = maximum
        self.throttles = 0
        self._confirmed = 0
        self._grace = 0  # writes still to end before a throttle may halve the limit again
        self._lock = threading.Lock()

    def throttled(self) -> None:
        """The sink's service asked to slow down: halve the writes in flight (at least one)."""
        with self._lock:
            self.throttles += 1
            self._confirmed = 0
            if self._grace or self.current == 1:
                return
            self._grace = self.current
            self.current //= 2
            self.lowest = min(self.lowest, self.current)
            log.info("the sink's service is throttling: %d write(s) in flight from now", self.current)

    def ended(self, *, confirmed: bool) -> None:
        """A write ended; after enough confirmed ones without a throttle, allow one more in flight."""
        with self._lock:
            self._grace = max(0, self._grace - 1)
            if not confirmed or self.current >= self.maximum:
                return
            self._confirmed += 1
            if self._confirmed >= GROW_AFTER * self.current:
                self.current, self._confirmed = self.current + 1, 0


_END = object()


def drive(items: Iterable[T], *, limit: InFlightLimit, begin: Callable[[T], None], attempt: Callable[[T], R],
          finish: Callable[[T, R], None], go_on: Callable[[], bool],
          together: Callable[[], AbstractContextManager] = nullcontext) -> bool:
    """Run ``attempt(item)`` for each item, up to ``limit.current`` at once; False when ``go_on`` stopped it.

    ``begin`` and ``finish`` run on the calling thread - the one that owns the state - so the
    order of each item is kept: ``begin`` before its attempt starts, ``finish`` with its result
    once it ended. Each round's finishes and begins run inside one ``together()`` block (one
    transaction), and the round's attempts start only after it closed. ``go_on`` is asked
    before each new item. An exception from any of them stops new items from starting; the
    ones in flight still end and are finished, then the first exception is raised. With a
    limit of one, attempts run on the calling thread, in order.
    """
    queue = iter(items)
    if limit.maximum == 1:
        return _one_at_a_time(queue, begin=begin, attempt=attempt, finish=finish, go_on=go_on, together=together)
    running: dict[Future[R], T] = {}
    done: set[Future[R]] = set()
    failure: BaseException | None = None
    stopped = exhausted = False
    executor = ThreadPoolExecutor(max_workers=limit.maximum, thread_name_prefix="hrsync-write")
    try:
        while True:
            starting: list[T] = []
            with together():
                for future in done:
                    item = running.pop(future)
                    try:
                        finish(item, future.result())
                    except Exception as exc:
                        failure = failure or exc
                while failure is None and not (stopped or exhausted) and len(running) + len(starting) < limit.current:
                    item = next(queue, _END)
                    if item is _END:
                        exhausted = True
                    elif not go_on():
                        stopped = True
                    else:
                        try:
                            begin(item)
                        except Exception as exc:
                            failure = exc
                            break
                        starting.append(item)
            for item in starting:
                running[executor.submit(attempt, item)] = item
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
    except BaseException:
        # Aborted (a second Ctrl-C): start nothing more and do not wait here for the requests out.
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown()
    if failure is not None:
        raise failure
    return not stopped


def _one_at_a_time(queue: Iterator[T], *, begin: Callable[[T], None], attempt: Callable[[T], R],
                   finish: Callable[[T, R], None], go_on: Callable[[], bool],
                   together: Callable[[], AbstractContextManager]) -> bool:
    """:func:`drive` with one write in flight, on the calling thread: each round finishes the last item
    and begins the next in one ``together()`` block, then attempts it. Any exception ends it (the block
    still closes); with nothing else in flight there is nothing to wait for."""
    item: T | object = _END
    result: R | None = None
    while True:
        with together():
            if item is not _END:
                finish(item, result)
            item = next(queue, _END)
            if item is _END:
                return True
            if not go_on():
                return False
            begin(item)
        result = attempt(item)
