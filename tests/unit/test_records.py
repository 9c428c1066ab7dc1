"""Record validation alone: raw memory-source records → people to plan, or skips and defers with reasons."""

from __future__ import annotations

import pytest

from hrsync import Defer, RunContext
from hrsync.errors import UsageError
from hrsync.plan import DEFER, SKIP
from hrsync.sync.records import RecordValidator, normalise_email
from hrsync.testing.memory import MemorySink, MemorySource
from tests.helpers import person


def validate(connection, raws, sink_cls=MemorySink, **settings):
    conn = connection(**settings)
    context = RunContext("mem")
    source, sink = MemorySource(conn.source.settings, context), sink_cls(conn.sink.settings, context)
    return RecordValidator(conn, source, sink).validate(iter(raws))


def reasons(records) -> dict[str, str]:
    return {a.source_id: a.reason for a in records.actions if a.kind == SKIP}


def test_a_valid_record_becomes_a_person_in_the_sinks_fields(connection):
    records = validate(connection, [person(1, email=" Person1@Example.COM ", office="Malmö")])
    (p,) = records.people
    assert (p.source_id, p.display, p.email_key) == ("1", "First1 Last1 (id 1)", "person1@example.com")
    assert p.desired == {"email": "person1@example.com", "first_name": "First1", "last_name": "Last1",
                         "gender": "female", "birthday": "1990-04-02", "hire_date": "2020-01-01",
                         "termination_date": None, "status": "active", "active": True}
    assert records.actions == [] and records.read_count == 1


def test_the_mapping_shapes_the_person(connection):
    records = validate(connection, [person(1, office="Malmö")], mapping={"last_name": {"from": "office"}})
    assert records.people[0].desired["last_name"] == "Malmö"


@pytest.mark.parametrize(("values", "says"), [
    ({"id": None}, "has no id in Memory"),
    ({"email": None}, "has no e-mail in Memory — add one there"),
    ({"email": "not-an-address"}, "has an invalid e-mail in Memory (not-an-address: it has no @) — correct it there"),
    ({"status": "retired"}, "has invalid data in Memory (status: Must be one of"),
])
def test_a_record_that_cannot_be_carried_is_skipped_with_a_reason_to_act_on(connection, values, says):
    records = validate(connection, [person(1, **values), person(2)])
    (skip,) = records.actions
    assert skip.kind == SKIP and says in skip.reason and "First1 Last1" in skip.reason
    assert [p.source_id for p in records.people] == ["2"] and records.read_count == 2


def test_a_sensitive_value_is_never_quoted_in_a_skip_reason(connection):
    (skip,) = validate(connection, [person(1, birthday="1990-13-45")]).actions
    assert "birthday: invalid value" in skip.reason and "1990-13-45" not in skip.reason


def test_two_people_sharing_an_email_are_both_skipped(connection):
    records = validate(connection, [person(1), person(2, email="PERSON1@example.com"), person(3)])
    assert [p.source_id for p in records.people] == ["3"]
    said = reasons(records)
    assert "shares the e-mail person1@example.com with First2 Last2 (id 2)" in said["1"]
    assert "with First1 Last1 (id 1)" in said["2"]


def test_the_same_person_twice_in_one_read_is_kept_once(connection):
    records = validate(connection, [person(1), person(1, first_name="Again")])
    assert [p.desired["first_name"] for p in records.people] == ["First1"] and records.actions == []
    assert records.read_count == 2


def test_people_out_of_scope_are_neither_planned_nor_skipped(connection):
    records = validate(connection, [person(1, office="Munich"), person(2, office="Stockholm")],
                       scope={"include": {"office": ["stockholm"]}})
    assert [p.source_id for p in records.people] == ["2"]
    assert records.out_of_scope == {"1"} and records.actions == []


def test_a_person_the_sink_defers_is_left_alone_and_not_missing(connection):
    class Waits(MemorySink):
        def prepare(self, record):
            return Defer("starts later") if record["first_name"] == "First1" else super().prepare(record)

    records = validate(connection, [person(1), person(2, email=None)], sink_cls=Waits)
    assert [(a.kind, a.reason) for a in records.actions if a.source_id == "1"] == [(DEFER, "starts later")]
    assert records.people == [] and records.seen_ids == {"1", "2"}


def test_only_keeps_one_persons_records_or_says_nobody_has_that_email(connection):
    records = validate(connection, [person(1), person(2), person(3, status="retired")])
    assert [p.source_id for p in records.only(" PERSON2@example.com", connection="mem").people] == ["2"]
    assert [a.source_id for a in records.only("person3@example.com", connection="mem").actions] == ["3"]
    with pytest.raises(UsageError, match="Nobody with e-mail nobody@example.com"):
        records.only("nobody@example.com", connection="mem")


def test_emails_match_trimmed_and_lower_cased_never_case_folded():
    assert normalise_email("  Anna.Straße@Example.COM ") == "anna.straße@example.com"
    assert normalise_email("   ") is None and normalise_email(None) is None and normalise_email(5) is None
