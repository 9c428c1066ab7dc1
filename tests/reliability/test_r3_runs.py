"""Round 3 of the adversarial review (issue 24): records and runs.

Engine behaviour against the in-memory reference connectors (a MemoryWorld and a real SQLite state).
"""

from __future__ import annotations

import signal
import subprocess

import pytest

from hrsync.state.store import open_state
from hrsync_plugins.personio.sandbox_data import generate_employees, make_employee
from tests.helpers import HRSYNC, cli_env, person, run_cli, sync_memory, wait_until


def test_r3_5_leavers_never_created_who_all_turn_active_are_stopped_like_a_mass_reactivation(memory_config,
                                                                                            memory_world):
    # 60 people at work, 40 former employees the first run left uncreated (never in the app).
    memory_world.people = [person(i) for i in range(60)] + [person(i, status="inactive") for i in range(60, 100)]
    loaded = memory_config()
    first = sync_memory(loaded)
    assert first.status == "ok" and first.report.counts["not_created"] == 40
    for former in memory_world.people[60:]:  # a bulk import mistake: every former employee is active again
        former["status"] = "active"
    memory_world.calls.clear()
    stopped = sync_memory(loaded)
    assert stopped.status == "stopped" and "would make inactive people active again: 40 people" in stopped.message
    assert memory_world.writes() == []
    allowed = sync_memory(loaded, override_guards=True)
    assert allowed.report.counts["created"] == 40


class DiesAfterCreate(BaseException):
    """Stands for the process dying after the sink confirmed a create, before hrsync recorded it."""


def test_r3_3_a_lost_create_then_the_person_leaves_is_linked_and_deactivated(memory_config, world, monkeypatch):
    from hrsync.testing.memory import MemorySink

    loaded = memory_config(missing="deactivate")
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
    world.people.pop()  # she leaves before the next run
    result = sync_memory(loaded)
    (user,) = [u for u in world.users.values() if u["email"] == "person50@example.com"]
    assert user["active"] is False, result.plan.actions
    assert [a.email for a in result.plan.of("deactivate")] == ["person50@example.com"]
    state = open_state(loaded[0].state, read_only=True)
    assert state.intents("mem") == set() and state.links("mem")["50"].deactivated
    state.close()
    world.calls.clear()
    assert sync_memory(loaded).status == "ok" and world.writes() == []


def test_r3_3_a_lost_create_that_never_reached_the_sink_is_confirmed_absent(memory_config, world, monkeypatch):
    from hrsync.testing.memory import MemorySink

    loaded = memory_config(missing="deactivate")
    sync_memory(loaded)
    world.people.append(person(50))

    def die_before_sending(self, record):
        raise DiesAfterCreate

    monkeypatch.setattr(MemorySink, "create", die_before_sending)
    with pytest.raises(DiesAfterCreate):
        sync_memory(loaded)
    monkeypatch.undo()
    world.people.pop()
    world.calls.clear()
    result = sync_memory(loaded)
    assert result.status == "ok" and world.writes() == []
    state = open_state(loaded[0].state, read_only=True)
    assert state.intents("mem") == set() and "50" not in state.links("mem")
    state.close()


