"""The sink contract: the real engine, with the in-memory reference source, against the sink under test.

``sink_tests(MySink, sandbox=MySinkSandbox)`` is a plugin's whole sink test file. Each
scenario runs the engine (keeping its state between runs, as a real host does) and
observes the result through the :class:`hrsync.sandbox.SinkSandbox` - the service's own view,
not the sink's. A sink with no service to stand in for (it writes a file) passes
``settings=`` instead and is observed through itself (:class:`~.sink_view.SinkView`).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .. import hookimpl
from ..config.load import parse_config
from ..connectors import Sink
from ..registry import load_plugins
from ..sandbox.contract import SinkSandbox
from ..sync.engine import RunOptions, RunResult, sync_connection
from .group_scenarios import GROUP_SCENARIOS
from .memory import MemoryWorld, memory_plugin
from .scenarios import Scenario, Settings, build_suite, choose_scenarios, require_settings, settings_for, started
from .sink_view import SinkView
from .snapshot_scenarios import SNAPSHOT_SCENARIOS


def harness_people(count: int = 5) -> list[dict[str, Any]]:
    """The reference source's people: ``count`` active employees in standard field names."""
    return [{"id": str(i), "email": f"person{i}@example.com", "first_name": f"Första{i}", "last_name": f"Efter{i}",
             "status": "active", "hire_date": "2021-03-01"} for i in range(count)]


