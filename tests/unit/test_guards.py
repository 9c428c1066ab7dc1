"""The circuit breakers alone: counts, a plan and the stored links in, a GuardError (or nothing) out."""

from __future__ import annotations

import pytest

from hrsync import GuardError
from hrsync.config.schema import GuardsConfig
from hrsync.plan import CREATE, DEACTIVATE, UPDATE, Action, Change
from hrsync.state.store import Link
from hrsync.sync.guards import (
    check_deactivations,
    check_membership_removals,
    check_reactivations,
    check_source_size,
)
from tests.helpers import person, sync_memory

LIMITS = GuardsConfig(max_shrink_percent=30.0, max_deactivations=3, max_deactivation_percent=50.0,
                      max_failures_in_a_row=5, max_reactivations=3, max_reactivation_percent=50.0,
                      max_membership_removals=3, max_membership_removal_percent=50.0)


def links(count: int, *, deactivated: int = 0, inactive: int = 0) -> dict[str, Link]:
    """``count`` linked people; the first ``deactivated`` were deactivated by hrsync, the next ``inactive``
    are linked with ``active: false`` (paused in the app)."""
    out = {}
    for i in range(count):
        active = not (deactivated <= i < deactivated + inactive)
        out[str(i)] = Link(str(i), f"u{i}", f"p{i}@example.com", {"active": active}, deactivated=i < deactivated)
    return out


def leaving(i: int) -> Action:
    return Action(DEACTIVATE, f"p{i}", str(i), sink_id=f"u{i}", changes={"active": Change(True, False)})


def marked(i: int, active: bool) -> Action:
    """An update that sets ``active`` (a leaver marked in the source, or someone coming back)."""
    return Action(UPDATE, f"p{i}", str(i), sink_id=f"u{i}", changes={"active": Change(not active, active)})


def guard_of(call) -> str:
    with pytest.raises(GuardError) as info:
        call()
    assert "Nothing was changed" in str(info.value) and "--override-guards" in str(info.value)
    return info.value.context["guard"]


def size(count, known):
    return lambda: check_source_size(count, known, LIMITS, source="Memory", connection="mem")


def test_an_empty_source_stops_a_run_with_linked_people():
    assert guard_of(size(0, links(5))) == "empty_source"


def test_an_empty_or_small_source_is_fine_on_a_first_run():
    size(0, {})()
    size(1, {})()


def test_a_shrink_beyond_the_limit_stops_the_run_and_the_limit_itself_passes():
    size(7, links(10))()  # 30% fewer: at the limit
    assert guard_of(size(6, links(10))) == "source_shrink"


def test_people_deactivated_by_hrsync_no_longer_count_as_linked():
    size(7, links(12, deactivated=2))()  # 10 still linked: 30% fewer
    assert guard_of(size(6, links(12, deactivated=2))) == "source_shrink"
    size(0, links(3, deactivated=3))()


def deactivations(actions, known):
    return lambda: check_deactivations(actions, known, LIMITS, connection="mem")


def test_deactivations_are_capped_by_count():
    known = links(100)
    deactivations([leaving(i) for i in range(3)], known)()
    assert guard_of(deactivations([leaving(i) for i in range(4)], known)) == "deactivations"


def test_deactivations_are_capped_by_share_of_the_linked():
    known = links(4)
    deactivations([leaving(0), leaving(1)], known)()  # 50%: at the limit
    assert guard_of(deactivations([leaving(0), leaving(1), leaving(2)], known)) == "deactivations"


def test_linked_people_the_source_marks_as_leavers_count_first_time_matches_do_not():
    known = links(100)
    marked_leavers = [marked(i, False) for i in range(4)]
    assert guard_of(deactivations(marked_leavers, known)) == "deactivations"
    first_matches = [marked(i, False) for i in range(200, 260)]  # not linked: the initial reconciliation
    deactivations(first_matches, known)()
    deactivations([Action(CREATE, f"p{i}", str(i), changes={"active": Change(None, False)}) for i in range(9)],
                  known)()


def test_reactivations_of_linked_inactive_people_are_capped():
    known = links(10, inactive=6)

    def back(actions):
        return lambda: check_reactivations(actions, known, LIMITS, connection="mem")

    back([marked(i, True) for i in range(3)])()
    assert guard_of(back([marked(i, True) for i in range(4)])) == "reactivations"
    back([marked(i, True) for i in range(6, 10)])()  # they were active: nothing comes back


def test_membership_removals_are_capped_by_count_and_by_share_of_the_managed_ones():
    def remove(count, managed):
        return lambda: check_membership_removals(count, managed, LIMITS, connection="mem")

    remove(0, 0)()
    remove(3, 100)()
    assert guard_of(remove(4, 100)) == "membership_removals"
    assert guard_of(remove(2, 3)) == "membership_removals"  # 67% of what hrsync keeps


def test_the_engine_runs_the_guards_unless_told_to_override_them(memory_config, memory_world):
    memory_world.people = [person(i) for i in range(10)]
    loaded = memory_config(missing="deactivate", guards={"max_deactivations": 1, "max_shrink_percent": 50})
    sync_memory(loaded)
    memory_world.people = memory_world.people[:7]
    memory_world.calls.clear()
    stopped = sync_memory(loaded)
    assert stopped.status == "stopped" and "would deactivate 3 people" in stopped.message
    assert memory_world.writes() == []
    allowed = sync_memory(loaded, override_guards=True)
    assert allowed.status == "ok" and [c[0] for c in memory_world.writes()] == ["deactivate"] * 3