def test_r3_19_an_aborted_runs_writes_are_in_its_report_which_can_be_shown(hosts_file, personio, scim):
    from hrsync.config.load import load_config
    from hrsync.report.mail import build_message
    from hrsync.sync.engine import sync_connection
    from tests.helpers import bundled_plugins

    personio.employees = generate_employees(30, seed=24)
    path = hosts_file(create_leavers=True)
    plugins = bundled_plugins(memory=False)
    config = load_config(path, plugins)
    assert sync_connection(config, "acme", plugins).status == "ok"  # run 1: everyone created
    for employee in personio.employees:
        personio.change(employee["id"]["value"], last_name="Renamed")
    scim.faults.slow_seconds = 0.3  # the writes in flight take a while to finish after the first Ctrl-C
    scim.clear_log()
    proc = subprocess.Popen([HRSYNC, "--config", str(path), "run", "acme"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env())
    wait_until(lambda: len(scim.write_requests()) >= 6)
    proc.send_signal(signal.SIGINT)
    while "Stopping after the writes in flight" not in proc.stderr.readline():
        pass
    proc.send_signal(signal.SIGINT)  # the second Ctrl-C aborts at once: run 2 never writes its report
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    scim.faults.slow_seconds = 0
    assert sync_connection(config, "acme", plugins).status == "ok"  # run 3 marks run 2 crashed and finishes
    with open_state(config.state, read_only=True) as state:
        row = state.run(2)
    stored = row["report"]
    assert row["status"] == "crashed" and stored is not None
    updated = {a.source_id for a in stored.actions if a.action == "update" and a.outcome == "applied"}
    assert updated and stored.counts["updated"] == len(updated) == row["counts"]["updated"]
    shown = run_cli("--config", str(path), "report", "2")
    assert shown.returncode == 0, shown.stderr
    assert f"{len(updated)} updated" in shown.stdout and "ended before it finished" in shown.stdout
    assert f"{len(updated)} updated" in build_message(stored, "h@example.com", ["hr@example.com"])["Subject"]  # --send


def test_r3_19_run_ids_are_never_reused_after_prune(memory_config, world):
    import datetime as dt

    loaded = memory_config()
    last = [sync_memory(loaded).run_id for _ in range(3)][-1]
    with open_state(loaded[0].state) as state:
        assert state.prune(dt.datetime.now(dt.UTC) + dt.timedelta(days=1)) == 3
    again = sync_memory(loaded)
    assert again.run_id == last + 1  # a report or an e-mail naming run 3 never means another run


def test_r3_19_only_with_an_email_nobody_has_is_a_usage_error_with_no_run_and_no_report(memory_config, world):
    from hrsync.errors import UsageError
    from hrsync.service.runner import run_and_report
    from hrsync.sync.engine import RunOptions

    config, plugins = memory_config()
    sync_memory((config, plugins))
    with pytest.raises(UsageError, match="Nobody with e-mail nobody@x.example is in the source of connection 'mem'"):
        run_and_report(config, "mem", plugins, RunOptions(only="nobody@x.example"))
    with open_state(config.state, read_only=True) as state:
        assert [r["status"] for r in state.runs("mem")] == ["ok"]


def test_r3_18_full_and_a_normal_run_agree_on_reactivating_a_leaver_hrsync_deactivated(e2e_config, personio, scim):
    from hrsync.sync.engine import RunOptions, sync_connection

    personio.employees = [make_employee(id=i, first_name=f"P{i}", last_name="L", email=f"p{i}@example.com",
                                        status="active") for i in range(1, 6)]
    config, plugins = e2e_config(missing="deactivate", guards={"max_deactivation_percent": 50,
                                                                "max_reactivation_percent": 50})
    sync_connection(config, "acme", plugins)
    personio.remove(3)
    assert sync_connection(config, "acme", plugins).report.counts["deactivated"] == 1
    personio.add(id=3, first_name="P3", last_name="L", email="p3@example.com", status="active")  # she is back

    def planned(**options):
        plan = sync_connection(config, "acme", plugins, RunOptions(dry_run=True, **options)).plan
        return {a.source_id: a.changes.get("active") for a in plan.actions if a.kind == "update"}

    assert planned(full=True) == planned() == {"3": (False, True)}
    assert sync_connection(config, "acme", plugins, RunOptions(full=True)).report.counts["updated"] == 1
    assert scim.by_user_name("p3@example.com")["active"] is True


@pytest.mark.parametrize("daily_at", ["01:00", "02:00", "02:30", "03:00"])
def test_r3_17_exactly_one_scheduled_run_per_day_across_both_dst_changes(tmp_path, memory_world, daily_at):
    import collections
    import datetime as dt
    import zoneinfo

    import schedule
    import time_machine

    from hrsync.config.load import parse_config
    from hrsync.registry import load_plugins
    from hrsync.service.daemon import build_jobs
    from hrsync.testing import memory_plugin

    plugins = load_plugins(entry_points=False, plugins=[("memory", memory_plugin())])
    conn = {"source": {"plugin": "memory", "world": memory_world}, "sink": {"plugin": "memory", "world": memory_world},
            "schedule": {"daily_at": daily_at}}
    config = parse_config({"host": {"state": str(tmp_path / "state.db"), "timezone": "Europe/Stockholm"},
                           "connections": {"mem": conn}}, plugins, path=tmp_path / "hosts.yaml")
    stockholm = zoneinfo.ZoneInfo("Europe/Stockholm")
    for change in (dt.datetime(2026, 3, 29, tzinfo=stockholm), dt.datetime(2026, 10, 25, tzinfo=stockholm)):
        runs: list[dt.datetime] = []
        end = change + dt.timedelta(days=3)  # midnight, local time, three days after the change
        with time_machine.travel(change - dt.timedelta(days=2), tick=False) as clock:
            scheduler = schedule.Scheduler()
            build_jobs(scheduler, config, lambda name, runs=runs: runs.append(dt.datetime.now(stockholm)))
            while dt.datetime.now(stockholm) < end:  # a tick every ten minutes
                clock.shift(dt.timedelta(minutes=10))
                scheduler.run_pending()
        per_day = collections.Counter(run.date() for run in runs)
        assert sorted(per_day) == [(change - dt.timedelta(days=2)).date() + dt.timedelta(days=n) for n in range(5)]
        assert set(per_day.values()) == {1}, runs
        assert all(run.strftime("%H:%M") == daily_at for run in runs if run.date() != change.date())


def test_r3_4_two_people_who_swap_email_addresses_are_synced_through_a_temporary_address(e2e_config, personio,
                                                                                         scim):
    from hrsync.sync.engine import sync_connection

    personio.employees = [make_employee(id=i, first_name=f"P{i}", last_name="L", email=f"p{i}@example.com",
                                        status="active") for i in range(1, 6)]
    config, plugins = e2e_config()
    sync_connection(config, "acme", plugins)
    personio.change(1, email="p2@example.com")  # HR fixes a mix-up: 1 and 2 swap addresses,
    personio.change(2, email="p3@example.com")  # and 3 is part of it too (a cycle of three)
    personio.change(3, email="p1@example.com")
    personio.change(4, email="p5@example.com")  # and 4 and 5 swap theirs
    personio.change(5, email="p4@example.com")
    result = sync_connection(config, "acme", plugins)
    assert result.status == "ok", [a.message for a in result.report.attention]
    held = {u["externalId"]: u["userName"] for u in scim.users()}
    assert held == {"1": "p2@example.com", "2": "p3@example.com", "3": "p1@example.com", "4": "p5@example.com",
                    "5": "p4@example.com"}
    assert result.report.counts["updated"] == 5
    assert sum(1 for a in result.report.actions if any("temporary address" in n for n in a.notes)) == 2
    again = sync_connection(config, "acme", plugins)
    assert again.status == "ok" and again.report.counts["updated"] == 0


def test_r3_4_a_chain_of_changes_is_ordered_and_only_a_swap_is_parked():
    from hrsync.plan import UPDATE, Action, Change
    from hrsync.sync.email_moves import order_moves

    def move(source_id, old, new):
        return Action(UPDATE, source_id, source_id, new, sink_id=f"u{source_id}", changes={"email": Change(old, new)})

    # x takes a's address once a has moved to a new one; b and c swap theirs.
    x, a = move("x", "x@example.com", "a@example.com"), move("a", "a@example.com", "f@example.com")
    b, c = move("b", "b@example.com", "c@example.com"), move("c", "c@example.com", "b@example.com")
    ordered, parks = order_moves([x, b, a, c], run_id=7)
    assert [(parked.source_id, temporary) for parked, temporary in parks] == [("b", "hrsync-moving-b-run7@example.com")]
    assert [m.source_id for m in ordered] == ["a", "x", "c", "b"]
