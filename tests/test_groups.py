"""Departments and teams become groups: the engine's group planning and writes, on the memory connectors."""

from __future__ import annotations

import pytest

from hrsync import ConfigError
from hrsync.state.store import open_state
from hrsync.sync.engine import RunOptions, sync_connection
from hrsync.testing.memory_groups import GROUP_WRITES

DEPARTMENTS = ["Sales", "Engineering", "People"]


def company(count=30):
    return [{"id": str(i), "email": f"p{i}@example.com", "first_name": "P", "last_name": str(i), "status": "active",
             "department": {"id": str(10 + i % 3), "name": DEPARTMENTS[i % 3]},
             "team": {"id": str(100 + i % 6), "name": f"Team {i % 6}"}} for i in range(count)]


def groups_of(world):
    """Group name → member e-mails, as the sink holds them."""
    return {g.name: {world.users[m]["email"] for m in g.members} for g in world.groups.values()}


def group_writes(world):
    return [c for c in world.calls if c[0] in GROUP_WRITES]


@pytest.fixture
def synced(memory_config, memory_world):
    memory_world.people = company()
    config, plugins = memory_config(groups=["department", "team"])

    def run(**options):
        memory_world.calls.clear()
        return sync_connection(config, "mem", plugins, RunOptions(**options))

    return run


def test_a_first_sync_puts_everyone_in_their_department_and_team_group(synced, memory_world):
    result = synced()
    assert result.status == "ok"
    held = groups_of(memory_world)
    assert len(held) == 9
    assert held["Sales"] == {f"p{i}@example.com" for i in range(0, 30, 3)}
    assert held["Team 1"] == {f"p{i}@example.com" for i in range(1, 30, 6)}
    assert {g.external_id for g in memory_world.groups.values()} >= {"department:10", "team:105"}
    lines = {g.name: g for g in result.report.groups}
    assert lines["Sales"].kind == "created" and lines["Sales"].added == 10
    assert "New group: Sales (10 members)" in [g.describe() for g in result.report.groups]
    assert synced().report.groups == [] and group_writes(memory_world) == []  # a second run writes nothing


def test_moving_people_makes_exactly_one_removal_and_one_addition_each(synced, memory_world):
    synced()
    for person in memory_world.people[:5]:
        person["department"] = {"id": "13", "name": "Finance"}
    result = synced()
    writes = group_writes(memory_world)
    added = sum(len(d[1]) for kind, d in writes if kind == "add_members")
    removed = sum(len(d[1]) for kind, d in writes if kind == "remove_members")
    created = [d for kind, d in writes if kind == "create_group"]
    assert created == ["Finance"] and removed == 5 and added == 0  # Finance is created with its 5 members
    assert groups_of(memory_world)["Finance"] == {f"p{i}@example.com" for i in range(5)}
    assert "p0@example.com" not in groups_of(memory_world)["Sales"]
    assert sorted(g.describe() for g in result.report.groups if g.kind == "changed") == [
        "Engineering: 2 members removed", "People: 1 member removed", "Sales: 2 members removed"]


def test_a_renamed_department_renames_its_group_and_keeps_it(synced, memory_world):
    synced()
    before = {g.external_id: gid for gid, g in memory_world.groups.items()}
    for person in memory_world.people:
        if person["department"]["id"] == "10":
            person["department"] = {"id": "10", "name": "Revenue"}
    result = synced()
    assert {g.external_id: gid for gid, g in memory_world.groups.items()} == before
    assert memory_world.groups[before["department:10"]].name == "Revenue"
    assert [g.describe() for g in result.report.groups] == ["Department 'Sales' renamed to 'Revenue'"]


def test_a_manual_membership_stays_under_managed_and_goes_under_overwrite(memory_config, memory_world):
    memory_world.people = company()
    config, plugins = memory_config(groups=["department"])
    sync_connection(config, "mem", plugins)
    sales = next(g for g in memory_world.groups.values() if g.name == "Sales")
    outsider = memory_world.new_id()
    memory_world.users[outsider] = {"email": "admin-placed@example.com"}
    sales.members.add(outsider)
    assert sync_connection(config, "mem", plugins).report.groups == []
    assert outsider in sales.members
    config, plugins = memory_config(groups={"fields": ["department"], "memberships": "overwrite"})
    result = sync_connection(config, "mem", plugins)
    assert outsider not in sales.members and len(sales.members) == 10
    assert [g.describe() for g in result.report.groups] == ["Sales: 1 member removed"]


