"""The sink contract for a snapshot sink (``takes_snapshots``): run by default instead of the per-person one.

The real engine, the reference source's people, and the sink's
:class:`~hrsync.sandbox.SnapshotSinkSandbox`, whose ``held()`` is what the service's last delivery held
and whose ``writes()`` are its deliveries. Each scenario proves one promise a snapshot sink makes: the
whole list arrives, nothing is sent when nothing changed, a change arrives in the next delivery, a
person gone from the source leaves the file, a refused delivery changes nothing and the next run
delivers again, and a person the run must skip keeps the row the service last received.
"""

from __future__ import annotations

from typing import Any

from .scenarios import Scenario

#: A handful of people: one leaver is a large share, which the guards would stop.
GUARDS = {"max_deactivation_percent": 100, "max_shrink_percent": 100}


def _run(h: Any, what: str, expect: str = "ok") -> Any:
    result = h.run(guards=GUARDS)
    assert result.status == expect, f"{what}: run {result.status}: {result.message}"
    return result


def _emails(h: Any) -> set[str]:
    return set(h.held_by_email())


def _deliveries(h: Any) -> int:
    return sum(1 for w in h.sandbox.writes() if w.kind == "deliver")


def _delivers_everyone(h: Any) -> None:
    _run(h, "first run")
    assert _emails(h) == {p["email"] for p in h.world.people}, f"the delivery does not hold everyone: {_emails(h)}"
    person = h.world.people[0]
    (held,) = h.held_by_email()[person["email"]]
    assert (held.get("first_name"), held.get("last_name")) == (person["first_name"], person["last_name"])
    assert _deliveries(h) == 1, f"expected one delivery, got {h.sandbox.writes()}"


def _no_change_delivers_nothing(h: Any) -> None:
    _run(h, "first run")
    h.sandbox.clear()
    result = _run(h, "second run")
    assert _deliveries(h) == 0, f"an unchanged run delivered again: {h.sandbox.writes()}"
    assert result.report.counts["unchanged"] == len(h.world.people)


def _change_is_delivered(h: Any) -> None:
    _run(h, "first run")
    h.sandbox.clear()
    h.world.people[1]["last_name"] = "Changed"
    result = _run(h, "run after a change")
    assert _deliveries(h) == 1 and result.report.counts["updated"] == 1
    assert h.held_by_email()[h.world.people[1]["email"]][0]["last_name"] == "Changed"


def _gone_leaves_the_file(h: Any) -> None:
    _run(h, "first run")
    gone = h.world.people.pop()
    result = _run(h, "run after someone left the source")
    assert gone["email"] not in _emails(h), f"{gone['email']} is still in the delivery"
    assert result.report.counts["deactivated"] == 1


def _failed_delivery_is_delivered_again(h: Any) -> None:
    _run(h, "first run")
    before = h.sandbox.held()
    h.world.people[0]["first_name"] = "Later"
    h.sandbox.refuse_deliveries(True)
    try:
        _run(h, "run with deliveries refused", expect="stopped")
        assert h.sandbox.held() == before, "a refused delivery changed what the service holds"
    finally:
        h.sandbox.refuse_deliveries(False)
    result = _run(h, "run after the refusal")
    assert result.report.counts["updated"] == 1, "the change was lost with the refused delivery"
    assert h.held_by_email()[h.world.people[0]["email"]][0]["first_name"] == "Later"


def _skipped_person_keeps_their_row(h: Any) -> None:
    _run(h, "first run")
    kept = h.world.people[2]
    h.world.people[2] = {**kept, "email": "not an address"}
    h.world.people[0]["first_name"] = "Changed"  # so that this run delivers
    _run(h, "run with one bad record", expect="partial")
    assert kept["email"] in _emails(h), "a person skipped for a bad record was dropped from the delivery"


SNAPSHOT_SCENARIOS: list[Scenario] = [
    Scenario("delivers_everyone", "The first delivery holds everyone, with their fields.", _delivers_everyone),
    Scenario("no_change_delivers_nothing", "A run with nothing changed sends nothing.", _no_change_delivers_nothing),
    Scenario("change_is_delivered", "A change arrives in the next delivery, counted once.", _change_is_delivered),
    Scenario("gone_leaves_the_file", "A person gone from the source is not in the next delivery.",
             _gone_leaves_the_file),
    Scenario("failed_delivery_is_delivered_again", "A refused delivery changes nothing; the next run delivers.",
             _failed_delivery_is_delivered_again),
    Scenario("skipped_person_keeps_their_row", "A person skipped for a bad record stays as last delivered.",
             _skipped_person_keeps_their_row),
]
