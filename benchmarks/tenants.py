"""Many tenants: one daemon (:class:`hrsync.service.daemon.Daemon`) running 200 connections of 500 people.

Each tenant is a connection between the in-memory reference connectors (its own source people and
sink users, registered by tenant name, since hosts.yaml cannot hold a Python object); all tenants share
the host's one state file, and each run's report goes to the outbox, as on a host without SMTP. In-memory
connectors measure what bounds the tenants of one host - hrsync's own CPU, state and memory per tenant -
without a sandbox's server cost in the way; the network waits of real services overlap across the
daemon's ``max_concurrent`` runs.

Two cycles, each in its own process, every connection submitted once as its daily slot would: the
**onboarding** cycle (first sync of every tenant) and the **nightly** cycle that follows it (1 % of each
tenant renamed). The nightly cycle's wall time and peak RSS state how many tenants one host carries.
"""

from __future__ import annotations

import collections
import time
from concurrent.futures import wait
from pathlib import Path
from typing import Any

import yaml
from marshmallow import fields

from hrsync.registry import load_plugins
from hrsync.service.daemon import Daemon
from hrsync.testing import MemoryWorld
from hrsync.testing.memory import MemoryConfig, MemorySink, MemorySource, Users, connectors_plugin

from .child import run_in_child
from .people import GeneratedPeople

#: Each tenant's world, by tenant name (filled in the daemon's process before it starts).
WORLDS: dict[str, MemoryWorld] = {}


class UsersElsewhere(Users):
    """A nightly run's sink users: they live in the sink's service, not in hrsync's process; a PATCHed user
    is kept from then on."""

    def __missing__(self, uid: str) -> dict[str, Any]:
        return {}


class TenantConfig(MemoryConfig):
    tenant = fields.String(required=True, metadata={"description": "Name of the tenant's world in WORLDS."})


class _OfTenant:
    @property
    def world(self) -> MemoryWorld:
        return WORLDS[self.settings["tenant"]]


class TenantSource(_OfTenant, MemorySource):
    name = "tenant"
    ConfigSchema = TenantConfig


class TenantSink(_OfTenant, MemorySink):
    name = "tenant"
    ConfigSchema = TenantConfig


def tenant_plugins():
    return load_plugins(entry_points=False, plugins=[("tenants", connectors_plugin(TenantSource, TenantSink))])


def names(tenants: int) -> list[str]:
    return [f"t{i:03d}" for i in range(tenants)]


def write_hosts(folder: Path, tenants: int) -> Path:
    path = folder / "hosts.yaml"
    connections = {name: {"source": {"plugin": "tenant", "tenant": name}, "sink": {"plugin": "tenant", "tenant": name}}
                   for name in names(tenants)}
    host = {"state": "state.db", "outbox": "outbox"}  # the daemon's defaults: max_concurrent 2
    path.write_text(yaml.safe_dump({"host": host, "connections": connections}))
    return path


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """In the child: one cycle of every tenant through one daemon."""
    nightly = spec["cycle"] == "nightly"
    for name in names(spec["tenants"]):
        world = WORLDS[name] = MemoryWorld()
        world.people = GeneratedPeople(spec["people"], prefix=name, changed_every=100 if nightly else 0)
        if nightly:
            world.users = UsersElsewhere()
    daemon = Daemon(Path(spec["folder"]) / "hosts.yaml", plugins_factory=tenant_plugins)
    started = time.perf_counter()
    futures = [daemon.submit(name) for name in daemon.jobs]  # each tenant's daily slot
    wait(futures)
    wall = time.perf_counter() - started
    daemon.shutdown()
    statuses = collections.Counter(f.result() for f in futures)
    writes = sum(len(world.writes()) for world in WORLDS.values())
    return {"wall_s": wall, "statuses": dict(statuses), "sink_writes": writes,
            "max_concurrent": daemon.config.daemon.max_concurrent}


def run_cycles(tenants: int, people: int, folder: Path) -> list[dict[str, Any]]:
    folder = folder / "tenants"
    folder.mkdir(parents=True)
    write_hosts(folder, tenants)
    rows = []
    for cycle in ("onboarding", "nightly"):
        result = run_in_child("tenants", {"tenants": tenants, "people": people, "folder": str(folder),
                                          "cycle": cycle})
        rows.append({"scenario": f"{cycle} cycle", "tenants": tenants, "people": people, **result,
                     "people_per_s": tenants * people / result["wall_s"]})
    return rows