def test_a_unit_gone_from_the_source_is_reported_and_its_group_left_in_place(synced, memory_world):
    synced()
    for person in memory_world.people:
        if person["department"]["id"] == "12":
            person["department"] = {"id": "11", "name": "Engineering"}
    result = synced(override_guards=True)  # ten people move at once
    assert "People" in groups_of(memory_world)
    assert "People: no longer in Memory; the group was left in place" in [g.describe() for g in
                                                                                result.report.groups]


def test_mass_membership_removals_stop_the_run_before_any_write(synced, memory_world):
    synced()
    for person in memory_world.people:
        person["department"] = {"id": "14", "name": "Everyone"}
    result = synced()
    assert result.status == "stopped" and "remove 30 group memberships" in result.message
    assert memory_world.writes() == [] and group_writes(memory_world) == []


def test_everyone_without_a_department_leaves_the_department_groups_alone(synced, memory_world):
    synced()
    for person in memory_world.people:
        person["department"] = None
    result = synced()
    assert result.status == "ok" and group_writes(memory_world) == []
    assert any("Nobody has a department" in w for w in result.report.warnings)
    assert len(groups_of(memory_world)["Sales"]) == 10


def test_a_create_refused_as_a_duplicate_name_is_looked_up_and_linked(memory_config, memory_world):
    memory_world.people = company(6)
    memory_world.groups["g-admin"] = __import__("hrsync.testing.memory_groups", fromlist=["MemoryGroup"]).MemoryGroup(
        "Sales")
    config, plugins = memory_config(groups=["department"])
    result = sync_connection(config, "mem", plugins)
    assert result.status == "ok" and len(memory_world.groups) == 3  # the admin's "Sales" adopted, not doubled
    assert memory_world.groups["g-admin"].external_id == "department:10"
    assert [g.kind for g in result.report.groups if g.name == "Sales"] == ["linked"]


def test_a_dry_run_shows_group_changes_and_writes_none(synced, memory_world):
    result = synced(dry_run=True)
    assert sorted(g.describe() for g in result.report.groups)[0] == "New group: Engineering (10 members)"
    assert memory_world.groups == {}


def test_groups_need_an_org_unit_field_of_the_source(memory_config):
    with pytest.raises(ConfigError) as caught:
        memory_config(groups=["first_name", "division"])
    text = str(caught.value)
    assert "'first_name' is not an org-unit field" in text and "'division' is not an org-unit field" in text


def test_no_groups_by_default(memory_config, memory_world):
    memory_world.people = company(6)
    config, plugins = memory_config()
    assert sync_connection(config, "mem", plugins).report.groups == [] and memory_world.groups == {}
    state = open_state(config.state)
    assert state.group_links("mem") == {}
    state.close()


def test_a_group_created_by_a_killed_run_is_found_by_its_external_id_not_created_again(memory_config, memory_world):
    from hrsync.testing.memory_groups import MemoryGroup

    memory_world.people = company(6)
    config, plugins = memory_config(groups=["department"])
    sync_connection(config, "mem", plugins)
    state = open_state(config.state)  # as if the run died after the sink created the groups, before recording
    state.db.execute("delete from groups")
    state.db.execute("delete from memberships")
    state.close()
    memory_world.calls.clear()
    result = sync_connection(config, "mem", plugins)
    assert len(memory_world.groups) == 3 and [c for c in memory_world.calls if c[0] == "create_group"] == []
    assert {g.kind for g in result.report.groups} == {"linked"}
    assert {len(g.members) for g in memory_world.groups.values()} == {2}
    memory_world.groups["g-other"] = MemoryGroup("Finance", "erp:7")  # a group another system owns
    memory_world.group_conflicts.add("Finance")
    memory_world.people[0]["department"] = {"id": "13", "name": "Finance"}
    result = sync_connection(config, "mem", plugins, RunOptions(override_guards=True))  # 1 of 6 is 17 %
    (line,) = [g for g in result.report.groups if g.name == "Finance"]
    assert line.outcome == "failed" and "a group named Finance exists" in line.message
    assert result.status == "partial" and memory_world.groups["g-other"].members == set()


def test_reports_show_group_changes_by_name(synced, memory_world):
    from hrsync.report.render import render_html, render_text

    report = synced().report
    text = render_text(report)
    assert "Groups (9):" in text and "  - New group: Sales (10 members)" in text
    assert "New group: Team 0 (5 members)" in render_html(report)
    stored = type(report).from_dict(report.to_dict())
    assert stored.groups == report.groups
