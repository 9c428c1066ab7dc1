"""Sandboxed scenarios: hrsync from the Personio sandbox to the SCIM sandbox, against the floor.

For one company size and one latency, four scenarios, each from its own starting state:

* **first sync**: empty state, empty sink: every held person is created;
* **no change**: the state and the sink as the first sync left them, the same source: 0 writes;
* **1 % changed**: as *no change*, with 1 % of the held people renamed in Personio: that many PATCHes;
* **populated sink**: empty state, the sink already holding everyone without their source id (as another
  provisioner left them): the run lists the sink, matches by e-mail and PATCHes each person once.

Each scenario runs hrsync (:mod:`.hrsync_run`) and then the floor (:mod:`.floor`) - sequential, and with
hrsync's in-flight limit - each in its own process, on sandboxes reset to the same starting state (the
SCIM storage restored from a snapshot, the state folder copied). The sandboxes live in this process.
The write-heavy scenarios (first sync, populated sink) run only the floors ``Settings.heavy_floors``
names: at 50 ms the sequential floor of 1k writes is 50 s of sleeping that no target uses.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hrsync_plugins.personio.sandbox import PersonioSandbox
from hrsync_plugins.winningtemp.sandbox import ScimSandbox

from .child import run_in_child
from .counts import minimum, scim_split, status_count, tally
from .hrsync_run import SECRETS_ENV
from .people import change_some, company, expected_creates

#: No pacing: the sandbox's rate limits are off here (the pacing scenario measures them).
UNPACED = {"max_requests_per_second": 0, "max_requests_per_minute": 0}


@dataclass
class Stage:
    """A scenario's starting state and the exact minimum of requests its run needs."""

    name: str
    employees: list[dict[str, Any]]
    expected: dict[str, int]
    heavy: bool  # about one write per person
    users: list[Any] = field(default_factory=list)  # scim2-server resources held at the start
    state: Path | None = None  # a state folder to start from (copied), or None: a new state


@dataclass
class Settings:
    people: int
    latency_ms: int
    in_flight: int
    #: The floors of the write-heavy scenarios: "sequential", "in flight" (the light ones run both).
    heavy_floors: tuple[str, ...] = ("sequential", "in flight")
    sequential_apply: bool = False  # also run hrsync with max_in_flight 1 on the first sync
    folder: Path = Path(".")


class Sandboxes:
    """The Personio sandbox (rate limits off) and the SCIM sandbox of one size and latency, reset to a stage's
    starting state before each run: a fresh server per run would add its shutdown (up to half a second)."""

    def __init__(self, latency_ms: int) -> None:
        self.personio = PersonioSandbox([], rate_limit=False, latency_ms=latency_ms)
        self.scim = ScimSandbox(latency_ms=latency_ms)

    def __enter__(self) -> Sandboxes:
        self.personio.start()
        self.scim.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.personio.stop()
        self.scim.stop()

    def reset(self, stage: Stage) -> None:
        with self.personio.lock:
            self.personio.employees = list(stage.employees)
        self.personio.clear_log()
        self.scim.storage.resources = [user.model_copy(deep=True) for user in stage.users]
        self.scim.clear_log()


def hrsync(stage: Stage, settings: Settings, sandboxes: Sandboxes, in_flight: int) -> dict[str, Any]:
    """One hrsync run; its figures, the sandboxes' logs, its state folder and what the sink held after it."""
    state_dir = settings.folder / f"state-{uuid.uuid4().hex[:8]}"
    if stage.state is not None:
        shutil.copytree(stage.state, state_dir)
    else:
        state_dir.mkdir(parents=True)
    sandboxes.reset(stage)
    personio, scim = sandboxes.personio, sandboxes.scim
    env = {SECRETS_ENV["client_id"]: personio.client_id, SECRETS_ENV["client_secret"]: personio.client_secret,
           SECRETS_ENV["token"]: scim.token}
    result = run_in_child("hrsync", {"state_dir": str(state_dir), "personio_url": personio.url, "scim_url": scim.url,
                                     "source": UNPACED, "sink": {"max_in_flight": in_flight}}, env=env)
    return {**result, "personio_log": list(personio.requests), "scim_log": list(scim.requests), "state": state_dir,
            "users": scim.storage.resources, "scim_peak_in_flight": scim.in_flight.peak}


