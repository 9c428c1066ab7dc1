"""Many tenants: one daemon (:class:`hrsync.service.daemon.Daemon`) running N connections of P people each,
through the sandboxes at 50 ms a request, as a host serving remote services does.

Each tenant is a connection from the one Personio sandbox (every tenant reads the same company) to its own
scim2-server (the SCIM sandbox); all tenants share the host's state file, and each report goes to the outbox,
as on a host without SMTP. The sandboxes live in this process; the daemon and its worker processes in a child.

The cycles, every connection submitted once as its daily slot would:

- **onboarding**: the first sync of :data:`FIRST_SYNCS` tenants (every user created over SCIM);
- **linking**: the others' first run into a sink that already holds those users (a copy of the first tenant's
  scim2-server storage, as on a host moved to hrsync): the run lists the sink and links each person by the
  external id the user carries, with no writes. Onboarding every tenant by creates took five minutes of the
  bench, mostly scim2-server's CPU, and taught nothing the first syncs don't;
- **nightly**, the no-change cycle, by the daemon as issue 26 found it (:data:`BASELINE`, run from that
  commit's tree: every run in threads of one process), by today's daemon with one worker process, and with one
  worker process per core, each at several ``max_concurrent``. A daemon runs for months, so a nightly cycle
  starts with its worker processes up.

Each reports its wall time, hrsync's CPU per tenant (the daemon and its workers), the sandboxes' CPU per tenant
(on a small host they take cores that remote services would not) and tenants per hour; the nightly rows state
tenants per host per night. A Celery worker runs the same run function, one connection per task: its figure per
worker process is the one-process row's (see docs/scaling.md).
"""

from __future__ import annotations

import collections
import io
import os
import resource
import subprocess
import tarfile
import time
from concurrent.futures import wait
from pathlib import Path
from typing import Any

import yaml

import hrsync
from hrsync.service.daemon import Daemon
from hrsync.state.store import open_state
from hrsync_plugins.personio.sandbox import PersonioSandbox
from hrsync_plugins.winningtemp.sandbox import ScimSandbox

from .child import ROOT, run_in_child
from .hrsync_run import SECRETS_ENV, connection
from .people import company
from .sync_scenarios import UNPACED

LATENCY_MS = 50


