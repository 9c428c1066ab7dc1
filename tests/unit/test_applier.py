"""The applier alone: a plan's writes to the memory sink, each intent and outcome in a real SQLite state.

"Committed" is checked from a second connection to the state file, as the next run (after a crash) sees it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from hrsync import ConflictError, RecordError, RetriableError, SinkError, SinkPerson
from hrsync.plan import APPLIED, CREATE, FAILED, UNCHANGED, UPDATE, Plan
from hrsync.sync.applier import Applier
from hrsync.sync.planner import Planner
from hrsync.testing.memory import MemorySink
from tests.helpers import wanted


def committed(state, sql: str) -> list[tuple]:
    """What another connection to the state file sees: only committed rows."""
    with closing(sqlite3.connect(state.path)) as other:
        return other.execute(sql).fetchall()


class Rig:
    """One run of connection ``mem``: a planner and an applier over the given sink and state."""

    def __init__(self, conn, sink, state, *, listed=None, max_failures_in_a_row=5):
        self.sink, self.state = sink, state
        links = state.links("mem")
        listed = None if listed is None else {p.sink_id: p for p in listed}
        self.planner = Planner(conn, sink, links, state.digests, listed,
                               applied=lambda ids: state.applied("mem", ids))
        self.run_id = state.start_run("mem", "normal")
        self.warnings: list[str] = []
        self.applier = Applier(connection="mem", run_id=self.run_id, sink=sink, state=state, planner=self.planner,
                               warn=self.warnings.append, max_failures_in_a_row=max_failures_in_a_row)

    def apply(self, people, **options) -> Plan:
        plan = Plan("mem", self.planner.plan(people, also_present=set()))
        self.applier.record_matches(plan, listed=self.planner.listed is not None)
        self.applier.apply(plan, **options)
        return plan


@pytest.fixture
def rig(connection, sink, hrsync_state):
    """``rig(sink=..., **options)``: a new run over the state (``hrsync_state``) and the memory sink."""
    conn = connection(missing="deactivate")
    return lambda other_sink=None, **options: Rig(conn, other_sink or sink, hrsync_state, **options)


def test_a_create_commits_its_intent_before_the_sink_is_called_and_its_outcome_after(rig, sink, hrsync_state):
    seen = []

    class Watched(MemorySink):
        def create(self, record):
            seen.append((committed(hrsync_state, "select source_id from pending"),
                         committed(hrsync_state, "select source_id from people")))
            return super().create(record)

    run = rig(Watched(sink.settings, sink.context))
    plan = run.apply([wanted(1), wanted(2)])
    assert seen == [([("1",)], []), ([("2",)], [("1",)])]  # person 1's outcome was in before person 2's write
    assert [a.outcome for a in plan.actions] == [APPLIED, APPLIED]
    assert committed(hrsync_state, "select * from pending") == []


def test_an_applied_create_is_remembered_with_sensitive_values_as_digests(rig, sink, hrsync_state):
    run = rig()
    (action,) = run.apply([wanted(1)]).actions
    assert action.sink_id in sink.world.users
    link = hrsync_state.links("mem")["1"]
    assert (link.sink_id, link.email_key) == (action.sink_id, "person1@example.com")
    applied = hrsync_state.applied("mem", ["1"])["1"]
    assert applied["first_name"] == "First1" and applied["birthday"].startswith("hmac2:")
    assert hrsync_state.digests.matches(applied["birthday"], "1990-04-02", "1")
    (row,) = hrsync_state.changes(run.run_id)
    assert (row["action"], row["outcome"], row["source_id"]) == (CREATE, APPLIED, "1")
    assert row["fields"]["birthday"] == {"changed": True} and row["fields"]["first_name"]["new"] == "First1"
    assert committed(hrsync_state, "select origin from people") == [("created",)]


def test_a_create_refused_as_a_duplicate_is_looked_up_linked_and_brought_up_to_date(rig, sink, hrsync_state):
    sink.world.users["hand"] = {**wanted(1).desired, "first_name": "Edited"}
    (action,) = rig().apply([wanted(1)]).actions
    assert [c[0] for c in sink.world.calls] == ["create", "find", "update"]
    assert sink.world.calls[-1] == ("update", ("hand", {"first_name": "First1"}))
    assert (action.kind, action.sink_id, action.matched, action.outcome) == (UPDATE, "hand", True, APPLIED)
    assert list(sink.world.users) == ["hand"] and sink.world.users["hand"]["first_name"] == "First1"
    assert hrsync_state.links("mem")["1"].sink_id == "hand"
    assert committed(hrsync_state, "select origin from people") == [("linked",)]


def test_a_duplicate_that_already_agrees_is_linked_without_a_write(rig, sink, hrsync_state):
    sink.world.users["hand"] = dict(wanted(1).desired)
    (action,) = rig().apply([wanted(1)]).actions
    assert (action.kind, action.outcome) == (UNCHANGED, APPLIED)
    assert [c[0] for c in sink.world.calls] == ["create", "find"]
    assert hrsync_state.links("mem")["1"].sink_id == "hand"


@pytest.mark.parametrize(("held", "says"), [
    (None, "cannot be found there"),
    ({"id": "77"}, "its source id is 77"),
])
def test_a_duplicate_that_cannot_be_linked_fails_with_a_reason(rig, sink, hrsync_state, held, says):
    class Taken(MemorySink):
        def create(self, record):
            raise ConflictError("taken", record=record["email"])

        def find(self, email):
            return None if held is None else SinkPerson("other", {**wanted(1).desired, **held})

    (action,) = rig(Taken(sink.settings, sink.context)).apply([wanted(1)]).actions
    assert action.outcome == FAILED and says in action.message
    assert hrsync_state.links("mem") == {}


def test_a_duplicate_linked_to_another_person_of_the_connection_is_not_taken_over(rig, sink, hrsync_state):
    rig().apply([wanted(2)])
    (taken,) = sink.world.users
    sink.world.users[taken] = {**sink.world.users[taken], "email": "person1@example.com"}  # reused by hand
    plan = rig().apply([wanted(1), wanted(2, email="person1@example.com")])
    failed = plan.actions[0]
    assert failed.outcome == FAILED and "linked to another person (source id 2)" in failed.message
    assert hrsync_state.links("mem")["2"].sink_id == taken and "1" not in hrsync_state.links("mem")


def test_a_failed_write_is_recorded_and_a_create_that_surely_did_not_happen_drops_its_intent(rig, sink,
                                                                                          hrsync_state):
    sink.world.fail_emails = {"person1@example.com"}
    run = rig()
    failed, done = run.apply([wanted(1), wanted(2)]).actions
    assert (failed.outcome, done.outcome) == (FAILED, APPLIED) and "fail_emails" in failed.message
    (row,) = [r for r in hrsync_state.changes(run.run_id) if r["source_id"] == "1"]
    assert row["outcome"] == FAILED and "fail_emails" in row["message"]
    assert set(hrsync_state.links("mem")) == {"2"} and hrsync_state.intents("mem") == set()


def test_a_create_that_may_have_happened_keeps_its_intent(rig, sink, hrsync_state):
    class TimesOut(MemorySink):
        def create(self, record):
            raise RetriableError("timed out after sending", record=record["email"], ambiguous=True)

    (action,) = rig(TimesOut(sink.settings, sink.context)).apply([wanted(1)]).actions
    assert action.outcome == FAILED and hrsync_state.intents("mem") == {"1"}


def test_writes_failing_in_a_row_for_a_passing_reason_stop_the_run(rig, sink, hrsync_state):
    class Down(MemorySink):
        def create(self, record):
            self.world.calls.append(("create", record["email"]))
            raise RetriableError("503", record=record["email"])

    run = rig(Down(sink.settings, sink.context), max_failures_in_a_row=2)
    with pytest.raises(SinkError) as info:
        run.apply([wanted(1), wanted(2), wanted(3)])
    assert info.value.context["guard"] == "outage" and len(sink.world.calls) == 2
    assert [r["outcome"] for r in hrsync_state.changes(run.run_id)] == [FAILED, FAILED]


def test_a_write_that_goes_through_ends_a_row_of_failures(rig, sink, hrsync_state):
    class Flaky(MemorySink):
        def create(self, record):
            if record["email"] in ("person0@example.com", "person2@example.com", "person4@example.com"):
                raise RetriableError("503", record=record["email"])
            return super().create(record)

    plan = rig(Flaky(sink.settings, sink.context), max_failures_in_a_row=2).apply([wanted(i) for i in range(5)])
    assert [a.outcome for a in plan.actions] == [FAILED, APPLIED, FAILED, APPLIED, FAILED]


def test_a_record_error_does_not_count_towards_an_outage(rig, sink, hrsync_state):
    class Refuses(MemorySink):
        def create(self, record):
            raise RecordError("refused", record=record["email"])

    plan = rig(Refuses(sink.settings, sink.context), max_failures_in_a_row=2).apply([wanted(i) for i in range(4)])
    assert [a.outcome for a in plan.actions] == [FAILED] * 4


def test_a_deactivation_keeps_the_values_last_applied_and_marks_the_link(rig, sink, hrsync_state):
    rig().apply([wanted(1), wanted(2)])
    plan = rig().apply([wanted(1)])
    (gone,) = [a for a in plan.actions if a.source_id == "2"]
    assert gone.outcome == APPLIED and sink.world.users[gone.sink_id]["active"] is False
    link = hrsync_state.links("mem")["2"]
    assert link.deactivated and link.applied["active"] is False and link.applied["first_name"] == "First2"


def test_changes_of_email_go_first_so_a_new_hire_can_take_the_freed_address(rig, sink, hrsync_state):
    rig().apply([wanted(1)])
    sink.world.calls.clear()
    plan = rig().apply([wanted(3, email="person1@example.com"), wanted(1, email="moved@example.com")])
    assert [a.kind for a in plan.actions] == [CREATE, UPDATE]
    assert [c[0] for c in sink.world.calls] == ["update", "create"]
    assert [a.outcome for a in plan.actions] == [APPLIED, APPLIED]


def test_a_field_the_sink_does_not_keep_is_marked_dropped_and_a_create_that_keeps_it_lifts_the_mark(
        rig, sink, hrsync_state):
    forgets = {"on": True}

    class Forgetful(MemorySink):
        def create(self, record):
            created = super().create(record)
            return SinkPerson(created.sink_id, {**created.record, "last_name": None} if forgets["on"]
                              else created.record)

    forgetful = Forgetful(sink.settings, sink.context)
    run = rig(forgetful)
    run.apply([wanted(1)])
    assert hrsync_state.dropped_fields("mem") == {"last_name"}
    assert any("did not keep last name" in w for w in run.warnings)
    forgets["on"] = False
    rig(forgetful).apply([wanted(2)])
    assert hrsync_state.dropped_fields("mem") == set()


def test_people_matched_with_nothing_to_write_are_linked_and_a_listing_resolves_old_intents(rig, sink,
                                                                                          hrsync_state):
    hrsync_state.intend_create("mem", "9", "person9@example.com", 0)  # left by a run that died
    sink.world.users["hand"] = dict(wanted(1).desired)
    run = rig(listed=[SinkPerson("hand", dict(wanted(1).desired))])
    (action,) = run.apply([wanted(1)]).actions
    assert (action.kind, action.matched, action.outcome) == (UNCHANGED, True, APPLIED)
    assert sink.world.writes() == [] and hrsync_state.links("mem")["1"].sink_id == "hand"
    assert hrsync_state.intents("mem") == set()


def test_intents_stay_when_the_sink_was_not_listed(rig, sink, hrsync_state):
    hrsync_state.intend_create("mem", "9", "person9@example.com", 0)
    rig().apply([])
    assert hrsync_state.intents("mem") == {"9"}


def test_a_stop_request_ends_the_run_between_people(rig, sink, hrsync_state):
    run = rig()
    plan = Plan("mem", run.planner.plan([wanted(i) for i in range(5)], also_present=set()))
    finished = run.applier.apply(plan, should_stop=lambda: len(sink.world.writes()) >= 2)
    assert finished is False and len(sink.world.users) == 2
    assert [a.outcome for a in plan.actions].count(APPLIED) == 2 and hrsync_state.intents("mem") == set()
