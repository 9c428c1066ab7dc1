"""``python -m benchmarks`` (``make bench``): every scenario of issue 16, a table with each target, and JSON.

    python -m benchmarks                   # the full run (about 19 minutes on 2 cores; the target is 10)
    python -m benchmarks --quick           # small sizes: a smoke test of the whole bench (about a minute)
    python -m benchmarks --only engine,tenants --json /tmp/bench.json

Sizes (the full plan, :data:`FULL`): the sandboxed scenarios at 1k and 10k people with latency 0, and at
1k with 50 ms latency. 10k at 50 ms is not in the plan: its first sync alone takes ≥ 125 s at 4 in flight,
its floors and the max_in_flight 1 comparison 500 s more. To stay within 10 minutes on 2 cores, the
write-heavy scenarios (first sync, populated sink) skip a floor no target uses: at 10k / 0 ms the one
with 4 in flight (at latency 0 it is as fast as sequential: the server's CPU is the bound), at 1k / 50 ms
the sequential one (1k × 50 ms of sleep; the first sync compares with max_in_flight 1 instead).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import engine, pacing, state_files, tenants
from .report import render, write_json
from .sync_scenarios import Settings, run_size
from .targets import as_dicts, evaluate

PARTS = ("sync", "engine", "tenants", "pacing", "state")
IN_FLIGHT = 4  # the Winningtemp sink's default max_in_flight


@dataclass
class Plan:
    #: (people, latency ms, floors of the write-heavy scenarios, also hrsync with max_in_flight 1 on the first sync)
    sync: list[tuple[int, int, tuple[str, ...], bool]]
    engine: list[tuple[int, int]]  # people, repeats (the fastest counts)
    tenants: tuple[int, int]  # tenants, people each
    pacing: tuple[int, int]  # people, page size
    #: connections in hosts.yaml; tenants, people each and concurrent runs of the lock-wait cycle
    state: tuple[int, int, int, int] = (5000, 48, 250, 8)
    parts: set[str] = field(default_factory=lambda: set(PARTS))


BOTH, SEQUENTIAL, IN_FLIGHT_ONLY = ("sequential", "in flight"), ("sequential",), ("in flight",)
FULL = Plan(sync=[(1000, 0, BOTH, False), (10000, 0, SEQUENTIAL, False), (1000, 50, IN_FLIGHT_ONLY, True)],
            engine=[(10000, 3), (100000, 2)], tenants=(200, 500), pacing=(40000, 100))
QUICK = Plan(sync=[(300, 0, BOTH, False), (100, 50, IN_FLIGHT_ONLY, True)], engine=[(5000, 1)], tenants=(10, 200),
             pacing=(500, 100), state=(500, 8, 20, 8))


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    return {"cores": len(os.sched_getaffinity(0)), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(terse=True)}


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(plan: Plan, folder: Path) -> dict[str, Any]:
    results: dict[str, Any] = {part: [] for part in PARTS}
    if "sync" in plan.parts:
        for people, latency, heavy_floors, sequential_apply in sorted(plan.sync, key=lambda s: -s[1]):
            say(f"sandboxed scenarios: {people:,} people, latency {latency} ms")
            results["sync"] += run_size(Settings(people, latency, IN_FLIGHT, heavy_floors, sequential_apply, folder))
    if "pacing" in plan.parts:
        # On its own: beside the latency scenarios, its sandbox's pages took the GIL of the process that
        # serves theirs too, and a 50 ms first sync measured 10 % slower.
        say("Personio pacing read")
        results["pacing"].append(pacing.run_read(*plan.pacing, folder))
    if "engine" in plan.parts:
        for people, repeats in plan.engine:
            say(f"engine only: {people:,} people, best of {repeats}")
            results["engine"] += engine.run_size(people, folder, repeats)
    if "tenants" in plan.parts:
        say(f"many tenants: {plan.tenants[0]} × {plan.tenants[1]} people through one daemon")
        results["tenants"] += tenants.run_cycles(*plan.tenants, folder)
    if "state" in plan.parts:
        say(f"state files: hosts.yaml of {plan.state[0]:,} connections; {plan.state[1]} tenants × "
            f"{plan.state[2]} people at {plan.state[3]} concurrent runs, one state file and a file each")
        results["state"] += state_files.run_all(*plan.state, folder)
    results["sync"].sort(key=lambda r: (r["latency_ms"], r["people"]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not the figures")
    parser.add_argument("--only", default=",".join(PARTS), help=f"parts to run, of {','.join(PARTS)}")
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("results.json"),
                        help="where to write the results (default: benchmarks/results.json)")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    plan.parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = plan.parts - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; parts: {', '.join(PARTS)}")
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="hrsync-bench-"))
    try:
        results = run(plan, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    results.update(machine=machine(), started=dt.datetime.now().isoformat(timespec="minutes"),
                   command=" ".join(["python -m benchmarks", *sys.argv[1:]]), total_s=time.perf_counter() - started)
    targets = evaluate(results)
    results["targets"] = as_dicts(targets)
    print(render(results, targets))
    write_json(args.json, results)
    say(f"results written to {args.json}")


if __name__ == "__main__":
    main()
