"""The plugin test harness, and pytest fixtures for plugin authors (pytest plugin via ``pytest11``).

A plugin's contract tests are one call each, in the style of singer-sdk::

    TestMySource = source_tests(MySource, sandbox=my_sandbox, settings=lambda sb: {...},
                                bad_settings=lambda sb: {...})
    TestMySink = sink_tests(MySink, sandbox=my_sink_sandbox)

Suites are data: :data:`SOURCE_SCENARIOS` and :data:`SINK_SCENARIOS` are lists of
named :class:`Scenario` objects, and each generated test is named after its scenario
(``test_update_sends_only_changed_fields``). Sink scenarios run the real engine with
the in-memory reference source against the sink under test, and observe the results
through a :class:`SinkSandbox` adapter - the sandbox's own view, not the sink's.

Fixtures: ``memory_world`` (data for the reference plugins), ``hrsync_state`` (a
state database in a temporary folder), ``smtp_capture`` (an SMTP server on loopback).
Plugins add their own sandboxes as fixtures through their own ``pytest11`` entry
point (see the bundled plugins' ``testing`` modules).
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import pytest
from marshmallow import EXCLUDE, ValidationError

from . import hookimpl
from .config import parse_config
from .connectors import RunContext, Sink, Source
from .engine import RunOptions, RunResult, run_connection
from .errors import RunError
from .fields import STANDARD_FIELDS
from .host import make_host
from .mailbox import SmtpCapture
from .memory import MemorySink, MemorySource, MemoryWorld, memory_plugin
from .secrets import Secret
from .state import open_state

__all__ = [
    "MemorySink", "MemorySource", "MemoryWorld", "SINK_SCENARIOS", "SOURCE_SCENARIOS", "Scenario",
    "SinkSandbox", "Write", "memory_plugin", "sink_tests", "source_tests",
]


@dataclass(frozen=True)
class Scenario:
    """One contract check: a name (the test's name), what it proves, and the check itself."""

    name: str
    description: str
    check: Callable[[Any], None]


# -- sources ---------------------------------------------------------------------------------


@dataclass
class SourceHarness:
    source_class: type[Source]
    settings: dict[str, Any]
    bad_settings: dict[str, Any] | None

    def build(self, settings: dict[str, Any] | None = None) -> Source:
        loaded = self.source_class.ConfigSchema().load(settings or self.settings)
        return self.source_class(loaded, RunContext("harness"))

    def read(self) -> list[dict[str, Any]]:
        with self.build() as source:
            return list(source.read())

    def loaded(self) -> list[dict[str, Any]]:
        schema = self.source_class.RecordSchema(unknown=EXCLUDE)
        return [schema.load(raw) for raw in self.read()]


def _secret_values(settings: dict[str, Any]) -> list[str]:
    return [v.reveal() for v in settings.values() if isinstance(v, Secret)]


def _source_config_loads(h: SourceHarness) -> None:
    loaded = h.source_class.ConfigSchema().load(h.settings)
    secret_fields = [n for n, f in h.source_class.ConfigSchema().fields.items() if f.metadata.get("secret")]
    for name in secret_fields:
        assert name not in loaded or isinstance(loaded[name], Secret), f"secret setting {name!r} is not a Secret"


def _source_check_passes(h: SourceHarness) -> None:
    with h.build() as source:
        source.check()


def _source_check_fails(h: SourceHarness) -> None:
    if h.bad_settings is None:
        pytest.fail("source_tests(..., bad_settings=...) is needed to prove that check() refuses bad credentials")
    with h.build(h.bad_settings) as source:
        with pytest.raises(RunError) as info:
            source.check()
    for secret in _secret_values(h.bad_settings):
        assert secret not in str(info.value), "the error message shows a secret"


def _source_records_are_read(h: SourceHarness) -> None:
    assert h.read(), "the source read no records from its sandbox"


def _source_records_validate(h: SourceHarness) -> None:
    schema = h.source_class.RecordSchema(unknown=EXCLUDE)
    for raw in h.read():
        try:
            schema.load(raw)
        except ValidationError as exc:
            pytest.fail(f"record {raw.get(h.source_class.key_field)!r} fails its own RecordSchema: {exc.messages}")


def _source_key_unique(h: SourceHarness) -> None:
    key = h.source_class.key_field
    keys = [r.get(key) for r in h.loaded()]
    assert all(k not in (None, "") for k in keys), f"some records have no {key!r}"
    duplicates = sorted({str(k) for k in keys if keys.count(k) > 1})
    assert not duplicates, f"key field {key!r} is not unique: {duplicates[:5]}"


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _source_standard_types(h: SourceHarness) -> None:
    for record in h.loaded():
        for name, value in record.items():
            spec = STANDARD_FIELDS.get(name)
            if spec is None or value is None:
                continue
            where = f"record {record.get(h.source_class.key_field)!r}, field {name!r}"
            if spec.type == "date":
                assert isinstance(value, str) and _DATE.match(value), f"{where}: dates must be YYYY-MM-DD strings"
            elif spec.type == "enum":
                assert value in spec.allowed, f"{where}: {value!r} is not one of {spec.allowed}"
            elif spec.type in ("string", "email"):
                assert isinstance(value, str), f"{where}: expected a string, got {type(value).__name__}"


def _source_read_stable(h: SourceHarness) -> None:
    key = h.source_class.key_field
    first = sorted(h.loaded(), key=lambda r: str(r.get(key)))
    second = sorted(h.loaded(), key=lambda r: str(r.get(key)))
    assert first == second, "two reads of unchanged data differ"


SOURCE_SCENARIOS: list[Scenario] = [
    Scenario("config_schema_loads", "The settings load, secrets as Secret.", _source_config_loads),
    Scenario("check_passes", "check() accepts good settings.", _source_check_passes),
    Scenario("check_fails_on_bad_credentials", "check() raises a RunError without the secret.",
             _source_check_fails),
    Scenario("records_are_read", "read() yields records.", _source_records_are_read),
    Scenario("records_validate", "Every record loads with the RecordSchema.", _source_records_validate),
    Scenario("key_field_present_and_unique", "Every record has a unique key.", _source_key_unique),
    Scenario("standard_fields_have_standard_types", "Standard field names carry the vocabulary's types.",
             _source_standard_types),
    Scenario("repeated_read_is_stable", "Reading twice gives the same records.", _source_read_stable),
]


def source_tests(source_class: type[Source], *, sandbox: Callable[[], AbstractContextManager],
                 settings: Callable[[Any], dict[str, Any]],
                 bad_settings: Callable[[Any], dict[str, Any]] | None = None,
                 scenarios: list[Scenario] | None = None) -> type:
    """A pytest test class running the source contract against ``sandbox()``.

    :param sandbox: a factory of a context manager that serves the source's data.
    :param settings: the source's settings for that sandbox (secrets as :class:`hrsync.Secret`).
    :param bad_settings: settings whose credentials the sandbox refuses.
    """

    def run(scenario: Scenario, tmp_path) -> None:
        with sandbox() as sb:
            scenario.check(SourceHarness(source_class, settings(sb), bad_settings(sb) if bad_settings else None))

    return _suite(f"Test{source_class.__name__}Contract", scenarios or SOURCE_SCENARIOS, run)


def _suite(class_name: str, scenarios: list[Scenario], run: Callable[[Scenario, Any], None]) -> type:
    """A pytest test class with one test per scenario, named ``test_<scenario name>``."""

    def make(scenario: Scenario):
        def test(self, tmp_path) -> None:
            run(scenario, tmp_path)

        test.__name__ = f"test_{scenario.name}"
        test.__doc__ = scenario.description
        return test

    return type(class_name, (), {f"test_{s.name}": make(s) for s in scenarios})


# -- sinks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    """One write the sandbox received: ``create``, ``update``, ``deactivate`` or ``delete``."""

    kind: str
    fields: frozenset[str] = frozenset()


class SinkSandbox(Protocol):
    """What the sink harness needs from a sink's sandbox. A context manager."""

    def __enter__(self) -> SinkSandbox: ...

    def __exit__(self, *exc: object) -> None: ...

    def settings(self) -> dict[str, Any]:
        """The sink's settings for this sandbox (secrets as :class:`hrsync.Secret`)."""

    def held(self) -> list[dict[str, Any]]:
        """Everyone the sandbox holds, in standard field names (email, first_name, ..., active)."""

    def writes(self) -> list[Write]:
        """Writes received since the last :meth:`clear`."""

    def clear(self) -> None: ...

    def seed(self, records: list[dict[str, Any]]) -> None:
        """Hold these people already (standard field names), without counting writes."""

    def throttle(self, count: int, status: int) -> None:
        """Answer the next ``count`` requests as busy (429 or 503)."""

    def reject(self, email: str) -> None:
        """Refuse writes for this person (a 4xx with a reason)."""


def harness_people(count: int = 5) -> list[dict[str, Any]]:
    return [{"id": str(i), "email": f"person{i}@example.com", "first_name": f"Första{i}", "last_name": f"Efter{i}",
             "status": "active", "hire_date": "2021-03-01"} for i in range(count)]


class SinkHarness:
    """Drives the engine: reference source → sink under test → sandbox; keeps the state between runs."""

    def __init__(self, sink_class: type[Sink], sandbox: SinkSandbox, tmp_path) -> None:
        self.sink_class, self.sandbox, self.tmp_path = sink_class, sandbox, tmp_path
        self.world = MemoryWorld()
        self.world.people = harness_people()

    def run(self, **connection: Any) -> RunResult:
        plugin = types.SimpleNamespace(
            register_sinks=hookimpl(specname="register_sinks")(lambda register: register(self.sink_class)))
        host = make_host(entry_points=False, plugins=[("memory", _source_only()), ("under_test", plugin)])
        conn = {"source": {"plugin": "memory", "world": self.world},
                "sink": {"plugin": self.sink_class.name, **self.sandbox.settings()}, **connection}
        cfg = parse_config({"host": {"state": "state.db"}, "connections": {"harness": conn}}, host,
                           path=self.tmp_path / "hosts.yaml")
        return run_connection(cfg, "harness", host, RunOptions())

    def held_by_email(self) -> dict[str, list[dict[str, Any]]]:
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
        h.sandbox.throttle(3, status)
        _ok(h.run(), f"run with {status} answers")
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
    assert matched and matched[0].link == "linked", "the existing person was not linked"


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


def sink_tests(sink_class: type[Sink], *, sandbox: Callable[[], SinkSandbox],
               scenarios: list[Scenario] | None = None) -> type:
    """A pytest test class running the sink contract against a fresh ``sandbox()`` per scenario."""

    def run(scenario: Scenario, tmp_path) -> None:
        with sandbox() as sb:
            scenario.check(SinkHarness(sink_class, sb, tmp_path))

    return _suite(f"Test{sink_class.__name__}Contract", scenarios or SINK_SCENARIOS, run)


class MemorySinkSandbox:
    """The :class:`SinkSandbox` of the reference memory sink (a MemoryWorld)."""

    def __init__(self, **settings: Any) -> None:
        self.world = MemoryWorld()
        self.extra = settings
        self._seen = 0

    def __enter__(self) -> MemorySinkSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def settings(self) -> dict[str, Any]:
        return {"world": self.world, **self.extra}

    def held(self) -> list[dict[str, Any]]:
        return [dict(u) for u in self.world.users.values()]

    def writes(self) -> list[Write]:
        out = []
        for kind, detail in self.world.calls[self._seen:]:
            if kind == "update":
                out.append(Write("update", frozenset(detail[1])))
            elif kind in ("create", "deactivate"):
                out.append(Write(kind))
        return out

    def clear(self) -> None:
        self._seen = len(self.world.calls)

    def seed(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self.world.users[self.world.new_id()] = {k: v for k, v in record.items() if k != "id"}

    def throttle(self, count: int, status: int) -> None:
        self.world.busy_next = count

    def reject(self, email: str) -> None:
        self.world.fail_emails.add(email.lower())


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def memory_world() -> MemoryWorld:
    """Data for the in-memory reference source and sink."""
    return MemoryWorld()


@pytest.fixture
def hrsync_state(tmp_path) -> Iterator[Any]:
    """A state database in a temporary folder."""
    state = open_state(tmp_path / "state.db")
    yield state
    state.close()


@pytest.fixture
def smtp_capture() -> Iterator[Any]:
    """An SMTP server on 127.0.0.1 that keeps what it receives (``.port``, ``.wait_for(n)``)."""
    with SmtpCapture() as capture:
        yield capture

