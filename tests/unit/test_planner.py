"""The planner alone: people + links (+ a listing) → one action per person, and the one diff."""

from __future__ import annotations

import pytest

from hrsync.connectors import SinkPerson
from hrsync.plan import CREATE, DEACTIVATE, LEFT, SKIP, UNCHANGED, UPDATE, Change
from hrsync.state.store import Link
from hrsync.sync.planner import BATCH, MISSING, Planner, needs_listing
from tests.helpers import wanted


def link(i: int, digests, sensitive=("birthday", "gender"), **applied) -> Link:
    """Person ``i`` linked to sink user ``u<i>``, with what the last run applied (by default: :func:`wanted`)."""
    values = {**wanted(i).desired, **applied}
    return Link(str(i), f"u{i}", values["email"], digests.protect(values, sensitive, str(i)))


def planner(connection, sink, digests, links=(), listed=None, **options) -> Planner:
    links = {lk.source_id: lk for lk in links}
    listed = None if listed is None else {p.sink_id: p for p in listed}
    return Planner(connection(**options.pop("settings", {})), sink, links, digests, listed, **options)


def only(actions):
    (action,) = actions
    return action


def test_a_linked_person_whose_data_did_not_change_gets_nothing(connection, sink, digests):
    action = only(planner(connection, sink, digests, [link(1, digests)]).plan([wanted(1)], also_present=set()))
    assert (action.kind, action.sink_id, action.changes) == (UNCHANGED, "u1", {})


def test_a_linked_person_gets_an_update_with_only_the_changed_field(connection, sink, digests):
    action = only(planner(connection, sink, digests, [link(1, digests)]).plan(
        [wanted(1, last_name="Berg")], also_present=set()))
    assert (action.kind, action.sink_id) == (UPDATE, "u1")
    assert action.changes == {"last_name": Change("Last1", "Berg")}


def test_an_email_change_updates_the_linked_user_rather_than_creating_one(connection, sink, digests):
    action = only(planner(connection, sink, digests, [link(1, digests)]).plan(
        [wanted(1, email="new@example.com")], also_present=set()))
    assert (action.kind, action.sink_id) == (UPDATE, "u1")
    assert action.changes == {"email": Change("person1@example.com", "new@example.com")}


def test_an_unlinked_person_is_created_with_every_value_they_have(connection, sink, digests):
    action = only(planner(connection, sink, digests).plan([wanted(1, status=None)], also_present=set()))
    assert action.kind == CREATE and action.sink_id is None
    assert action.changes["first_name"] == Change(None, "First1") and "status" not in action.changes
    assert action.desired["status"] is None  # the create still sends the whole desired state


def test_a_sensitive_value_is_compared_by_its_digest_and_never_shown(connection, sink, digests):
    links = [link(1, digests), link(2, digests)]
    assert links[0].applied["birthday"].startswith("hmac2:")  # what the state holds: no birthday
    same, moved = planner(connection, sink, digests, links).plan(
        [wanted(1), wanted(2, birthday="1990-04-03")], also_present=set())
    assert same.kind == UNCHANGED
    assert moved.kind == UPDATE and moved.changes == {"birthday": Change(None, "1990-04-03")}


def test_a_digest_is_of_one_person_another_persons_equal_value_differs(connection, sink, digests):
    # Person 2's stored digest is of the same birthday, but for person 1: it must not pass as person 2's.
    applied = {**digests.protect(wanted(2).desired, {"birthday", "gender"}, "2"),
               "birthday": digests.digest("1990-04-02", "1")}
    stored = Link("2", "u2", "person2@example.com", applied)
    action = only(planner(connection, sink, digests, [stored]).plan([wanted(2)], also_present=set()))
    assert action.kind == UPDATE and set(action.changes) == {"birthday"}


def test_against_a_listing_the_baseline_is_what_the_sink_holds(connection, sink, digests):
    held = SinkPerson("u1", {**wanted(1).desired, "first_name": "Edited by hand"})
    action = only(planner(connection, sink, digests, [link(1, digests)], [held]).plan(
        [wanted(1)], also_present=set()))
    assert action.kind == UPDATE and action.changes == {"first_name": Change("Edited by hand", "First1")}


def test_a_linked_user_missing_from_a_complete_listing_is_created_again(connection, sink, digests):
    action = only(planner(connection, sink, digests, [link(1, digests)], []).plan([wanted(1)], also_present=set()))
    assert action.kind == CREATE and "no longer exists in the sink" in action.notes[0]


def test_an_incomplete_listing_never_recreates_a_linked_user(connection, sink, digests):
    action = only(planner(connection, sink, digests, [link(1, digests)], [], listing_complete=False).plan(
        [wanted(1)], also_present=set()))
    assert (action.kind, action.sink_id) == (UNCHANGED, "u1")


def test_an_unlinked_person_is_matched_by_normalised_email_among_unlinked_users(connection, sink, digests):
    listed = [SinkPerson("u7", {**wanted(1).desired, "email": " Person1@Example.COM"}),
              SinkPerson("u2", wanted(2).desired)]
    plan = planner(connection, sink, digests, [link(2, digests)], listed)
    created_or_matched = {a.source_id: a for a in plan.plan([wanted(1), wanted(3)], also_present={"2"})}
    matched = created_or_matched["1"]
    assert (matched.kind, matched.sink_id, matched.matched) == (UPDATE, "u7", True)
    assert matched.changes == {"email": Change(" Person1@Example.COM", "person1@example.com")}
    assert created_or_matched["3"].kind == CREATE
    assert plan.unmatched() == []


