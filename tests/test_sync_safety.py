"""What a sync refuses or survives, against the in-memory connectors and a real SQLite file: source
outages, deactivation caps, failed writes, dry runs, concurrent runs, a death right after a create."""

from __future__ import annotations

import pytest

from hrsync.report.render import render_text
from hrsync.state.store import open_state
from tests.helpers import person, sync_memory


def test_failing_write_is_recorded_and_retried_next_run(memory_config, world):
    loaded = memory_config()
    world.fail_emails = {"person4@example.com"}
    first = sync_memory(loaded)
    assert first.status == "partial" and first.plan.counts() | {} == first.plan.counts()
    failed = [a for a in first.plan.actions if a.outcome == "failed"]
    assert [a.email for a in failed] == ["person4@example.com"] and "fail_emails" in failed[0].message
    assert len(world.users) == 19
    world.fail_emails = set()
    second = sync_memory(loaded)
    assert [a.email for a in second.plan.of("create")] == ["person4@example.com"]
    assert len(world.users) == 20 and second.status == "ok"


@pytest.mark.parametrize("scenario", ["empty", "failed_read", "forty_percent_gone"])
def test_source_outage_never_deactivates(memory_config, world, scenario):
    loaded = memory_config(missing="deactivate")
    sync_memory(loaded)
    if scenario == "empty":
        world.people = []
    elif scenario == "failed_read":
        world.fail_read = True
    else:
        world.people = world.people[:12]
    world.calls.clear()
    result = sync_memory(loaded)
    assert world.writes() == []
    assert result.status == "stopped" and result.exit_code == 2
    assert {"empty": "returned nobody", "failed_read": "read failed",
            "forty_percent_gone": "40% fewer"}[scenario] in result.message
    state = open_state(loaded[0].state, read_only=True)
    assert state.runs("mem")[0]["status"] == "stopped"
    state.close()


def test_deactivation_of_missing_people_is_capped_and_can_be_allowed_once(memory_config, world):
    loaded = memory_config(missing="deactivate", guards={"max_deactivations": 1})
    sync_memory(loaded)
    world.people = world.people[:18]
    stopped = sync_memory(loaded)
    assert stopped.status == "stopped" and "would deactivate 2 people" in stopped.message
    allowed = sync_memory(loaded, override_guards=True)
    assert allowed.plan.counts()["deactivated"] == 2
    assert sum(1 for u in world.users.values() if u.get("active") is False) == 2


def test_missing_people_are_ignored_by_default(memory_config, world):
    loaded = memory_config()
    sync_memory(loaded)
    world.people = world.people[:19]
    result = sync_memory(loaded)
    assert result.status == "ok" and world.writes()[-1][0] == "create"  # nothing after the creates
    assert result.plan.counts()["deactivated"] == 0


def test_only_people_this_connection_linked_are_deactivated(memory_config, world):
    outsider = world.new_id()
    world.users[outsider] = {"email": "stranger@example.com", "active": True}
    loaded = memory_config(missing="deactivate", guards={"max_deactivations": 50, "max_deactivation_percent": 100})
    sync_memory(loaded)
    world.people = world.people[:15]
    sync_memory(loaded, override_guards=True)
    assert world.users[outsider]["active"] is True


def test_dry_run_writes_nothing_to_sink_or_state(memory_config, world):
    loaded = memory_config()
    sync_memory(loaded)
    world.people[0]["first_name"] = "Dry"
    world.people.append(person(99))
    state_path = loaded[0].state
    before = state_path.read_bytes()
    world.calls.clear()
    result = sync_memory(loaded, dry_run=True)
    assert world.calls == []
    assert state_path.read_bytes() == before
    assert result.report.counts["created"] == 1 and result.report.counts["updated"] == 1
    assert "Plan (dry run" in render_text(result.report)


def test_concurrent_runs_of_one_connection_are_refused(memory_config, world):
    from hrsync import RunError

    loaded = memory_config()
    state = open_state(loaded[0].state)
    with state.lock("mem"):
        with pytest.raises(RunError, match="already running"):
            sync_memory(loaded)
    state.close()


class DiesAfterCreate(BaseException):
    """Stands for the process dying between the sink's confirmation and our commit."""


def test_death_after_the_sink_confirmed_a_create_leaves_no_duplicate(memory_config, world, monkeypatch):
    from hrsync.testing.memory import MemorySink

    loaded = memory_config()
    sync_memory(loaded)  # history: later creates are not preceded by a listing
    world.people.append(person(50))
    original = MemorySink.create

    def create_then_die(self, record):
        original(self, record)
        raise DiesAfterCreate

    monkeypatch.setattr(MemorySink, "create", create_then_die)
    with pytest.raises(DiesAfterCreate):
        sync_memory(loaded)
    monkeypatch.setattr(MemorySink, "create", original)
    world.calls.clear()
    result = sync_memory(loaded)
    assert ("list", None) in world.calls and not [c for c in world.calls if c[0] == "create"]
    assert sum(1 for u in world.users.values() if u["email"] == "person50@example.com") == 1
    (linked,) = [a for a in result.plan.actions if a.email == "person50@example.com"]
    assert linked.matched and linked.outcome == "applied"
    state = open_state(loaded[0].state, read_only=True)
    runs = state.runs("mem")
    assert [r["status"] for r in runs[:2]] == ["ok", "crashed"] and state.intents("mem") == set()
    state.close()
