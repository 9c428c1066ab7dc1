"""The host: entry-point discovery from installed metadata, duplicates, import failures, blocking."""

from __future__ import annotations

import gc
import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import hrsync
from hrsync import PluginError
from hrsync.cli import cli
from hrsync.registry import load_plugins
from hrsync.sync.engine import COLLECTOR_THRESHOLDS
from tests.helpers import run_cli

PLUGIN_SOURCE = '''
from marshmallow import Schema, fields
from hrsync import Source, hookimpl

class Config(Schema):
    path = fields.String(required=True, metadata={{"description": "Where the export lives."}})

class {cls}(Source):
    name = "{name}"
    ConfigSchema = Config

@hookimpl
def register_sources(register):
    register({cls})
'''


def make_distribution(root: Path, dist: str, plugins: dict[str, str]) -> Path:
    """Write an installed distribution (dist-info metadata + modules) under ``root``.

    ``plugins`` maps entry-point name → module source. This is what pip leaves in
    site-packages, so discovery goes through real installed metadata.
    """
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = ["[hrsync]"]
    for ep_name, source in plugins.items():
        module = f"{dist.replace('-', '_')}_{ep_name}"
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        lines.append(f"{ep_name} = {module}")
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A fresh site directory on sys.path (and PYTHONPATH, for subprocesses)."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")]))
    return path


def test_bundled_plugins_are_discovered_through_entry_points():
    host = load_plugins()
    assert "personio" in host.sources and "winningtemp" in host.sinks
    assert host.plugin_of(host.source_class("personio")).distribution == "hrsync"


def test_third_party_distribution_is_discovered(site):
    make_distribution(site, "hrsync-acme", {"acme": PLUGIN_SOURCE.format(cls="AcmeSource", name="acme_csv")})
    host = load_plugins()
    cls = host.source_class("acme_csv")
    info = host.plugin_of(cls)
    assert (info.name, info.distribution, info.version) == ("acme", "hrsync-acme", "1.2.3")


def test_plugins_command_lists_real_settings_and_third_party(site):
    make_distribution(site, "hrsync-acme", {"acme": PLUGIN_SOURCE.format(cls="AcmeSource", name="acme_csv")})
    result = run_cli("plugins")
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["personio"]["kind"] == "source" and rows["winningtemp"]["kind"] == "sink"
    personio = {f["name"]: f for f in rows["personio"]["config"]}
    assert personio["client_secret"]["secret"] and personio["client_secret"]["required"]
    assert personio["base_url"]["default"] == "https://api.personio.de"
    assert {"client_id", "app_id", "page_size", "birthday_attribute"} <= set(personio)
    winningtemp = {f["name"]: f for f in rows["winningtemp"]["config"]}
    assert winningtemp["token"]["secret"] and {"base_url", "extension", "keep_inactive"} <= set(winningtemp)
    assert rows["acme_csv"]["version"] == "1.2.3"
    assert rows["acme_csv"]["config"][0]["description"] == "Where the export lives."


def test_duplicate_source_name_names_both_plugins(site):
    make_distribution(site, "hrsync-one", {"one": PLUGIN_SOURCE.format(cls="A", name="same")})
    make_distribution(site, "hrsync-two", {"two": PLUGIN_SOURCE.format(cls="B", name="same")})
    with pytest.raises(PluginError) as info:
        load_plugins()
    message = str(info.value)
    assert "'same'" in message and "'one'" in message and "'two'" in message


def test_plugin_that_fails_to_import_is_named_with_its_cause(site):
    make_distribution(site, "hrsync-broken", {"broken": "import does_not_exist_anywhere\n"})
    with pytest.raises(PluginError) as info:
        load_plugins()
    assert info.value.plugin == "broken"
    assert "does_not_exist_anywhere" in str(info.value) and "hrsync-broken" in str(info.value)
    result = run_cli("plugins")
    assert result.returncode == 2
    assert "broken" in result.stderr and "Traceback" not in result.stderr


def test_blocked_plugins_are_not_loaded(site, monkeypatch):
    make_distribution(site, "hrsync-broken", {"broken": "raise RuntimeError('boom')\n"})
    monkeypatch.setenv("HRSYNC_DISABLE_PLUGINS", "broken, winningtemp")
    host = load_plugins()
    assert "personio" in host.sources and "winningtemp" not in host.sinks
    with pytest.raises(PluginError, match="No sink named 'winningtemp' is installed"):
        host.sink_class("winningtemp")


def test_registering_a_non_plugin_class_is_refused():
    class Bad:
        @staticmethod
        def register_sources(register):
            register(dict)

    from hrsync import hookimpl

    Bad.register_sources = staticmethod(hookimpl(Bad.register_sources))
    with pytest.raises(PluginError, match="not a subclass of hrsync.Source"):
        load_plugins(entry_points=False, plugins=[("bad", Bad)])


def test_cli_version_and_the_documented_commands():
    assert run_cli("--version").stdout.strip().endswith(hrsync.__version__)
    listed = run_cli("--help").stdout
    commands = ("plugins", "check", "run", "runs", "report", "daemon", "status", "resume", "prune", "sandbox", "demo")
    for command in commands:
        assert f"  {command} " in listed, command


def test_hook_register_sources(site):
    make_distribution(site, "hrsync-acme", {"acme": PLUGIN_SOURCE.format(cls="AcmeSource", name="acme_csv")})
    assert load_plugins().source_class("acme_csv").__name__ == "AcmeSource"


def test_hook_register_sinks():
    from hrsync import Sink, hookimpl

    class Tiny(Sink):
        name = "tiny"

    class Plugin:
        @staticmethod
        @hookimpl
        def register_sinks(register):
            register(Tiny)

    assert load_plugins(entry_points=False, plugins=[("tiny", Plugin)]).sink_class("tiny") is Tiny


def test_a_misspelt_hook_is_refused_not_ignored():
    from hrsync import hookimpl

    class Typo:
        @staticmethod
        @hookimpl
        def register_source(register):  # the hook is register_sources
            raise AssertionError("never called")

    with pytest.raises(PluginError, match="'typo' implements a hook hrsync does not have") as info:
        load_plugins(entry_points=False, plugins=[("typo", Typo)])
    assert info.value.plugin == "typo" and "register_source" in str(info.value)


def test_auth_errors_say_which_side_refused():
    from hrsync import AuthError, RunError, SinkAuthError, SinkError, SourceAuthError, SourceError

    assert issubclass(SourceAuthError, AuthError) and issubclass(SourceAuthError, SourceError)
    assert issubclass(SinkAuthError, AuthError) and issubclass(SinkAuthError, SinkError)
    assert not issubclass(SinkAuthError, SourceError) and issubclass(AuthError, RunError)


def test_the_hrsync_command_lets_the_garbage_collector_run_less_often():
    """A run keeps its whole plan alive: the default thresholds would rescan it again and again."""
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        result = CliRunner().invoke(cli, ["plugins"])
        assert result.exit_code == 0, result.output
        assert gc.get_threshold() == COLLECTOR_THRESHOLDS
        assert COLLECTOR_THRESHOLDS[0] > 700
    finally:
        gc.set_threshold(*before)