def test_a_user_linked_to_someone_else_is_never_matched_by_email(connection, sink, digests):
    # u2 is linked to person 2; person 9 now has u2's address: a new user, not person 2's.
    listed = [SinkPerson("u2", wanted(2).desired)]
    action = only(planner(connection, sink, digests, [link(2, digests)], listed).plan(
        [wanted(9, email="person2@example.com")], also_present={"2"}))
    assert action.kind == CREATE


def test_a_user_carrying_another_source_id_is_skipped_not_linked(connection, sink, digests):
    listed = [SinkPerson("u5", {**wanted(1).desired, "id": "77"})]
    action = only(planner(connection, sink, digests, listed=listed).plan([wanted(1)], also_present=set()))
    assert action.kind == SKIP and "source id is 77" in action.reason


def test_a_user_carrying_this_source_id_is_this_person_whatever_its_email(connection, sink, digests):
    listed = [SinkPerson("u5", {**wanted(1).desired, "email": "old@example.com", "id": "1"}),
              SinkPerson("u6", wanted(1).desired)]
    action = only(planner(connection, sink, digests, listed=listed).plan([wanted(1)], also_present=set()))
    assert (action.kind, action.sink_id, action.matched) == (UPDATE, "u5", True)
    assert action.changes == {"email": Change("old@example.com", "person1@example.com")}


def test_a_leaver_never_linked_is_not_created_unless_the_connection_says_so(connection, sink, digests):
    leaver = wanted(1, active=False, status="inactive")
    assert only(planner(connection, sink, digests).plan([leaver], also_present=set())).kind == LEFT
    creating = planner(connection, sink, digests, settings={"create_leavers": True})
    assert only(creating.plan([leaver], also_present=set())).kind == CREATE


@pytest.mark.parametrize("missing", ["deactivate", "ignore"])
def test_linked_people_gone_from_the_source_follow_the_missing_setting(connection, sink, digests, missing):
    gone = link(2, digests)
    skipped = link(3, digests)  # in the source, but skipped this run: not missing
    already = Link("4", "u4", "person4@example.com", {"active": False}, deactivated=True)
    paused = link(5, digests, active=False)
    plan = planner(connection, sink, digests, [link(1, digests), gone, skipped, already, paused],
                   settings={"missing": missing}).plan([wanted(1)], also_present={"3"})
    deactivations = [a for a in plan if a.kind == DEACTIVATE]
    if missing == "ignore":
        assert deactivations == []
    else:
        (action,) = deactivations
        assert (action.source_id, action.sink_id, action.reason) == ("2", "u2", MISSING)
        assert action.changes == {"active": Change(True, False)}


def test_missing_people_are_left_out_when_asked(connection, sink, digests):
    plan = planner(connection, sink, digests, [link(2, digests)], settings={"missing": "deactivate"})
    assert [a.kind for a in plan.plan([wanted(1)], also_present=set(), include_missing=False)] == [CREATE]


def test_create_only_dropped_and_unreadable_fields_are_never_updated(connection, sink, digests):
    changed = wanted(1, first_name="A", last_name="B", status="onboarding", gender="male")
    plan = planner(connection, sink, digests, [link(1, digests)], dropped={"last_name"}, unknown={"status"},
                   settings={"mapping": {"first_name": {"apply": "create_only"}}})
    assert only(plan.plan([changed], also_present=set())).changes == {"gender": Change(None, "male")}


def test_changes_the_sink_forbids_are_dropped_with_its_note(connection, sink, digests):
    class KeepsPaused(type(sink)):
        def keep_as_is(self, changes, observed):
            return {k: v for k, v in changes.items() if k != "active"}, ["kept paused"]

    keeps = KeepsPaused(sink.settings, sink.context)
    action = only(planner(connection, keeps, digests, [link(1, digests, active=False)]).plan(
        [wanted(1, last_name="B")], also_present=set()))
    assert action.changes == {"last_name": Change("Last1", "B")} and action.notes == ["kept paused"]


def test_the_values_last_applied_are_read_a_batch_at_a_time(connection, sink, digests):
    links = [link(i, digests) for i in range(BATCH + 1)]
    asked: list[list[str]] = []

    def applied(ids):
        asked.append(ids)
        return {i: links[int(i)].applied for i in ids}

    actions = planner(connection, sink, digests, links, applied=applied).plan(
        [wanted(i) for i in range(BATCH + 1)], also_present=set())
    assert [len(ids) for ids in asked] == [BATCH, 1]
    assert {a.kind for a in actions} == {UNCHANGED}


def test_unmatched_lists_users_nobody_is_linked_to_by_email(connection, sink, digests):
    listed = [SinkPerson("u1", wanted(1).desired), SinkPerson("x", {"email": "Zed@Example.com", "first_name": "Z"}),
              SinkPerson("y", {"email": "amy@example.com", "first_name": "Amy", "last_name": "Lee"})]
    plan = planner(connection, sink, digests, [link(1, digests)], listed)
    plan.plan([wanted(1)], also_present=set())
    assert plan.unmatched() == [("Amy Lee", "amy@example.com"), ("Z", "zed@example.com")]


@pytest.mark.parametrize(("full", "first_run", "intents", "expected"), [
    (True, False, set(), True), (False, True, set(), True), (False, False, {"9"}, True), (False, False, set(), False)])
def test_the_sink_is_listed_only_when_needed(digests, full, first_run, intents, expected):
    people, links = [wanted(1), wanted(2)], {"1": link(1, digests)}
    assert needs_listing(people, links, full=full, first_run=first_run, intents=intents) is expected
    everyone_linked = {"1": link(1, digests), "2": link(2, digests)}
    assert needs_listing(people, everyone_linked, full=full, first_run=first_run, intents=intents) is full
