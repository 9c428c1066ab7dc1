"""The host: entry-point discovery from installed metadata, duplicates, import failures, blocking."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import hrsync
from hrsync import PluginError
from hrsync.registry import DISABLE_ENV, load_plugins
from hrsync.sync.engine import COLLECTOR_THRESHOLDS
from tests.helpers import PLUGIN_SOURCE, cli_env, make_distribution, run_cli


@pytest.fixture(autouse=True)
def nothing_else_installed(monkeypatch):
    """Discovery sees the bundled plugins and the distributions a test writes into ``site``, not the third-party
    plugins installed on this machine (the example CSV plugin, or a broken one): they are blocked."""
    monkeypatch.setenv(DISABLE_ENV, cli_env()[DISABLE_ENV])


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
    result = run_cli("plugins", plugins=None)
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
    result = run_cli("plugins", plugins=None)
    assert result.returncode == 2
    assert "broken" in result.stderr and "Traceback" not in result.stderr


def test_blocked_plugins_are_not_loaded(site, monkeypatch):
    make_distribution(site, "hrsync-broken", {"broken": "raise RuntimeError('boom')\n"})
    monkeypatch.setenv(DISABLE_ENV, os.environ[DISABLE_ENV] + ",broken, winningtemp")
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


COLLECTOR_PROBE = """
import gc, json, sys
from hrsync.cli import main
before = gc.get_threshold()
sys.argv = ["hrsync", "plugins"]
try:
    main()
except SystemExit as exit:
    assert not exit.code, exit.code
print(json.dumps([before, gc.get_threshold()]), file=sys.stderr)
"""


def test_the_hrsync_command_lets_the_garbage_collector_run_less_often():
    """A run keeps its whole plan alive: the default thresholds would rescan it again and again.
    The setting is process-wide, so the command's entry point (``main``) makes it, in its own process."""
    result = subprocess.run([sys.executable, "-c", COLLECTOR_PROBE], capture_output=True, text=True, env=cli_env(),
                            timeout=60)
    assert result.returncode == 0, result.stderr
    before, after = json.loads(result.stderr.strip().splitlines()[-1])
    assert tuple(after) == COLLECTOR_THRESHOLDS and tuple(before) != COLLECTOR_THRESHOLDS
