"""The report as HR reads it: who is fine again, who is left active though gone, linked people once, the CSV."""

from __future__ import annotations

import csv
import io

from hrsync.report.mail import MAIL_LIMIT, build_message
from hrsync.report.render import render_html, render_text
from hrsync.service.runner import run_and_report
from tests.helpers import person, sync_memory


def attachment(report) -> tuple[str, list[list[str]]]:
    message = build_message(report, "hrsync@example.com", ["hr@example.com"])
    (part,) = list(message.iter_attachments())
    assert part.get_content_type() == "text/csv" and part.get_content_charset() == "utf-8"
    return part.get_filename(), list(csv.reader(io.StringIO(part.get_payload(decode=True).decode("utf-8-sig"))))


def test_people_who_needed_attention_last_run_and_are_fine_now_are_resolved(memory_config, world):
    loaded = memory_config()
    world.people[3]["email"] = None
    world.fail_emails.add("person4@example.com")
    first = sync_memory(loaded)
    assert {a.source_id for a in first.report.attention} == {"3", "4"} and first.report.resolved == []
    world.people[3]["email"] = "person3@example.com"
    world.fail_emails.clear()
    second = sync_memory(loaded)
    assert [(r.person, r.message) for r in second.report.resolved] == [
        ("First3 Last3 (id 3)", "created"), ("First4 Last4 (id 4)", "created")]
    assert "no e-mail" in second.report.resolved[0].reason and second.report.attention == []
    text = render_text(second.report)
    assert "Resolved since the last run (2)" in text and "Nothing needs your attention" in text
    assert "First3 Last3 (id 3) <person3@example.com>: created; last run: First3 Last3 (id 3) has no e-mail" in text
    assert sync_memory(loaded).report.resolved == []  # said once: the run before needed nothing


def test_a_linked_person_is_listed_once_with_their_changes_in_human_words(memory_config, world):
    world.users["u-old"] = {**{k: v for k, v in person(3).items() if k != "id"}, "last_name": "Berg", "active": True}
    report = sync_memory(memory_config()).report
    text = render_text(report, limit=1000)
    assert text.count("First3 Last3 (id 3)") == 1
    linked = text.split("Linked to existing Memory users by e-mail (1):")[1].split("\n\n")[0]
    assert "First3 Last3 (id 3) <person3@example.com>: updated: Last name: Berg → Last3" in linked
    assert "Memory ID" not in text and "id: 3" not in text and "Created (19)" in text
    assert report.counts["updated"] == 1 and "Updated (" not in text
    assert "mem: 19 created, 1 linked" in text.splitlines()[0]


def test_the_email_carries_every_line_as_csv_with_field_names_never_sensitive_values(memory_config, world):
    world.people += [person(i) for i in range(20, 60)]
    world.people[5]["first_name"] = "=HYPERLINK(\"http://x\")"
    loaded = memory_config()
    first = sync_memory(loaded)
    name, rows = attachment(first.report)
    assert name == "hrsync-mem-run-1.csv" and rows[0] == ["Name", "E-mail", "What happened", "Changed fields",
                                                          "Details"]
    assert len(rows) == 61 and {r[2] for r in rows[1:]} == {"created"}
    assert ["'=HYPERLINK(\"http://x\") Last5 (id 5)", "person5@example.com", "created", "", ""] in rows
    message = build_message(first.report, "hrsync@example.com", ["hr@example.com"])
    body = message.get_body(("plain",)).get_content()
    assert f"… and {60 - MAIL_LIMIT} more (all 60 are in the attached hrsync-mem-run-1.csv)" in body
    assert "hrsync report" not in body and "hrsync report" not in message.get_body(("html",)).get_content()
    world.people[3].update(last_name="Lindqvist", birthday="1981-11-30")
    _, rows = attachment(sync_memory(loaded).report)
    assert rows[1:] == [["First3 Lindqvist (id 3)", "person3@example.com", "updated", "Birthday, Last name", ""]]
    assert "1981-11-30" not in str(rows)


def test_a_standing_condition_is_said_in_full_once_then_quietly_and_again_when_it_changes(memory_config, world,
                                                                                          monkeypatch):
    from hrsync.testing.memory import MemorySink

    condition = ["Memory does not receive gender: the memory sink is told so by this test."]
    monkeypatch.setattr(MemorySink, "open", lambda self: [self.context.warn(c) for c in condition])
    config, plugins = memory_config(report={"recipients": ["hr@example.com"], "send": "always"})

    def run():
        result, delivery = run_and_report(config, "mem", plugins)
        assert delivery.how == "outbox"
        return result.report, render_text(result.report), render_html(result.report)

    report, text, html = run()
    assert report.standing == [] and f"Warning: {condition[0]}" in text and "#fff8e1" in html
    report, text, html = run()
    assert report.standing == condition and "Warning:" not in text and "#fff8e1" not in html
    assert "Still as reported before: Memory does not receive gender." in text and "Memory does not receive" in html
    condition[0] = "Memory does not receive gender or birthday: the condition changed."
    report, text, _ = run()
    assert report.standing == [] and f"Warning: {condition[0]}" in text
    condition.clear()
    assert run()[0].warnings == []
    condition.append("Memory does not receive gender or birthday: the condition changed.")
    assert run()[0].standing == []  # gone, then back: said in full again
