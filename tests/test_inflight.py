"""Writes in flight: the limit's back-off, the driver's thread discipline, the engine with several at once."""

from __future__ import annotations

import contextlib
import threading

import pytest

from hrsync.state.store import open_state
from hrsync.sync.engine import sync_connection
from hrsync.sync.writes_in_flight import GROW_AFTER, InFlightLimit, drive


def test_the_limit_halves_once_per_window_of_writes_and_grows_back_one_at_a_time():
    limit = InFlightLimit(8)
    limit.throttled()
    limit.throttled()  # a write already out when the limit halved: no news
    assert (limit.current, limit.lowest, limit.throttles) == (4, 4, 2)
    for _ in range(8):  # the eight writes sent under the old limit end
        limit.ended(confirmed=False)
    limit.throttled()
    assert limit.current == 2
    for _ in range(GROW_AFTER * 2 - 1):
        limit.ended(confirmed=True)
    assert limit.current == 2
    limit.ended(confirmed=True)
    assert limit.current == 3
    for _ in range(3):
        limit.throttled()
        for _ in range(limit.current):
            limit.ended(confirmed=False)
    assert (limit.current, limit.lowest) == (1, 1)
    with pytest.raises(ValueError):
        InFlightLimit(0)


def test_drive_overlaps_attempts_but_begins_and_finishes_each_on_the_calling_thread():
    caller = threading.get_ident()
    together = threading.Barrier(4, timeout=30)  # broken unless four attempts are in flight at once
    events: list[tuple[str, int]] = []
    threads: set[int] = set()

    def begin(item):
        threads.add(threading.get_ident())
        events.append(("begin", item))

    def attempt(item):
        events.append(("attempt", item))
        if item < 4:
            together.wait()
        return item * 10

    def finish(item, result):
        threads.add(threading.get_ident())
        assert result == item * 10
        events.append(("finish", item))

    assert drive(range(12), limit=InFlightLimit(4), begin=begin, attempt=attempt, finish=finish,
                 go_on=lambda: True)
    assert threads == {caller}
    for item in range(12):
        order = [kind for kind, i in events if i == item]
        assert order == ["begin", "attempt", "finish"]


def test_drive_finishes_the_writes_in_flight_then_raises_and_starts_no_more():
    started, finished = [], []
    release = threading.Event()

    def attempt(item):
        if item == 1:
            raise RuntimeError("the sink broke")
        release.wait(30)
        return item

    def begin(item):
        started.append(item)
        if item == 3:
            release.set()  # the others in flight end only once the failure is on its way

    with pytest.raises(RuntimeError, match="the sink broke"):
        drive(range(20), limit=InFlightLimit(4), begin=begin, attempt=attempt,
              finish=lambda item, result: finished.append(item), go_on=lambda: True)
    assert started == [0, 1, 2, 3]
    assert sorted(finished) == [0, 2, 3]


def test_drive_stops_starting_when_asked_and_returns_false():
    begun, finished = [], []
    stop = threading.Event()

    def begin(item):
        begun.append(item)
        if len(begun) == 5:
            stop.set()

    done = drive(range(50), limit=InFlightLimit(3), begin=begin, attempt=lambda item: item,
                 finish=lambda item, result: finished.append(item), go_on=lambda: not stop.is_set())
    assert done is False and len(begun) == 5 and sorted(finished) == sorted(begun)


def test_one_at_a_time_each_round_finishes_the_last_write_and_begins_the_next_in_one_block():
    events = []

    @contextlib.contextmanager
    def together():
        events.append("open")
        yield
        events.append("close")

    done = drive(range(3), limit=InFlightLimit(1), begin=lambda i: events.append(f"begin {i}"),
                 attempt=lambda i: events.append(f"attempt {i} on {threading.current_thread().name}"),
                 finish=lambda i, result: events.append(f"finish {i}"), go_on=lambda: True, together=together)
    caller = threading.current_thread().name
    assert done is True
    assert events == ["open", "begin 0", "close", f"attempt 0 on {caller}",
                      "open", "finish 0", "begin 1", "close", f"attempt 1 on {caller}",
                      "open", "finish 1", "begin 2", "close", f"attempt 2 on {caller}",
                      "open", "finish 2", "close"]


def test_one_at_a_time_stops_when_asked_and_raises_what_a_write_raised():
    begun, finished = [], []
    done = drive(range(10), limit=InFlightLimit(1), begin=begun.append, attempt=lambda item: item,
                 finish=lambda item, result: finished.append(result), go_on=lambda: len(begun) < 3)
    assert done is False and begun == finished == [0, 1, 2]

    def attempt(item):
        if item == 1:
            raise RuntimeError("the sink broke")
        return item

    begun.clear()
    finished.clear()
    with pytest.raises(RuntimeError, match="the sink broke"):
        drive(range(10), limit=InFlightLimit(1), begin=begun.append, attempt=attempt,
              finish=lambda item, result: finished.append(result), go_on=lambda: True)
    assert begun == [0, 1] and finished == [0]


def person(i, **values):
    return {"id": str(i), "email": f"p{i}@example.com", "first_name": f"F{i}", "last_name": f"L{i}",
            "status": "active", **values}


def test_with_writes_in_flight_everyone_is_created_once_and_every_outcome_is_kept(memory_config, memory_world,
                                                                                    tmp_path):
    memory_world.people = [person(i) for i in range(300)]
    config, plugins = memory_config(sink={"plugin": "memory", "world": memory_world, "max_in_flight": 6})
    result = sync_connection(config, "mem", plugins)
    assert result.status == "ok" and result.plan.counts()["created"] == 300
    state = open_state(tmp_path / "state.db", read_only=True)
    links, changes = state.links("mem"), state.changes(result.run_id)
    state.close()
    assert {link.sink_id for link in links.values()} == set(memory_world.users)
    assert sorted(c["source_id"] for c in changes) == sorted(str(i) for i in range(300))
    assert len({u["email"] for u in memory_world.users.values()}) == 300


def test_a_throttling_sink_halves_the_writes_in_flight_and_the_report_says_so(memory_config, memory_world):
    memory_world.people = [person(i) for i in range(40)]
    memory_world.busy_next = 3  # three "slow down" answers, each retried, while the first writes are out
    config, plugins = memory_config(sink={"plugin": "memory", "world": memory_world, "max_in_flight": 8})
    result = sync_connection(config, "mem", plugins)
    assert result.status == "ok" and len(memory_world.users) == 40
    (warning,) = [w for w in result.report.warnings if "slow down" in w]
    assert "3 time(s)" in warning and "went down to 4 of 8" in warning


def test_an_address_freed_by_a_change_is_taken_by_a_new_hire_in_the_same_run(memory_config, memory_world):
    memory_world.people = [person(i) for i in range(10)]
    config, plugins = memory_config(sink={"plugin": "memory", "world": memory_world, "max_in_flight": 4})
    assert sync_connection(config, "mem", plugins).status == "ok"
    memory_world.people[9]["email"] = "p9.new@example.com"
    memory_world.people.insert(0, person(100, email="p9@example.com"))  # planned before the change
    result = sync_connection(config, "mem", plugins)
    assert result.status == "ok", [line.message for line in result.report.attention]
    assert result.plan.counts()["created"] == 1 and result.plan.counts()["updated"] == 1
    assert sorted(u["email"] for u in memory_world.users.values())[-2:] == ["p9.new@example.com", "p9@example.com"]
