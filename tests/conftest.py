"""Shared fixtures: the real loopback servers (Personio sandbox, scim2-server), configs, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hrsync.config import parse_config
from hrsync.host import make_host
from hrsync.memory import memory_plugin
from hrsync_plugins.personio.sandbox import PersonioSandbox, generate_employees
from hrsync_plugins.winningtemp.sandbox import ScimSandbox

ROOT = Path(__file__).resolve().parent.parent
HRSYNC = str(Path(sys.executable).with_name("hrsync"))


@pytest.fixture
def personio():
    with PersonioSandbox(generate_employees(60, seed=7)) as sandbox:
        yield sandbox


@pytest.fixture
def scim():
    with ScimSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def secrets_env(monkeypatch, personio, scim):
    monkeypatch.setenv("PERSONIO_CLIENT_ID", personio.client_id)
    monkeypatch.setenv("PERSONIO_CLIENT_SECRET", personio.client_secret)
    monkeypatch.setenv("WINNINGTEMP_TOKEN", scim.token)


def connection_dict(personio, scim, **overrides) -> dict:
    source = {"plugin": "personio", "client_id": "${PERSONIO_CLIENT_ID}",
              "client_secret": "${PERSONIO_CLIENT_SECRET}", "base_url": personio.url, "retry_backoff": 0.01,
              **overrides.pop("source", {})}
    sink = {"plugin": "winningtemp", "token": "${WINNINGTEMP_TOKEN}", "base_url": scim.url, "retry_backoff": 0.01,
            **overrides.pop("sink", {})}
    return {"source": source, "sink": sink, **overrides}


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
    """A loaded config for `acme` (Personio sandbox → scim2-server) and the host that loaded it."""

    def load(**overrides):
        host = make_host()
        data = {"host": {"state": "state.db"}, "connections": {"acme": connection_dict(personio, scim, **overrides)}}
        return parse_config(data, host, path=tmp_path / "hosts.yaml"), host

    return load


@pytest.fixture
def memory_config(tmp_path, memory_world):
    """A loaded config for connection `mem` between the in-memory reference plugins."""

    def load(**overrides):
        host = make_host(entry_points=False, plugins=[("memory", memory_plugin())])
        conn = {"source": {"plugin": "memory", "world": memory_world},
                "sink": {"plugin": "memory", "world": memory_world}, **overrides}
        data = {"host": {"state": str(tmp_path / "state.db")}, "connections": {"mem": conn}}
        return parse_config(data, host, path=tmp_path / "hosts.yaml"), host

    return load


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120):
    """Run the installed `hrsync` command; return the CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([HRSYNC, *args], capture_output=True, text=True, env=full_env, cwd=cwd,
                          timeout=timeout)
