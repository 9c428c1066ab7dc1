"""One hrsync run (the engine, as ``hrsync run`` does it) from the Personio sandbox to the SCIM sandbox.

Runs in a child process (:mod:`benchmarks.child`). The wall time is that of
:func:`hrsync.sync.engine.sync_connection`: state, source read, plan, writes, report - not the
interpreter's start. Secrets travel in the environment, as hosts.yaml wants them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hrsync.config.load import parse_config
from hrsync.registry import load_plugins
from hrsync.sync.engine import RunOptions, sync_connection

SECRETS_ENV = {"client_id": "BENCH_PERSONIO_ID", "client_secret": "BENCH_PERSONIO_SECRET", "token": "BENCH_SCIM_TOKEN"}


def connection(spec: dict[str, Any]) -> dict[str, Any]:
    """The connection's hosts.yaml data: sandbox URLs, secrets from the environment, the spec's extra settings."""
    refs = {key: f"${{{name}}}" for key, name in SECRETS_ENV.items()}
    return {
        "source": {"plugin": "personio", "base_url": spec["personio_url"], "client_id": refs["client_id"],
                   "client_secret": refs["client_secret"], **spec.get("source", {})},
        "sink": {"plugin": "winningtemp", "base_url": spec["scim_url"], "token": refs["token"], **spec.get("sink", {})},
    }


def run(spec: dict[str, Any]) -> dict[str, Any]:
    plugins = load_plugins()
    state_dir = Path(spec["state_dir"])
    data = {"host": {"state": str(state_dir / "state.db")}, "connections": {"bench": connection(spec)}}
    config = parse_config(data, plugins, path=state_dir / "hosts.yaml")
    started = time.perf_counter()
    result = sync_connection(config, "bench", plugins, RunOptions(dry_run=spec.get("dry_run", False)))
    wall = time.perf_counter() - started
    return {"wall_s": wall, "status": result.status, "message": result.message,
            "counts": {k: v for k, v in result.report.counts.items() if v}}
