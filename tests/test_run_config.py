"""What ``hrsync run NAME`` reads of hosts.yaml: the host section and that connection only (``check`` still
reads them all), so another connection's mistake never stops it; and what stays built once per process."""

from __future__ import annotations

import pytest

from hrsync.config.load import load_config
from hrsync.config.yaml_text import MAX_VALUES, one_connection
from hrsync.errors import EXIT_CONFIG, ConfigError, UsageError
from hrsync.report.render import _environment
from tests.helpers import bundled_plugins, run_cli

GOOD = """\
  good:
    source: {plugin: memory}
    sink: {plugin: memory}
"""
BAD = """\
  bad:
    source: {plugin: memory, no_such_setting: 1}
    sink: {plugin: nowhere}
"""


def write(tmp_path, text: str):
    path = tmp_path / "hosts.yaml"
    path.write_text(text)
    return path


def test_run_reads_its_connection_and_the_host_section_only(tmp_path):
    path = write(tmp_path, f"host:\n  timezone: Europe/Berlin\nconnections:\n{BAD}{GOOD}")
    config = load_config(path, bundled_plugins(), only="good")
    assert list(config.connections) == ["good"] and config.timezone == "Europe/Berlin"
    with pytest.raises(ConfigError) as whole:  # check and the daemon read every connection
        load_config(path, bundled_plugins())
    assert "connections.bad.sink.plugin" in str(whole.value)
    with pytest.raises(ConfigError) as its_own:  # NAME's own mistakes are all reported
        load_config(path, bundled_plugins(), only="bad")
    assert "connections.bad.sink.plugin" in str(its_own.value) and "no_such_setting" in str(its_own.value)
    with pytest.raises(UsageError, match=r"No such connection \(configured: bad, good\)"):  # a usage error
        load_config(path, bundled_plugins(), only="missing")
    broken_host = write(tmp_path, f"host:\n  timezone: Mars/Olympus\nconnections:\n{GOOD}")
    with pytest.raises(ConfigError, match="Unknown time zone"):
        load_config(broken_host, bundled_plugins(), only="good")


def test_a_command_for_one_connection_is_not_stopped_by_another_connections_mistake(tmp_path):
    good = ("  good:\n    source: {plugin: personio, client_id: '${ID}', client_secret: '${SECRET}'}\n"
            "    sink: {plugin: winningtemp, token: '${TOKEN}'}\n")
    write(tmp_path, f"host: {{state: state.db}}\nconnections:\n{BAD}{good}")
    env = {"ID": "id", "SECRET": "secret", "TOKEN": "token"}
    resumed = run_cli("--config", str(tmp_path / "hosts.yaml"), "resume", "good", env=env)
    assert resumed.returncode == 0 and "good: was not paused" in resumed.stdout, resumed.stderr
    checked = run_cli("--config", str(tmp_path / "hosts.yaml"), "check", "--offline", env=env)
    assert checked.returncode == EXIT_CONFIG and "connections.bad" in checked.stderr


def test_an_anchor_in_another_connection_makes_the_whole_file_read(tmp_path):
    text = f"connections:\n  first:\n    source: &src {{plugin: memory}}\n    sink: {{plugin: memory}}\n{BAD}" \
           "  second:\n    source: *src\n    sink: {plugin: memory}\n"
    assert "first" not in one_connection(text, "second")  # the cut text cannot be read: the whole file is
    assert load_config(write(tmp_path, text), bundled_plugins(), only="second").connections["second"].source.name \
        == "memory"
    flow = "connections: {good: {source: {plugin: memory}, sink: {plugin: memory}}, bad: 1}\n"
    assert one_connection(flow, "good") is None
    odd = f"connections:\n{GOOD}  other: {{source: 1}}\n"  # a connection in flow style on its line
    assert one_connection(odd, "good") is None
    assert list(load_config(write(tmp_path, odd), bundled_plugins(), only="good").connections) == ["good"]


def test_a_host_of_many_connections_is_not_taken_for_an_alias_bomb(tmp_path):
    blocks = "".join(GOOD.replace("good", f"c{i}") for i in range(MAX_VALUES // 9))  # ~9 values a connection
    config = load_config(write(tmp_path, f"connections:\n{blocks}"), bundled_plugins(), only="c7")
    assert list(config.connections) == ["c7"]


def test_the_report_templates_are_built_once_per_process():
    assert _environment(False) is _environment(False) and _environment(True) is not _environment(False)