def floor(stage: Stage, sandboxes: Sandboxes, in_flight: int, run: dict[str, Any]) -> dict[str, Any]:
    sandboxes.reset(stage)
    personio, scim = sandboxes.personio, sandboxes.scim
    return run_in_child("floor", {
        "personio_root": personio.url, "personio_id": personio.client_id, "personio_secret": personio.client_secret,
        "personio_log": run["personio_log"], "scim_root": f"http://127.0.0.1:{scim.port}", "scim_token": scim.token,
        "scim_log": run["scim_log"], "in_flight": in_flight})


def measure(stage: Stage, settings: Settings, sandboxes: Sandboxes, *,
            sequential_apply: bool = False) -> tuple[dict[str, Any], dict]:
    """hrsync, then its floors (interleaved in this order); the scenario's row and hrsync's run."""
    run = hrsync(stage, settings, sandboxes, settings.in_flight)
    counts = tally(run["personio_log"], run["scim_log"])
    reads, writes = scim_split(counts)
    row: dict[str, Any] = {
        "scenario": stage.name, "people": settings.people, "latency_ms": settings.latency_ms,
        "in_flight": settings.in_flight, "status": run["status"], "counts": run["counts"],
        "wall_s": run["wall_s"], "people_per_s": settings.people / run["wall_s"], "rss_mb": run["rss_mb"],
        "requests": counts, "minimum": stage.expected, "exact": counts == stage.expected,
        "scim_reads": reads, "scim_writes": writes, "scim_peak_in_flight": run["scim_peak_in_flight"],
        "personio_429": status_count(run["personio_log"], 429),
    }
    floors = settings.heavy_floors if stage.heavy else ("sequential", "in flight")
    if "sequential" in floors:
        row["floor_seq"] = _floor_figures(floor(stage, sandboxes, 1, run), run)
    if "in flight" in floors and settings.in_flight > 1:
        row["floor_pool"] = _floor_figures(floor(stage, sandboxes, settings.in_flight, run), run)
    if sequential_apply:
        one = hrsync(stage, settings, sandboxes, 1)
        row["sequential_apply"] = {"wall_s": one["wall_s"], "rss_mb": one["rss_mb"],
                                   "speedup": one["wall_s"] / run["wall_s"]}
    return row, run


def _floor_figures(result: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    return {"wall_s": result["wall_s"], "ratio": run["wall_s"] / result["wall_s"], "rss_mb": result["rss_mb"],
            "mismatches": result["mismatch_count"], "examples": result["mismatches"]}


def without_source_ids(users: list[Any]) -> list[Any]:
    """The users as another provisioner would have left them: no ``externalId``."""
    return [user.model_copy(update={"external_id": None}, deep=True) for user in users]


def run_size(settings: Settings) -> list[dict[str, Any]]:
    """The four scenarios at one size and latency, in order (later ones start from the first sync's result)."""
    people = settings.people
    employees = company(people)
    creates = expected_creates(employees)
    first = Stage("first sync", employees, minimum(people, listed=0, creates=creates), heavy=True)
    with Sandboxes(settings.latency_ms) as sandboxes:
        first_row, after = measure(first, settings, sandboxes, sequential_apply=settings.sequential_apply)
        changed, renamed = change_some(employees)
        stages = [
            Stage("no change", employees, minimum(people, listed=None), False, after["users"], after["state"]),
            Stage("1 % changed", changed, minimum(people, listed=None, patches=renamed), False, after["users"],
                  after["state"]),
            Stage("populated sink", employees, minimum(people, listed=creates, patches=creates), True,
                  without_source_ids(after["users"])),
        ]
        return [first_row] + [measure(stage, settings, sandboxes)[0] for stage in stages]
