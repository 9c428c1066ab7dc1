"""Engine-only scenarios: hrsync's own cost per person, with the in-memory source and sink (no HTTP).

At each size, a **first sync** (every held person created) from a new state, then a **no-change** run
on the state it left, each in its own process: wall time of :func:`~hrsync.sync.engine.sync_connection`
(the fastest of a few repeats), people/s, cost per person and peak RSS. The memory source's people
are made while they are read (:class:`~benchmarks.people.GeneratedPeople`), so only hrsync's own
memory counts - and, in a first sync, the memory sink's users. A no-change run never calls the sink,
so its sink starts empty.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hrsync.config.load import parse_config
from hrsync.registry import load_plugins
from hrsync.sync.engine import RunOptions, sync_connection
from hrsync.testing import MemoryWorld, memory_plugin

from .child import run_in_child
from .people import GeneratedPeople


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """In the child: one run of ``spec["people"]`` people on the state in ``spec["state_dir"]``."""
    world = MemoryWorld()
    world.people = GeneratedPeople(spec["people"])
    plugins = load_plugins(entry_points=False, plugins=[("memory", memory_plugin())])
    state_dir = Path(spec["state_dir"])
    data = {"host": {"state": str(state_dir / "state.db")}, "connections": {"mem": {
        "source": {"plugin": "memory", "world": world}, "sink": {"plugin": "memory", "world": world}}}}
    config = parse_config(data, plugins, path=state_dir / "hosts.yaml")
    started = time.perf_counter()
    result = sync_connection(config, "mem", plugins, RunOptions())
    wall = time.perf_counter() - started
    return {"wall_s": wall, "status": result.status, "counts": {k: v for k, v in result.report.counts.items() if v},
            "sink_writes": len(world.writes())}


def run_size(people: int, folder: Path, repeats: int = 1) -> list[dict[str, Any]]:
    """A first sync and a no-change run of ``people``, on one state, ``repeats`` times (each time a new state).

    A row keeps the fastest repeat's wall time (and every wall time): on a shared machine noise only
    ever slows a run down, so the fastest is the best estimate of hrsync's own cost - the reasoning of
    :mod:`timeit`. The peak RSS is the highest of the repeats.
    """
    runs: dict[str, list[dict[str, Any]]] = {"first sync": [], "no change": []}
    for repeat in range(repeats):
        state_dir = folder / f"engine-{people}-{repeat}"
        state_dir.mkdir(parents=True)
        for scenario in runs:
            runs[scenario].append(run_in_child("engine", {"people": people, "state_dir": str(state_dir)}))
    rows = []
    for scenario, results in runs.items():
        best = min(results, key=lambda r: r["wall_s"])
        rows.append({"scenario": scenario, "people": people, **best, "repeats": repeats,
                     "walls_s": [r["wall_s"] for r in results], "rss_mb": max(r["rss_mb"] for r in results),
                     "people_per_s": people / best["wall_s"], "us_per_person": best["wall_s"] / people * 1e6})
    return rows