def _process_cpu(pid: int) -> float:
    """A running process's CPU so far (``utime`` + ``stime`` of ``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hrsync_cpu(daemon: Daemon) -> dict[int, float]:
    """CPU so far of the daemon's process (key 0) and of each of its worker processes: a cycle's CPU is the
    difference, so that a warm worker's start and warm-up runs are not counted in it. (The baseline's daemon
    has no worker processes.)"""
    own = resource.getrusage(resource.RUSAGE_SELF)
    pids = daemon.workers.pids() if hasattr(daemon, "workers") else []
    return {0: own.ru_utime + own.ru_stime, **{pid: _process_cpu(pid) for pid in pids}}


def _own_cpu() -> float:
    """This process's CPU: in the benchmark's process, the sandboxes' (they are all it runs during a cycle)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """In the child: one cycle of the spec's tenants through one daemon."""
    if not Path(hrsync.__file__).absolute().is_relative_to(spec["code"]):
        raise RuntimeError(f"the cycle is to run the hrsync of {spec['code']}, but {hrsync.__file__} was imported")
    daemon = Daemon(Path(spec["hosts"]))
    names = spec["names"]
    if spec["warm"]:  # one run per worker process (or thread), so that each is up before the clock
        wait([daemon.submit(name) for name in names[:spec["processes"]]])
    cpu, started = hrsync_cpu(daemon), time.perf_counter()
    futures = [daemon.submit(name) for name in names]  # each tenant's daily slot
    wait(futures)
    wall = time.perf_counter() - started
    spent = {pid: seconds - cpu.get(pid, 0.0) for pid, seconds in hrsync_cpu(daemon).items()}
    daemon.shutdown()
    statuses = collections.Counter(f.result() for f in futures)
    with open_state(daemon.config.state, read_only=True) as state:
        why = collections.Counter(run["message"] for name in names for run in state.runs(name, limit=1)
                                  if run["status"] != "ok")
    return {"wall_s": wall, "cpu_s": sum(spent.values()), "daemon_cpu_s": spent[0], "statuses": dict(statuses),
            "failures": [f"{count} × {message}" for message, count in why.most_common(3)]}


def write_hosts(folder: Path, personio: PersonioSandbox, sinks: list[ScimSandbox], *, processes: int | None,
                max_concurrent: int) -> Path:
    """hosts.yaml of every tenant; ``processes`` None for the baseline, which has no such setting."""
    spec = {"personio_url": personio.url, "source": UNPACED, "sink": {"max_in_flight": 4}}
    connections = {f"t{i:03d}": connection({**spec, "scim_url": sink.url}) for i, sink in enumerate(sinks)}
    daemon = {"max_concurrent": max_concurrent, **({"processes": processes} if processes else {})}
    host = {"state": "state.db", "outbox": "outbox", "daemon": daemon}
    path = folder / "hosts.yaml"
    path.write_text(yaml.safe_dump({"host": host, "connections": connections}))
    return path


#: The daemon as issue 26 found it: main when its work began. Its nightly cycle is the target's "today's single
#: daemon process" (every run in threads of one process, the report's templates loaded per run, the history
#: pruned under the write lock).
BASELINE = "2e5c4de"


def baseline_path(folder: Path) -> Path:
    """A folder to put first on ``PYTHONPATH`` so that ``hrsync`` and its plugins are :data:`BASELINE`'s: that
    commit's ``core/`` and ``plugins/``, from git (the repository's history must hold it)."""
    tree, path = folder / "baseline-tree", folder / "baseline-path"
    path.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", BASELINE, "core", "plugins"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    (path / "hrsync").symlink_to(tree / "core")
    (path / "hrsync_plugins").symlink_to(tree / "plugins")
    return path


#: Tenants whose first sync creates every user; the others start from a copy of the first one's sink.
FIRST_SYNCS = 16

#: (cycle, worker processes (None: one per core; 0: the baseline's daemon, one process), max_concurrent): each
#: nightly kind at the max_concurrent that can be its best (one worker process at 8 never was).
NIGHTLY = [(f"nightly, {BASELINE} (1 process)", 0, 8), (f"nightly, {BASELINE} (1 process)", 0, 16),
           ("nightly, 1 worker process", 1, 16), ("nightly, 1 worker process", 1, 32),
           ("nightly, all cores", None, 16), ("nightly, all cores", None, 32)]
#: Rounds of the nightly cycles, interleaved; the fastest of each counts. One round of the same code measured
#: 148 and 183 ms a tenant for the baseline minutes apart: noise only ever slows a cycle down (as in timeit).
ROUNDS = 2


def run_cycles(tenants: int, people: int, folder: Path) -> list[dict[str, Any]]:
    folder = folder / "tenants"
    folder.mkdir(parents=True)
    cores = len(os.sched_getaffinity(0))  # as the daemon counts them
    baseline = {"PYTHONPATH": str(baseline_path(folder))}
    personio = PersonioSandbox(company(people), rate_limit=False, latency_ms=LATENCY_MS).start()
    sinks = [ScimSandbox(latency_ms=LATENCY_MS).start()]
    sinks += [ScimSandbox(token=sinks[0].token, latency_ms=LATENCY_MS).start() for _ in range(tenants - 1)]
    names = [f"t{i:03d}" for i in range(tenants)]
    first = min(FIRST_SYNCS, tenants)
    try:
        env = {SECRETS_ENV["client_id"]: personio.client_id, SECRETS_ENV["client_secret"]: personio.client_secret,
               SECRETS_ENV["token"]: sinks[0].token}

        def cycle(scenario: str, names: list[str], processes: int | None, max_concurrent: int) -> dict[str, Any]:
            workers = cores if processes is None else processes or 1
            hosts = write_hosts(folder, personio, sinks, processes=None if processes == 0 else workers,
                                max_concurrent=max_concurrent)
            spec = {"hosts": str(hosts), "names": names, "processes": workers, "warm": scenario.startswith("nightly"),
                    "code": baseline["PYTHONPATH"] if processes == 0 else str(ROOT)}
            env_of_code = {**env, **(baseline if processes == 0 else {})}
            if processes == 0 and not any(row["daemon"] == "baseline" for row in rows):
                # The baseline's first night after today's daemon creates whom today's defers (people hired for a
                # later date: 34 a tenant here): untimed, so that its timed cycles are no-change nights too.
                run_in_child("tenants", spec, env=env_of_code)
            servers = _own_cpu()
            result = run_in_child("tenants", spec, env=env_of_code)
            daemon = "baseline" if processes == 0 else "today"
            return {"scenario": f"{scenario} cycle", "daemon": daemon, "tenants": len(names), "people": people,
                    "processes": workers,
                    "max_concurrent": max_concurrent, **result,
                    "cpu_ms_per_tenant": result["cpu_s"] * 1000 / len(names),
                    "sandbox_cpu_ms_per_tenant": (_own_cpu() - servers) * 1000 / len(names),
                    "tenants_per_hour": len(names) * 3600 / result["wall_s"]}

        rows: list[dict[str, Any]] = []
        rows.append(cycle("onboarding", names[:first], None, 16))
        if first < tenants:
            for sink in sinks[first:]:
                sink.storage.resources = [user.model_copy(deep=True) for user in sinks[0].storage.resources]
            rows.append(cycle("linking", names[first:], None, 16))
        for _ in range(ROUNDS):
            for scenario, processes, max_concurrent in NIGHTLY:
                rows.append(cycle(scenario, names, processes, max_concurrent))
        return rows
    finally:
        personio.stop()
        for sink in sinks:
            sink.stop()
