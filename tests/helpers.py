"""Helpers the tests share (imported by test modules; fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HRSYNC = str(Path(sys.executable).with_name("hrsync"))


def connection_dict(personio, scim, **overrides) -> dict:
    """A connection from the Personio sandbox to the SCIM sandbox, secrets from the environment."""
    source = {"plugin": "personio", "client_id": "${PERSONIO_CLIENT_ID}",
              "client_secret": "${PERSONIO_CLIENT_SECRET}", "base_url": personio.url, "retry_backoff": 0.01,
              **overrides.pop("source", {})}
    sink = {"plugin": "winningtemp", "token": "${WINNINGTEMP_TOKEN}", "base_url": scim.url, "retry_backoff": 0.01,
            **overrides.pop("sink", {})}
    return {"source": source, "sink": sink, **overrides}


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120):
    """Run the installed `hrsync` command; return the CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([HRSYNC, *args], capture_output=True, text=True, env=full_env, cwd=cwd,
                          timeout=timeout)


def source_for(sandbox, **settings):
    """A Personio source for a running Personio sandbox (fast retries, no pacing)."""
    from hrsync import RunContext
    from hrsync.secrets import Secret
    from hrsync_plugins.personio.source import ConfigSchema, PersonioSource

    raw = {"base_url": sandbox.url, "retry_backoff": 0.01, "max_requests_per_second": 0, **settings}
    loaded = ConfigSchema().load(raw, partial=("client_id", "client_secret"))
    loaded["client_id"], loaded["client_secret"] = Secret(sandbox.client_id), Secret(sandbox.client_secret)
    return PersonioSource(loaded, RunContext("test"))


def read_all(source) -> list[dict]:
    """What a run reads from ``source``, loaded with its RecordSchema."""
    with source:
        source.open()
        return [type(source).RecordSchema().load(r) for r in source.read()]


def wait_until(condition, timeout: float = 60.0) -> None:
    """Wait for ``condition()`` to hold (polled every 5 ms); fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)
