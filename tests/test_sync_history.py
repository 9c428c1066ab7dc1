"""What a sync leaves behind, against the in-memory connectors and a real SQLite file: run history read
back by the commands, pruning, the sink's notices in the report, sensitive values kept out of both."""

from __future__ import annotations

import datetime as dt
import json

from hrsync.errors import EXIT_USAGE
from hrsync.report.render import render_json, render_text
from hrsync.service.runner import prune_history
from hrsync.state.store import open_state
from hrsync.sync.engine import sync_connection
from tests.helpers import person, run_cli, sync_memory


def test_sensitive_values_stay_out_of_state_and_reports(memory_config, world, tmp_path):
    world.people = [person(1, birthday="1987-12-24", gender="diverse")]
    loaded = memory_config()
    first = sync_memory(loaded)
    world.people[0]["birthday"] = "1987-12-25"
    second = sync_memory(loaded)
    assert second.plan.of("update")[0].public_changes({"birthday", "gender"}) == {"birthday": {"changed": True}}
    for path in tmp_path.glob("state.db*"):
        if path.suffix == ".key":
            continue
        data = path.read_bytes()
        for value in (b"1987-12-24", b"1987-12-25", b"diverse"):
            assert value not in data, (path, value)
    for result in (first, second):
        text = render_text(result.report) + render_json(result.report)
        assert "1987-12-2" not in text and "diverse" not in text


def test_runs_and_report_commands(tmp_path, memory_config, world, monkeypatch):
    # The CLI needs plugins from entry points; drive the memory plugins through the API
    # and read the state back through the commands.
    loaded = memory_config()
    sync_memory(loaded)
    (tmp_path / "hosts.yaml").write_text("connections: {}\nhost: {state: state.db}\n")
    result = run_cli("--config", str(tmp_path / "hosts.yaml"), "runs", "--json")
    rows = json.loads(result.stdout)
    assert rows[0]["connection"] == "mem" and rows[0]["created"] == 20
    report = run_cli("--config", str(tmp_path / "hosts.yaml"), "report", str(rows[0]["id"]))
    assert "20 created" in report.stdout and "1990-04" not in report.stdout
    missing = run_cli("--config", str(tmp_path / "hosts.yaml"), "report", "999")
    assert missing.returncode == EXIT_USAGE and "No finished run" in missing.stderr
    kept = run_cli("--config", str(tmp_path / "hosts.yaml"), "prune", "--older-than", "1", "--yes")
    assert kept.returncode == 0 and "Deleted 0 run(s)" in kept.stdout
    pruned = run_cli("--config", str(tmp_path / "hosts.yaml"), "prune", "--older-than", "0", "--yes")
    assert "Deleted 1 run(s)" in pruned.stdout


def test_old_run_history_is_pruned_and_links_are_kept(memory_config, world):
    loaded = memory_config()
    for _ in range(3):
        sync_memory(loaded)
    state = open_state(loaded[0].state)
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=500)).isoformat(timespec="seconds")
    first_id = state.runs("mem")[-1]["id"]
    with state.db.atomic():
        state.db["runs"].update(first_id, {"started_at": old})
    state.close()
    assert prune_history(loaded[0]) == 1
    state = open_state(loaded[0].state, read_only=True)
    assert len(state.runs("mem")) == 2 and state.changes(first_id) == []
    assert len(state.links("mem")) == 20
    state.close()
    world.calls.clear()
    assert sync_memory(loaded).plan.counts()["unchanged"] == 20 and world.writes() == []


def test_sink_notices_reach_the_report_of_a_run_stopped_after_some_writes(memory_config, world):
    from hrsync import SinkError, SinkPerson, hookimpl
    from hrsync.config.load import parse_config
    from hrsync.registry import load_plugins
    from hrsync.testing import memory_plugin
    from hrsync.testing.memory import MemorySink

    class Inviting(MemorySink):
        name = "inviting"

        def create(self, record):
            if len(self.world.users) == 2:
                raise SinkError("the app went away", connection=self.context.connection)
            created = super().create(record)
            return SinkPerson(created.sink_id, created.record, invited=True)

        def notices(self, invited):
            return [f"asked the app to invite {invited}"]

    class Plugin:
        @staticmethod
        @hookimpl
        def register_sinks(register):
            register(Inviting)

    plugins = load_plugins(entry_points=False, plugins=[("memory", memory_plugin()), ("inviting", Plugin)])
    config = parse_config({"host": {"state": "state.db"}, "connections": {"mem": {
        "source": {"plugin": "memory", "world": world}, "sink": {"plugin": "inviting", "world": world}}}},
        plugins, path=memory_config()[0].path)
    result = sync_connection(config, "mem", plugins)
    assert result.status == "stopped" and result.report.counts["invited"] == 2
    assert result.report.notices == ["asked the app to invite 2"]


def test_a_plugin_crash_quoting_a_birthday_leaves_it_out_of_report_state_and_log(memory_config, world, tmp_path,
                                                                                  caplog):
    """An unexpected exception's text is the plugin's and may quote a record: the report, the state and the log
    (below --debug) name its type and where it was raised, never its text."""
    from hrsync import hookimpl
    from hrsync.config.load import parse_config
    from hrsync.registry import load_plugins
    from hrsync.testing import memory_plugin
    from hrsync.testing.memory import MemorySink

    class Careless(MemorySink):
        name = "careless"

        def create(self, record):
            raise ValueError(f"cannot store birthday {record['birthday']} for {record['email']}")

    class Plugin:
        @staticmethod
        @hookimpl
        def register_sinks(register):
            register(Careless)

    world.people = [person(1, birthday="1987-12-24")]
    plugins = load_plugins(entry_points=False, plugins=[("memory", memory_plugin()), ("careless", Plugin)])
    config = parse_config({"host": {"state": "state.db"}, "connections": {"mem": {
        "source": {"plugin": "memory", "world": world}, "sink": {"plugin": "careless", "world": world}}}},
        plugins, path=memory_config()[0].path)
    caplog.set_level("INFO")
    result = sync_connection(config, "mem", plugins)
    assert result.status == "stopped"
    assert "ValueError" in result.report.message and "test_sync_history.py" in result.report.message
    assert "--debug" in result.report.message
    leaked = [place for place, text in [("report", render_text(result.report) + render_json(result.report)),
                                        ("log", caplog.text)] if "1987-12-24" in text]
    leaked += [path.name for path in tmp_path.glob("state.db*") if b"1987-12-24" in path.read_bytes()]
    assert leaked == []