class SinkHarness:
    """Drives the engine: reference source → sink under test → sandbox; keeps the state between runs.

    Without a sandbox (``sandbox=None``), ``settings`` build the sink and a :class:`SinkView` stands in
    for the sandbox; with one, ``settings`` are merged over its :meth:`~hrsync.sandbox.Sandbox.connector_settings`.
    """

    def __init__(self, sink_class: type[Sink], sandbox: SinkSandbox | None, tmp_path: Path, *,
                 settings: dict[str, Any] | None = None) -> None:
        self.sink_class, self.tmp_path = sink_class, tmp_path
        self.connector: type[Sink] = sink_class
        if sandbox is None:
            view = SinkView(sink_class, settings or {})
            self.sandbox: SinkSandbox = view
            self.connector = view.connector
            self.settings = view.connector_settings()
        else:
            self.sandbox = sandbox
            self.settings = {**sandbox.connector_settings(), **(settings or {})}
        self.world = MemoryWorld()
        self.world.people = harness_people()

    def run(self, **connection: Any) -> RunResult:
        """One run of the engine, the connection's options (``missing``, ``guards``, …) as given."""
        plugin = types.SimpleNamespace(
            register_sinks=hookimpl(specname="register_sinks")(lambda register: register(self.connector)))
        plugins = load_plugins(entry_points=False, plugins=[("memory", _source_only()), ("under_test", plugin)])
        conn = {"source": {"plugin": "memory", "world": self.world},
                "sink": {"plugin": self.sink_class.name, **self.settings}, **connection}
        config = parse_config({"host": {"state": "state.db"}, "connections": {"harness": conn}}, plugins,
                              path=self.tmp_path / "hosts.yaml")
        return sync_connection(config, "harness", plugins, RunOptions())

    def held_by_email(self) -> dict[str, list[dict[str, Any]]]:
        """What the sandbox holds, by lower-cased e-mail (a list: duplicates show)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for person in self.sandbox.held():
            out.setdefault(str(person.get("email", "")).lower(), []).append(person)
        return out


def _source_only() -> types.SimpleNamespace:
    return types.SimpleNamespace(register_sources=memory_plugin().register_sources)


def _no_duplicates(h: SinkHarness) -> None:
    twice = {email: len(p) for email, p in h.held_by_email().items() if len(p) > 1}
    assert not twice, f"the sink created duplicates: {twice}"


def _ok(result: RunResult, what: str) -> None:
    failed = [f"{a.email}: {a.message}" for a in result.plan.actions if a.outcome == "failed"]
    assert result.status == "ok", f"{what}: run {result.status}: {result.message or failed}"


def _sink_create(h: SinkHarness) -> None:
    _ok(h.run(), "first run")
    held = h.held_by_email()
    for person in h.world.people:
        (user,) = held.get(person["email"], [None])
        assert user is not None, f"{person['email']} was not created"
        assert (user.get("first_name"), user.get("last_name")) == (person["first_name"], person["last_name"]), \
            f"{person['email']} was created with other names: {user}"
    assert [w.kind for w in h.sandbox.writes()] == ["create"] * len(h.world.people)


def _sink_update_changed_only(h: SinkHarness) -> None:
    _ok(h.run(), "first run")
    h.sandbox.clear()
    h.world.people[1]["last_name"] = "Changed"
    _ok(h.run(), "second run")
    writes = h.sandbox.writes()
    assert [w.kind for w in writes] == ["update"], f"expected one update, got {writes}"
    assert writes[0].fields == {"last_name"}, f"the update re-sent unchanged fields: {sorted(writes[0].fields)}"
    assert h.held_by_email()["person1@example.com"][0]["last_name"] == "Changed"


def _sink_idempotent(h: SinkHarness) -> None:
    _ok(h.run(), "first run")
    h.sandbox.clear()
    _ok(h.run(), "second run")
    assert h.sandbox.writes() == [], f"re-applying unchanged data wrote: {h.sandbox.writes()}"
    _no_duplicates(h)


def _sink_deactivate(h: SinkHarness) -> None:
    options = {"missing": "deactivate", "guards": {"max_deactivation_percent": 100, "max_shrink_percent": 100}}
    _ok(h.run(**options), "first run")
    gone = h.world.people.pop()
    h.sandbox.clear()
    _ok(h.run(**options), "second run")
    kinds = [w.kind for w in h.sandbox.writes()]
    assert "delete" not in kinds, "the sink deleted a person; deactivate must never delete"
    assert kinds == ["deactivate"] or kinds == ["update"], f"expected one deactivating write, got {kinds}"
    (user,) = h.held_by_email()[gone["email"]]
    assert user.get("active") is False, f"{gone['email']} is still active"


def _sink_case_insensitive(h: SinkHarness) -> None:
    first = h.world.people[0]
    h.sandbox.seed([{**first, "email": first["email"].upper()}])
    _ok(h.run(), "first run")
    _no_duplicates(h)
    assert len(h.sandbox.held()) == len(h.world.people)


def _sink_throttled(status: int) -> Callable[[SinkHarness], None]:
    def check(h: SinkHarness) -> None:
        busy = 3
        h.sandbox.throttle(busy, status)
        _ok(h.run(), f"run with {status} answers")
        answered = h.sandbox.busy_answers()
        assert answered >= busy, (f"the sandbox was told to answer {busy} requests with {status} but answered "
                                  f"{answered}: its throttle() does not throttle, so this run proves nothing")
        assert len(h.sandbox.held()) == len(h.world.people), f"people were lost to {status} answers"

    return check


def _sink_failing_person_isolated(h: SinkHarness) -> None:
    bad = h.world.people[2]["email"]
    h.sandbox.reject(bad)
    result = h.run()
    failed = [a for a in result.plan.actions if a.outcome == "failed"]
    assert [a.email for a in failed] == [bad], f"expected only {bad} to fail, got {[a.email for a in failed]}"
    assert failed[0].message, "a failed person needs the sink's reason"
    assert result.status == "partial"
    assert len(h.sandbox.held()) == len(h.world.people) - 1


def _sink_conflict_on_create(h: SinkHarness) -> None:
    late = h.world.people.pop()
    _ok(h.run(), "first run")  # history now exists: the next create is not preceded by a listing
    h.sandbox.seed([late])
    h.world.people.append(late)
    result = h.run()
    _ok(result, "run after the conflict")
    _no_duplicates(h)
    matched = [a for a in result.plan.actions if a.email == late["email"]]
    assert matched and matched[0].matched, "the existing person was not linked"


SINK_SCENARIOS: list[Scenario] = [
    Scenario("create", "New people are created with their fields.", _sink_create),
    Scenario("update_sends_only_changed_fields", "An update writes only what changed.", _sink_update_changed_only),
    Scenario("idempotent_reapply", "A second run of unchanged data writes nothing.", _sink_idempotent),
    Scenario("deactivate_never_deletes", "People gone from the source are deactivated, not deleted.",
             _sink_deactivate),
    Scenario("case_insensitive_key", "E-mails differing only in case match.", _sink_case_insensitive),
    Scenario("rate_limited_429_then_success", "429 answers are retried.", _sink_throttled(429)),
    Scenario("unavailable_503_then_success", "503 answers are retried.", _sink_throttled(503)),
    Scenario("one_failing_person_is_isolated", "One refused person fails alone.", _sink_failing_person_isolated),
    Scenario("conflict_on_create_links", "A create conflict links the existing person.", _sink_conflict_on_create),
]


def sink_tests(sink_class: type[Sink], *, sandbox: type[SinkSandbox] | Callable[[], SinkSandbox] | None = None,
               settings: Settings | None = None, scenarios: Iterable[Scenario] | None = None) -> type:
    """A pytest test class running the sink contract, one test per scenario, each on a fresh sandbox.

    :param sandbox: a :class:`hrsync.sandbox.SinkSandbox` subclass (built with its ``create()``), or any
        callable returning a sandbox; None for a sink that needs no service (pass ``settings``).
    :param settings: the sink's settings, or a function of the test's ``tmp_path`` returning them
        (e.g. the path of a file there); merged over the sandbox's.
    :param scenarios: the scenarios to run (default :data:`SINK_SCENARIOS`, and :data:`GROUP_SCENARIOS`
        for a sink that holds groups; :data:`SNAPSHOT_SCENARIOS` for a sink that takes snapshots). A
        sandbox that cannot throttle, refuse a person or show its groups (and a sink tested without one)
        fails those scenarios, saying so.
    """
    require_settings("sink_tests", sandbox, settings)

    def run(scenario: Scenario, tmp_path: Path) -> None:
        with started(sandbox) as sb:
            given = None if settings is None else settings_for(sink_class, settings, tmp_path)
            scenario.check(SinkHarness(sink_class, sb, tmp_path, settings=given))

    chosen = choose_scenarios(default_sink_scenarios(sink_class), scenarios)
    return build_suite(f"Test{sink_class.__name__}Contract", chosen, run)


def default_sink_scenarios(sink_class: type[Sink]) -> list[Scenario]:
    """The scenarios a sink runs unless it chooses: the snapshot ones for a sink that takes snapshots, else
    the per-person ones, and the groups' too when it holds groups."""
    if sink_class.takes_snapshots:
        return list(SNAPSHOT_SCENARIOS)
    return SINK_SCENARIOS + (GROUP_SCENARIOS if sink_class.holds_groups else [])
