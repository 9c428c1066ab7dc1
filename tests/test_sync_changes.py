"""What a sync writes, against the in-memory connectors and a real SQLite file: creates, only the changed
fields, e-mail changes, matching a populated sink, drift, mapping, scope, skipped records."""

from __future__ import annotations

from hrsync.report.render import render_text
from tests.helpers import sync_memory


def test_first_run_creates_everyone_and_second_run_writes_nothing(memory_config, world):
    loaded = memory_config()
    first = sync_memory(loaded)
    assert first.status == "ok" and first.plan.counts()["created"] == 20
    assert len(world.users) == 20
    world.calls.clear()
    second = sync_memory(loaded)
    assert second.plan.counts()["unchanged"] == 20
    assert world.writes() == []
    assert ("list", None) not in world.calls  # everyone is linked: no listing needed


def test_one_changed_field_sends_only_that_field(memory_config, world):
    loaded = memory_config()
    sync_memory(loaded)
    world.people[3]["last_name"] = "Changed"
    world.calls.clear()
    result = sync_memory(loaded)
    assert world.writes() == [("update", (result.plan.of("update")[0].sink_id, {"last_name": "Changed"}))]
    assert result.plan.of("update")[0].changes == {"last_name": ("Last3", "Changed")}


def test_email_change_updates_the_linked_user_without_duplicate(memory_config, world):
    loaded = memory_config()
    sync_memory(loaded)
    world.people[5]["email"] = "New.Address@Example.com "
    result = sync_memory(loaded)
    assert len(world.users) == 20
    update = result.plan.of("update")[0]
    assert world.users[update.sink_id]["email"] == "new.address@example.com"
    assert update.changes == {"email": ("person5@example.com", "new.address@example.com")}
    assert "E-mail: person5@example.com → new.address@example.com" in render_text(result.report)


def test_first_run_against_populated_sink_lists_once_and_matches_case_insensitively(memory_config, world):
    for i in range(10):
        uid = world.new_id()
        world.users[uid] = {"email": f"PERSON{i}@Example.COM", "first_name": f"First{i}", "last_name": f"Last{i}"}
    result = sync_memory(memory_config())
    assert len(world.users) == 20
    assert [c for c in world.calls if c[0] in ("list", "find")] == [("list", None)]
    assert result.plan.counts()["created"] == 10
    linked = [a for a in result.plan.actions if a.matched]
    assert len(linked) == 10


def test_two_people_with_one_email_are_both_skipped(memory_config, world):
    world.people[1]["email"] = "PERSON0@example.com"
    result = sync_memory(memory_config())
    skipped = result.plan.of("skip")
    assert {a.source_id for a in skipped} == {"0", "1"}
    assert all("give each person their own e-mail" in a.reason for a in skipped)
    assert not any(u["email"] == "person0@example.com" for u in world.users.values())
    assert result.status == "partial" and result.exit_code == 1


def test_missing_and_invalid_emails_and_field_errors_are_skipped_with_reasons(memory_config, world):
    world.people[0]["email"] = None
    world.people[1]["email"] = "not-an-address"
    world.people[2]["status"] = "retired"
    result = sync_memory(memory_config())
    reasons = {a.source_id: a.reason for a in result.plan.of("skip")}
    assert "has no e-mail" in reasons["0"] and "add one there" in reasons["0"]
    assert "invalid e-mail" in reasons["1"]
    assert "status" in reasons["2"]
    assert result.plan.counts()["created"] == 17


def test_full_run_repairs_drift_in_mapped_fields(memory_config, world):
    loaded = memory_config()
    sync_memory(loaded)
    uid = next(uid for uid, u in world.users.items() if u["email"] == "person2@example.com")
    world.users[uid]["first_name"] = "Edited by hand"
    assert sync_memory(loaded).plan.counts()["updated"] == 0  # normal runs trust the state
    result = sync_memory(loaded, full=True)
    assert result.plan.of("update")[0].changes == {"first_name": ("Edited by hand", "First2")}
    assert world.users[uid]["first_name"] == "First2"


def test_scope_filters_people(memory_config, world):
    world.people[0]["office"] = "Munich"
    world.people[1]["employment_type"] = "external"
    for p in world.people[2:]:
        p["office"] = "Stockholm"
    loaded = memory_config(scope={"include": {"office": ["stockholm"]}, "exclude": {"employment_type": ["external"]}})
    result = sync_memory(loaded)
    assert result.plan.counts()["created"] == 18
    assert not any(u["email"] in ("person0@example.com", "person1@example.com") for u in world.users.values())


def test_mapping_rules_apply(memory_config, world):
    loaded = memory_config(mapping={
        "status": {"map": {"leave": "active"}},
        "first_name": {"from": "last_name", "transform": ["upper"]},
        "hire_date": {"constant": "2000-01-01", "apply": "create_only"},
        "gender": {"skip": True},
    })
    world.people[0]["status"] = "leave"
    sync_memory(loaded)
    user = next(u for u in world.users.values() if u["email"] == "person0@example.com")
    assert user["status"] == "active" and user["first_name"] == "LAST0" and user["hire_date"] == "2000-01-01"
    assert "gender" not in user


def test_only_runs_one_person(memory_config, world):
    result = sync_memory(memory_config(), only="PERSON7@example.com")
    assert len(world.users) == 1 and result.plan.counts()["created"] == 1
