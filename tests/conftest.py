"""Shared fixtures (the real loopback servers from the plugins' pytest plugins, configs, secrets) and the lanes.

Two lanes: tests/unit/ holds fast tests of one stage each (no server, no subprocess, no sandbox);
every other test is marked ``e2e`` here, by its path. ``make test-fast`` runs ``-m "not e2e"``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from hrsync.config.load import parse_config
from hrsync.registry import load_plugins
from hrsync.testing import memory_plugin
from tests.helpers import bundled_plugins, connection_dict, person

UNIT = Path(__file__).resolve().parent / "unit"


def pytest_collection_modifyitems(items):
    """Every test outside tests/unit/ is end-to-end (``e2e``)."""
    for item in items:
        if UNIT not in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def personio(personio_sandbox):
    """The Personio plugin's sandbox fixture, under the short name these tests use."""
    return personio_sandbox


@pytest.fixture
def scim(scim_sandbox):
    """The Winningtemp plugin's SCIM sandbox fixture, under the short name these tests use."""
    return scim_sandbox


@pytest.fixture
def sftp_sandbox():
    """A real SFTP server on 127.0.0.1 (paramiko, key login) over a temporary folder, with fault switches: the
    Winningtemp file integration's server (``.settings()``, ``.files()``, ``.faults``, ``.operations``)."""
    from hrsync_plugins.winningtemp.sftp_sandbox import SftpSandbox

    with SftpSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def secrets_env(monkeypatch, personio, scim):
    monkeypatch.setenv("PERSONIO_CLIENT_ID", personio.client_id)
    monkeypatch.setenv("PERSONIO_CLIENT_SECRET", personio.client_secret)
    monkeypatch.setenv("WINNINGTEMP_TOKEN", scim.token)


@pytest.fixture
def hosts_file(tmp_path, personio, scim, secrets_env):
    """A hosts.yaml with connection `acme`: Personio sandbox → scim2-server, no mapping section."""

    def write(**overrides) -> Path:
        data = {"host": {"state": "state.db", "outbox": "outbox"},
                "connections": {"acme": connection_dict(personio, scim, **overrides)}}
        path = tmp_path / "hosts.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        return path

    return write


@pytest.fixture
def e2e_config(tmp_path, personio, scim, secrets_env):
    """A loaded config for `acme` (Personio sandbox → scim2-server) and the plugins that loaded it."""

    def load(**overrides):
        plugins = bundled_plugins(memory=False)
        data = {"host": {"state": "state.db"}, "connections": {"acme": connection_dict(personio, scim, **overrides)}}
        return parse_config(data, plugins, path=tmp_path / "hosts.yaml"), plugins

    return load


@pytest.fixture
def memory_config(tmp_path, memory_world):
    """A loaded config for connection `mem` between the in-memory reference connectors."""

    def load(**overrides):
        plugins = load_plugins(entry_points=False, plugins=[("memory", memory_plugin())])
        conn = {"source": {"plugin": "memory", "world": memory_world},
                "sink": {"plugin": "memory", "world": memory_world}, **overrides}
        data = {"host": {"state": str(tmp_path / "state.db")}, "connections": {"mem": conn}}
        return parse_config(data, plugins, path=tmp_path / "hosts.yaml"), plugins

    return load


@pytest.fixture
def world(memory_world):
    """The memory world with twenty people in its source (:func:`tests.helpers.person`)."""
    memory_world.people = [person(i) for i in range(20)]
    return memory_world


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A fresh site directory on sys.path (and PYTHONPATH, for subprocesses): distributions written there with
    :func:`tests.helpers.make_distribution` are installed for this test only."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")]))
    return path
