"""Many connections on one host: what starting ``hrsync run NAME`` costs, and how long runs wait for the state.

Two measurements, each in its own process (:mod:`benchmarks.child`):

- **config CPU**: hosts.yaml with 5,000 connections (Personio → Winningtemp, secrets from the environment);
  the CPU time (``time.process_time``) of loading it as ``hrsync run NAME`` does (the host section and
  that connection), fastest of three, beside one load of every connection as ``hrsync check`` does.
- **lock waits**: a first sync of 48 tenants, 8 runs at once in threads of one process (as one of the
  daemon's worker processes runs them: the tenants' in-memory worlds cannot cross into other processes),
  once with the host's one state file (``host.state``) and once
  with a file per connection (``host.state_dir``). Each tenant is the in-memory source and a sink that
  takes 50 ms per write with 4 writes in flight (a service elsewhere: the wait releases the GIL like a
  socket's). A lock wait is the time a transaction waits for the state's write lock (``BEGIN IMMEDIATE``)
  because another run holds it, summed over every transaction of every run; the time every ``BEGIN``
  takes, getting the GIL back included, is reported beside it.
"""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import yaml

from .child import run_in_child

#: The issue's figure: lock waits of a 48-tenant first sync at 8 concurrent runs on one shared state file.
SHARED_FILE_WAITS_S = 569.0
WRITE_LATENCY_S = 0.05
ENV = {"BENCH_ID": "id", "BENCH_SECRET": "secret", "BENCH_TOKEN": "token"}


