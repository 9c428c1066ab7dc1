"""Many tenants: one daemon (:class:`hrsync.service.daemon.Daemon`) running N connections of P people each,
through the sandboxes at 50 ms a request, as a host serving remote services does.

Each tenant is a connection from the one Personio sandbox (every tenant reads the same company) to its own
scim2-server (the SCIM sandbox); all tenants share the host's state file, and each report goes to the outbox,
as on a host without SMTP. The sandboxes live in this process; the daemon and its worker processes in a child.

Three cycles, every connection submitted once as its daily slot would: the **onboarding** cycle (first sync of
every tenant), then the **nightly** no-change cycle twice - by one worker process (the daemon as it was before it
had worker processes: every run in threads of one process) and by one worker process per core. Each reports its
wall time, hrsync's CPU per tenant (the daemon and its workers), the sandboxes' CPU per tenant (on a small host
they take cores that remote services would not) and tenants per hour; the nightly rows state tenants per host per
night. A Celery worker runs the same run function, one connection per
task: its figure per worker process is the one-process row's (see docs/scaling.md).
"""

from __future__ import annotations

import collections
import os
import resource
import time
from concurrent.futures import wait
from pathlib import Path
from typing import Any

import yaml

from hrsync.service.daemon import Daemon
from hrsync.state.store import open_state
from hrsync_plugins.personio.sandbox import PersonioSandbox
from hrsync_plugins.winningtemp.sandbox import ScimSandbox

from .child import run_in_child
from .hrsync_run import SECRETS_ENV, connection
from .people import company
from .sync_scenarios import UNPACED

LATENCY_MS = 50


def cpu_seconds() -> float:
    """CPU of this process and of its ended children (the daemon's worker processes, once joined)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _own_cpu() -> float:
    """This process's CPU: in the benchmark's process, the sandboxes' (they are all it runs during a cycle)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """In the child: one cycle of every tenant through one daemon."""
    daemon = Daemon(Path(spec["hosts"]))
    cpu, started = cpu_seconds(), time.perf_counter()
    futures = [daemon.submit(name) for name in daemon.jobs]  # each tenant's daily slot
    wait(futures)
    wall = time.perf_counter() - started
    daemon.shutdown()
    statuses = collections.Counter(f.result() for f in futures)
    with open_state(daemon.config.state, read_only=True) as state:
        why = collections.Counter(run["message"] for name in daemon.jobs for run in state.runs(name, limit=1)
                                  if run["status"] != "ok")
    return {"wall_s": wall, "cpu_s": cpu_seconds() - cpu, "statuses": dict(statuses),
            "failures": [f"{count} × {message}" for message, count in why.most_common(3)]}


def write_hosts(folder: Path, personio: PersonioSandbox, sinks: list[ScimSandbox], *, processes: int,
                max_concurrent: int) -> Path:
    spec = {"personio_url": personio.url, "source": UNPACED, "sink": {"max_in_flight": 4}}
    connections = {f"t{i:03d}": connection({**spec, "scim_url": sink.url}) for i, sink in enumerate(sinks)}
    host = {"state": "state.db", "outbox": "outbox",
            "daemon": {"processes": processes, "max_concurrent": max_concurrent}}
    path = folder / "hosts.yaml"
    path.write_text(yaml.safe_dump({"host": host, "connections": connections}))
    return path


#: (cycle, worker processes (None: one per core), max_concurrent): each nightly kind at two max_concurrent, to see
#: how far more runs at once help.
CYCLES = [("onboarding", None, 16), ("nightly, 1 process", 1, 8), ("nightly, 1 process", 1, 16),
          ("nightly, all cores", None, 16), ("nightly, all cores", None, 32)]


def run_cycles(tenants: int, people: int, folder: Path) -> list[dict[str, Any]]:
    folder = folder / "tenants"
    folder.mkdir(parents=True)
    cores = os.cpu_count() or 1
    personio = PersonioSandbox(company(people), rate_limit=False, latency_ms=LATENCY_MS).start()
    sinks = [ScimSandbox(latency_ms=LATENCY_MS).start()]
    sinks += [ScimSandbox(token=sinks[0].token, latency_ms=LATENCY_MS).start() for _ in range(tenants - 1)]
    try:
        env = {SECRETS_ENV["client_id"]: personio.client_id, SECRETS_ENV["client_secret"]: personio.client_secret,
               SECRETS_ENV["token"]: sinks[0].token}
        rows = []
        for cycle, processes, max_concurrent in CYCLES:
            hosts = write_hosts(folder, personio, sinks, processes=processes or cores, max_concurrent=max_concurrent)
            servers = _own_cpu()
            result = run_in_child("tenants", {"hosts": str(hosts)}, env=env)
            rows.append({"scenario": f"{cycle} cycle", "tenants": tenants, "people": people,
                         "processes": processes or cores, "max_concurrent": max_concurrent, **result,
                         "cpu_ms_per_tenant": result["cpu_s"] * 1000 / tenants,
                         "sandbox_cpu_ms_per_tenant": (_own_cpu() - servers) * 1000 / tenants,
                         "tenants_per_hour": tenants * 3600 / result["wall_s"]})
        return rows
    finally:
        personio.stop()
        for sink in sinks:
            sink.stop()
