"""Benchmark: a full Personio → Winningtemp sync on the local sandboxes.

Measures wall time of a first sync (all creates), a second sync (no changes: zero writes), and a
read of the source alone, for N people. Not part of `make test` (tests never assert on time).

    .venv/bin/python benchmarks/bench_sync.py --people 2000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from hrsync.config import parse_config
from hrsync.engine import RunOptions, run_connection
from hrsync.registry import load_plugins
from hrsync_plugins.personio.sandbox import PersonioSandbox
from hrsync_plugins.personio.sandbox_data import generate_employees
from hrsync_plugins.winningtemp.sandbox import ScimSandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hrsync-bench-"))
    with PersonioSandbox(generate_employees(args.people, seed=1), rate_limit=False) as personio, \
            ScimSandbox() as scim:
        os.environ.update(BENCH_PID=personio.client_id, BENCH_PSECRET=personio.client_secret,
                          BENCH_TOKEN=scim.token)
        plugins = load_plugins()
        data = {"host": {"state": "state.db"}, "connections": {"bench": {
            "source": {"plugin": "personio", "client_id": "${BENCH_PID}", "client_secret": "${BENCH_PSECRET}",
                       "base_url": personio.url, "max_requests_per_second": 0},
            "sink": {"plugin": "winningtemp", "token": "${BENCH_TOKEN}", "base_url": scim.url}}}}
        config = parse_config(data, plugins, path=folder / "hosts.yaml")
        for label in ("first sync (creates)", "second sync (no changes)"):
            started = time.perf_counter()
            result = run_connection(config, "bench", plugins, RunOptions())
            elapsed = time.perf_counter() - started
            counts = {k: v for k, v in result.report.counts.items() if v}
            print(f"{label:26} {elapsed:7.2f} s  {args.people / elapsed:8.0f} people/s  {counts}")


if __name__ == "__main__":
    main()
