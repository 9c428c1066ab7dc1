"""Snapshot sinks in the engine: planned against the last delivery, guarded before it, recorded after it."""

from __future__ import annotations

import json
import stat

import pytest

from hrsync.config.load import parse_config
from hrsync.registry import load_plugins
from hrsync.state.store import open_state
from hrsync.sync.engine import RunOptions, sync_connection
from hrsync.testing.memory import MemorySource, connectors_plugin
from hrsync.testing.memory_snapshots import MemorySnapshotSink
from tests.helpers import person

GUARDS = {"max_deactivations": 10, "max_deactivation_percent": 30, "max_shrink_percent": 50}


@pytest.fixture
def snapshot_config(tmp_path, memory_world):
    def load(**overrides):
        plugins = load_plugins(entry_points=False,
                               plugins=[("memory", connectors_plugin(MemorySource, MemorySnapshotSink))])
        conn = {"source": {"plugin": "memory", "world": memory_world},
                "sink": {"plugin": "memory-snapshot", "world": memory_world}, "guards": GUARDS, **overrides}
        data = {"host": {"state": str(tmp_path / "state.db")}, "connections": {"mem": conn}}
        return parse_config(data, plugins, path=tmp_path / "hosts.yaml"), plugins

    return load


def run(loaded, **options):
    config, plugins = loaded
    return sync_connection(config, "mem", plugins, RunOptions(**options))


@pytest.fixture
def delivered(snapshot_config, memory_world):
    """Twenty people, delivered once."""
    memory_world.people = [person(i, department={"id": f"d{i % 3}", "name": f"Dept {i % 3}"}) for i in range(20)]
    loaded = snapshot_config(groups=["department"])
    first = run(loaded)
    assert first.status == "ok", first.message
    return loaded


def test_a_first_run_delivers_everyone_with_their_groups_and_reports_them_created(delivered, memory_world):
    (snapshot,) = memory_world.deliveries
    assert sorted(memory_world.delivered) == sorted(str(i) for i in range(20))
    assert memory_world.delivered["4"]["birthday"] == "1990-04-05"  # the file carries what the state does not
    assert memory_world.delivered["4"]["groups"] == ["department:d1"]
    assert memory_world.delivered_groups == {"department:d0": "Dept 0", "department:d1": "Dept 1",
                                             "department:d2": "Dept 2"}
    last = open_state(delivered[0].state).runs()[0]
    assert last["status"] == "ok"


def test_a_run_without_changes_delivers_nothing_and_reports_nothing_changed(delivered, memory_world):
    again = run(delivered)
    assert len(memory_world.deliveries) == 1
    assert again.report.counts["unchanged"] == 20 and again.report.counts["created"] == 0
    assert any("no file was sent" in n for n in again.report.notices)
    assert len(run(delivered, full=True).report.notices) and len(memory_world.deliveries) == 2


def test_five_changed_people_are_named_and_the_next_delivery_holds_them(delivered, memory_world):
    for i in range(5):
        memory_world.people[i]["last_name"] = f"Changed{i}"
    result = run(delivered)
    updated = sorted(a.person for a in result.plan.actions if a.kind == "update")
    assert updated == sorted(f"First{i} Changed{i} (id {i})" for i in range(5))
    assert result.report.counts["updated"] == 5 and result.report.counts["unchanged"] == 15
    assert memory_world.delivered["3"]["last_name"] == "Changed3" and len(memory_world.deliveries) == 2


def test_a_guard_trip_delivers_nothing_and_records_nothing(delivered, memory_world):
    memory_world.people = memory_world.people[:12]  # 8 of 20 leave: above the 30% limit
    stopped = run(delivered)
    assert stopped.status == "stopped" and "would deactivate 8 people" in stopped.message
    assert len(memory_world.deliveries) == 1 and len(memory_world.delivered) == 20


def test_a_failed_delivery_records_nothing_and_the_next_run_delivers_the_change(delivered, memory_world):
    memory_world.people[0]["last_name"] = "Moved"
    memory_world.fail_delivery = True
    failed = run(delivered)
    assert failed.status == "stopped" and "the delivery failed" in failed.message
    assert memory_world.delivered["0"]["last_name"] == "Last0"
    memory_world.fail_delivery = False
    again = run(delivered)
    assert again.status == "ok" and again.report.counts["updated"] == 1
    assert memory_world.delivered["0"]["last_name"] == "Moved"


def test_leavers_drop_out_and_a_person_the_run_must_skip_keeps_their_delivered_row(delivered, memory_world):
    memory_world.keep_only = {str(i) for i in range(20)} - {"19"}  # the sink's status rules drop 19
    memory_world.people[3]["email"] = "not an address"
    result = run(delivered)
    assert result.status == "partial"  # person 3 needs attention
    assert "19" not in memory_world.delivered and result.report.counts["deactivated"] == 1
    assert memory_world.delivered["3"]["email"] == "person3@example.com"  # kept as last delivered
    assert memory_world.deliveries[-1].kept_as_delivered == ("3",)


def test_a_dry_run_writes_the_file_locally_sends_nothing_and_records_nothing(delivered, memory_world, tmp_path):
    memory_world.people[0]["last_name"] = "Dry"
    result = run(delivered, dry_run=True)
    (note,) = [n for n in result.report.notices if n.startswith("Dry run")]
    folder = tmp_path / note.split(" are in ")[1].split(" (")[0]
    written = json.loads((folder / "people.json").read_text())
    assert written["0"]["last_name"] == "Dry" and len(memory_world.deliveries) == 1
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "people.json").stat().st_mode) == 0o600
    assert run(delivered).report.counts["updated"] == 1  # the dry run recorded nothing


def test_a_file_that_would_hold_nobody_is_never_delivered(delivered, memory_world):
    memory_world.keep_only = set()
    stopped = run(delivered, override_guards=False)
    assert stopped.status == "stopped"
    assert len(memory_world.deliveries) == 1


def test_only_is_refused_for_a_snapshot_sink(delivered):
    stopped = run(delivered, only="person1@example.com")
    assert stopped.status == "stopped" and "--only cannot be used" in stopped.message


def test_departments_suddenly_empty_for_everyone_keep_the_delivered_memberships(delivered, memory_world):
    for p in memory_world.people:
        p["department"] = None
    memory_world.people[0]["last_name"] = "Changed"  # so that this run delivers
    result = run(delivered)
    assert len(memory_world.deliveries) == 2 and memory_world.delivered["0"]["last_name"] == "Changed"
    assert memory_world.delivered["4"]["groups"] == ["department:d1"]
    assert any("department" in w for w in result.report.warnings)


def test_a_first_dry_run_with_a_state_folder_not_yet_made_writes_the_file_beside_it(memory_world, tmp_path):
    memory_world.people = [person(i) for i in range(5)]
    plugins = load_plugins(entry_points=False,
                           plugins=[("memory", connectors_plugin(MemorySource, MemorySnapshotSink))])
    conn = {"source": {"plugin": "memory", "world": memory_world},
            "sink": {"plugin": "memory-snapshot", "world": memory_world}, "guards": GUARDS}
    config = parse_config({"host": {"state_dir": "state"}, "connections": {"mem": conn}}, plugins,
                          path=tmp_path / "hosts.yaml")
    result = sync_connection(config, "mem", plugins, RunOptions(dry_run=True))
    assert result.status == "ok", result.report.message
    (note,) = [n for n in result.report.notices if n.startswith("Dry run")]
    assert "dry-runs" in note and memory_world.deliveries == []
