"""``hrsync person``: what happened to one person, from the state's change log and stored reports - the runs
that touched them, what changed (sensitive values never shown), their link now and what needs attention."""

from __future__ import annotations

import json

from hrsync.errors import EXIT_USAGE
from tests.helpers import person, run_cli, sync_memory


def _hosts(tmp_path):
    # The CLI loads plugins from entry points; the runs are made through the API with the memory connectors, and
    # `hrsync person` reads the state they left (it needs no connector).
    path = tmp_path / "hosts.yaml"
    path.write_text("connections: {}\nhost: {state: state.db}\n")
    return str(path)


def test_a_person_touched_in_three_runs_is_answered_with_all_three(tmp_path, memory_config, memory_world):
    memory_world.people = [person(1, last_name="Berg", birthday="1987-12-24"), person(2)]
    loaded = memory_config()
    first = sync_memory(loaded)
    memory_world.people[0]["last_name"] = "Lindqvist"
    second = sync_memory(loaded)
    sync_memory(loaded)  # nothing changed for anyone: this run did not touch them
    memory_world.people[0]["birthday"] = "1987-12-25"
    third = sync_memory(loaded)
    shown = run_cli("--config", _hosts(tmp_path), "person", "PERSON1@example.com", "--json")
    assert shown.returncode == 0, shown.stderr
    (anna,) = json.loads(shown.stdout)["people"]
    assert [r["id"] for r in anna["runs"]] == [first.run_id, second.run_id, third.run_id]
    assert [[e["action"] for e in r["events"]] for r in anna["runs"]] == [["create"], ["update"], ["update"]]
    assert anna["runs"][1]["events"][0]["changes"] == {"last_name": {"old": "Berg", "new": "Lindqvist"}}
    assert anna["runs"][2]["events"][0]["changes"] == {"birthday": {"changed": True}}
    assert anna["link"]["origin"] == "created" and anna["link"]["active"] and anna["attention"] == []
    assert anna["source_id"] == "1" and anna["email"] == "person1@example.com"
    text = run_cli("--config", _hosts(tmp_path), "person", "1", "mem")
    assert text.returncode == 0, text.stderr
    assert "3 run(s) touched them" in text.stdout and "Last name: Berg → Lindqvist" in text.stdout
    assert "Birthday changed" in text.stdout and f"run {first.run_id}," in text.stdout
    for shown_text in (shown.stdout, text.stdout):
        assert "1987-12-2" not in shown_text and "female" not in shown_text  # birthday and gender never shown


def test_a_skipped_person_needs_attention_and_a_fixed_one_no_longer(tmp_path, memory_config, memory_world):
    memory_world.people = [person(1), person(2, email="not-an-address")]
    loaded = memory_config()
    skipped = sync_memory(loaded)
    shown = json.loads(run_cli("--config", _hosts(tmp_path), "person", "2", "--json").stdout)["people"]
    (bo,) = shown
    assert bo["link"] is None and [e["action"] for e in bo["attention"]] == ["skip"]
    assert "invalid e-mail" in bo["attention"][0]["reason"] and bo["runs"][0]["id"] == skipped.run_id
    memory_world.people[1]["email"] = "bo@example.com"
    fixed = sync_memory(loaded)
    text = run_cli("--config", _hosts(tmp_path), "person", "bo@example.com")
    assert "Needs attention" not in text.stdout and f"run {skipped.run_id}," in text.stdout
    assert f"run {fixed.run_id}," in text.stdout and "skipped" in text.stdout and "created" in text.stdout


def test_nobody_found_is_a_usage_error(tmp_path, memory_config, world):
    sync_memory(memory_config())
    missing = run_cli("--config", _hosts(tmp_path), "person", "nobody@example.com")
    assert missing.returncode == EXIT_USAGE and "Nobody with the e-mail or source id" in missing.stderr
