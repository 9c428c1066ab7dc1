"""Tests load only the plugins they need: a broken third-party plugin installed beside hrsync fails no test
but discovery's, which names it (how datasette and llm keep installed plugins out of their own tests).

The broken plugin is installed as pip would leave it: a dist-info with an ``hrsync`` entry point, in a
site directory on sys.path and on PYTHONPATH (for the ``hrsync`` subprocesses)."""

from __future__ import annotations

import json

import pytest

from hrsync import PluginError
from hrsync.registry import load_plugins
from hrsync.sync.engine import sync_connection
from hrsync_plugins.personio.sandbox_data import make_employee
from tests.helpers import make_distribution, run_cli, sync_memory

BROKEN = {"broken": "raise ImportError('this plugin is broken on purpose')\n"}


@pytest.fixture
def broken_plugin(site):
    """A third-party plugin whose module raises ImportError, installed for this test only."""
    make_distribution(site, "hrsync-broken", BROKEN)


def test_discovery_names_the_broken_plugin(broken_plugin):
    with pytest.raises(PluginError) as info:
        load_plugins()
    assert info.value.plugin == "broken" and "broken on purpose" in str(info.value)
    listed = run_cli("plugins", plugins=None)  # the command as a user runs it: every installed plugin
    assert listed.returncode == 2 and "'broken'" in listed.stderr and "Traceback" not in listed.stderr


def test_a_sync_through_the_test_helpers_does_not_load_it(broken_plugin, e2e_config, hosts_file, personio, scim):
    personio.employees = [make_employee(id=1, first_name="Anna", last_name="Berg", email="anna@example.com",
                                        status="active", hire_date="2020-02-01")]
    config, plugins = e2e_config()
    assert "broken" not in plugins.plugins
    first = sync_connection(config, "acme", plugins)
    assert first.status == "ok" and first.plan.counts()["created"] == 1
    assert [u["userName"] for u in scim.users()] == ["anna@example.com"]
    scim.clear_log()
    path = hosts_file()  # the same state: the command finds everyone linked and unchanged
    again = run_cli("--config", str(path), "run", "acme")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "acme: no changes\nRun 2, Personio → Winningtemp" in again.stdout and scim.write_requests() == []
    listed = {row["name"] for row in json.loads(run_cli("plugins").stdout)}
    assert {"personio", "winningtemp"} <= listed and "broken" not in listed


def test_a_sync_between_the_memory_connectors_does_not_load_it(broken_plugin, memory_config, world):
    result = sync_memory(memory_config())
    assert result.status == "ok" and len(world.users) == 20