def write_hosts(path: Path, count: int) -> str:
    """hosts.yaml with ``count`` connections; returns the name of the one in the middle."""
    names = [f"tenant-{i:05d}" for i in range(count)]
    connections = {name: {
        "source": {"plugin": "personio", "client_id": "${BENCH_ID}", "client_secret": "${BENCH_SECRET}"},
        "sink": {"plugin": "winningtemp", "token": "${BENCH_TOKEN}"},
        "mapping": {"first_name": {"from": "preferred_name", "transform": ["strip"]}},
        "schedule": {"daily_at": f"{1 + i % 5:02d}:{i % 60:02d}"},
        "report": {"recipients": [f"hr@{name}.example.com"]}} for i, name in enumerate(names)}
    path.write_text(yaml.safe_dump({"host": {"state_dir": "state"}, "connections": connections}, sort_keys=False))
    return names[count // 2]


def config_cpu(spec: dict[str, Any]) -> dict[str, Any]:
    """In the child: the CPU of loading hosts.yaml for one run, and for every connection."""
    from hrsync.config.load import load_config
    from hrsync.registry import load_plugins

    plugins = load_plugins()
    path = Path(spec["folder"]) / "hosts.yaml"
    name = write_hosts(path, spec["connections"])
    one = []
    for _ in range(3):
        started = time.process_time()
        config = load_config(path, plugins, only=name)
        one.append(time.process_time() - started)
        assert list(config.connections) == [name]
    started = time.process_time()
    every = load_config(path, plugins)
    return {"one_cpu_s": min(one), "one_cpu_runs_s": one, "all_cpu_s": time.process_time() - started,
            "loaded": len(every.connections)}


def lock_waits(spec: dict[str, Any]) -> dict[str, Any]:
    """In the child: one first-sync cycle of every tenant, 8 at once; the time spent taking the lock."""
    from marshmallow import fields

    from hrsync.config.load import load_config
    from hrsync.registry import load_plugins
    from hrsync.service.runner import run_and_report
    from hrsync.state import store
    from hrsync.state.locking import BUSY_TIMEOUT, is_locked
    from hrsync.state.places import open_connection_state
    from hrsync.testing import MemoryWorld
    from hrsync.testing.memory import MemoryConfig, MemorySink, MemorySource, connectors_plugin

    from .people import GeneratedPeople

    worlds: dict[str, MemoryWorld] = {}
    for i in range(spec["tenants"]):
        worlds[f"t{i:02d}"] = world = MemoryWorld()
        world.people = GeneratedPeople(spec["people"], prefix=f"t{i:02d}")

    class TenantConfig(MemoryConfig):
        tenant = fields.String(required=True, metadata={"description": "The tenant's world."})

    class Source(MemorySource):
        name, ConfigSchema = "bench-tenant", TenantConfig

        @property
        def world(self) -> MemoryWorld:
            return worlds[self.settings["tenant"]]

    class Sink(MemorySink):
        name, ConfigSchema = "bench-tenant", TenantConfig

        @property
        def world(self) -> MemoryWorld:
            return worlds[self.settings["tenant"]]

        def _write(self, kind: str, detail: Any, email: str | None) -> None:
            time.sleep(WRITE_LATENCY_S)
            super()._write(kind, detail, email)

    waits: list[float] = []  # the transactions that found the lock held: how long they waited for it
    taking: list[float] = []  # every transaction: the time to take the lock, with getting the GIL back
    enter = store.Batch.__enter__

    def timed(batch: store.Batch) -> None:
        if not batch.opens:
            return enter(batch)
        started = time.perf_counter()
        batch.conn.execute("PRAGMA busy_timeout = 0")  # a first try that fails at once when the lock is held
        try:
            batch.conn.execute("BEGIN IMMEDIATE")
            held = False
        except sqlite3.OperationalError as exc:
            if not is_locked(exc):
                raise
            held = True
        finally:
            batch.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        if held:  # then as the state waits: SQLite's busy handler, up to host.busy_timeout
            waited = time.perf_counter()
            batch.conn.execute("BEGIN IMMEDIATE")
            waits.append(time.perf_counter() - waited)
        taking.append(time.perf_counter() - started)

    store.Batch.__enter__ = timed
    folder = Path(spec["folder"])
    settings = {"tenant": "", "max_in_flight": 4}
    connections = {name: {"source": {"plugin": "bench-tenant", **settings, "tenant": name},
                          "sink": {"plugin": "bench-tenant", **settings, "tenant": name}} for name in worlds}
    host = {"state_dir": "state"} if spec["layout"] == "state_dir" else {"state": "state.db"}
    host.update(outbox="outbox", keep_days=0, daemon={"max_concurrent": spec["concurrent"]})
    (folder / "hosts.yaml").write_text(yaml.safe_dump({"host": host, "connections": connections}))
    # Runs in threads of this one process, as one daemon worker process runs them: the tenants' worlds live
    # here, and the lock waits measured are those between runs sharing (or not) one state file.
    plugins = load_plugins(entry_points=False, plugins=[("bench", connectors_plugin(Source, Sink))])
    config = load_config(folder / "hosts.yaml", plugins)
    for name in config.connections:  # the files made first, one by one, as a daemon does when it starts
        open_connection_state(config, name).close()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=spec["concurrent"]) as pool:
        futures = [pool.submit(run_and_report, config, name, plugins) for name in config.connections]
        wait(futures)
    wall = time.perf_counter() - started
    statuses = sorted({f.result()[0].status for f in futures})
    return {"wall_s": wall, "statuses": statuses, "transactions": len(taking), "waited": len(waits),
            "lock_wait_s": sum(waits), "longest_wait_s": max(waits, default=0.0), "taking_s": sum(taking),
            "created": sum(len(w.users) for w in worlds.values())}


def run_all(connections: int, tenants: int, people: int, concurrent: int, folder: Path) -> list[dict[str, Any]]:
    folder = folder / "state-files"
    rows = []
    for scenario, task, spec in [
        ("config CPU", "state-config", {"connections": connections}),
        *[(f"lock waits, {layout}", "state-locks", {"tenants": tenants, "people": people, "concurrent": concurrent,
                                                      "layout": layout}) for layout in ("state", "state_dir")]]:
        where = folder / task / spec.get("layout", "")
        where.mkdir(parents=True)
        rows.append({"scenario": scenario, **spec, **run_in_child(task, {**spec, "folder": str(where)}, env=ENV)})
    return rows
