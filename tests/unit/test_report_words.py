"""The report stage alone: a report says what happened in HR's words, never in the code's names."""

from __future__ import annotations

import re

from hrsync.plan import GroupLine
from hrsync.report.changes_csv import changes_csv
from hrsync.report.render import render_html, render_text, subject
from hrsync.results import PersonLine, RunReport

#: Names from the code that once leaked into reports.
CODE_WORDS = re.compile(r"not_applied|not_created|deferred|partial|\bid: |first_name|last_name|_")


def every_kind(**run) -> RunReport:
    lines = [
        PersonLine("create", "Tomás Berg (id 1007)", "1007", "tomas@example.com", outcome="applied",
                   changes={"first_name": {"old": None, "new": "Tomás"}, "id": {"old": None, "new": "1007"}}),
        PersonLine("update", "Ann Lindqvist (id 1)", "1", "ann@example.com", outcome="applied", changes={
            "last_name": {"old": "Berg", "new": "Lindqvist"}, "birthday": {"changed": True}}),
        PersonLine("update", "Bo Ek (id 2)", "2", "bo@example.com", outcome="planned",
                   changes={"department": {"old": "Sales", "new": "Support"}}),
        PersonLine("defer", "Cy Lo (id 3)", "3", "cy@example.com", reason="starts on 2027-01-04"),
        PersonLine("left", "Di Ho (id 4)", "4"),
        PersonLine("skip", "Ed Fu (id 5)", "5", reason="Ed Fu (id 5) has no e-mail in Personio — add one there"),
    ]
    groups = [GroupLine("changed", "Sales", added=3, removed=1, outcome="applied"),
              GroupLine("changed", "Support", removed=1, outcome="applied"),
              GroupLine("created", "Guild", added=1, outcome="failed", message="refused")]
    return RunReport("acme", run_id=12, source="Personio", sink="Winningtemp", first_run=True, actions=lines,
                     groups=groups, counts={"created": 1, "updated": 1, "not_applied": 1, "deferred": 1,
                                            "not_created": 1, "skipped": 1}, **run)


def test_a_report_speaks_hr_words_in_text_html_and_the_csv():
    for status in ("partial", "interrupted", "stopped"):
        report = every_kind(status=status, stopped="The run stopped: Winningtemp did not answer." * (
            status == "stopped"))
        text, html = render_text(report), render_html(report)
        for shown in (text, re.sub(r"<[^>]*>", "", html), changes_csv(report).decode("utf-8-sig")):
            found = CODE_WORDS.findall(shown.replace("hrsync-acme-run-12", ""))
            assert not found, (status, found)
        assert "Last name: Berg → Lindqvist; Birthday changed" in text
        assert "Tomás Berg (id 1007) <tomas@example.com>\n" in text and "First name" not in text  # created: no values
        assert "Sales: 3 members added, 1 member removed" in text and "Support: 1 member removed" in text
        assert f"Needs your attention ({2 + (status == 'stopped')})" in text and "What to do: Add one there" in text
    assert subject(every_kind(status="partial")) == "acme: 1 created, 1 updated, 1 not applied, 2 need attention"
    assert subject(every_kind(status="interrupted")).startswith("acme: interrupted — 1 created")
    numbers = re.search(r"In numbers: (.*)", render_text(every_kind(status="partial"))).group(1)
    assert numbers == ("1 created, 1 updated, 1 not applied, 2 need attention, 1 waiting for their start date, "
                       "1 not created (had already left).")


def test_the_attention_section_comes_before_the_review_and_the_review_before_the_changes():
    report = every_kind(status="partial", unmatched=[PersonLine("unmatched", "Old One", email="old@example.com")])
    text = render_text(report)
    assert text.index("Needs your attention") < text.index("Please review (first sync)") < text.index("Changes\n")
    html = render_html(report)
    assert html.index('id="attention"') < html.index('id="review"') < html.index('id="changes"')
