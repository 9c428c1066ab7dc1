"""The source contract: what every source must do, checked against its sandbox or with the settings given.

``source_tests(MySource, sandbox=MySandbox)`` is a plugin's whole source test file; a source
that reads a file needs no sandbox: ``source_tests(MySource, settings={"path": …})``. Settings
come from the sandbox (:meth:`hrsync.sandbox.Sandbox.connector_settings`) or ``settings=`` (both: merged,
``settings=`` last). Refused settings are asked for only where the source has secrets, or where
they are given (``bad_settings=``, or a sandbox overriding :meth:`hrsync.sandbox.Sandbox.bad_settings`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from marshmallow import EXCLUDE, ValidationError

from ..connectors import RunContext, Source
from ..errors import RunError
from ..fields import STANDARD_FIELDS
from ..sandbox.contract import Sandbox, SourceSandbox
from ..secrets import Secret
from .scenarios import (
    Scenario,
    Settings,
    build_suite,
    choose_scenarios,
    require_settings,
    secret_settings,
    settings_for,
    started,
)


@dataclass
class SourceHarness:
    """One source under test: its class, its running sandbox (or None), and the settings given directly."""

    source_class: type[Source]
    sandbox: SourceSandbox | None = None
    #: Settings given directly (``source_tests(settings=…)``), over the sandbox's.
    settings: dict[str, Any] | None = None
    #: Settings ``check()`` must refuse, over the good ones (``source_tests(bad_settings=…)``).
    refused: dict[str, Any] | None = None

    def connector_settings(self) -> dict[str, Any]:
        """The settings the source is built with: the sandbox's, then those given directly."""
        return {**(self.sandbox.connector_settings() if self.sandbox else {}), **(self.settings or {})}

    def bad_settings(self) -> dict[str, Any]:
        """Settings ``check()`` must refuse: those given, else the sandbox's, else every secret wrong.

        ``NotImplementedError`` says why there are none (a source without secrets or a sandbox to ask)."""
        if self.refused is not None:
            return {**self.connector_settings(), **self.refused}
        if self.sandbox is not None:
            return self.sandbox.bad_settings()
        good = self.connector_settings()
        wrong = {name: Secret("wrong-" + good[name].reveal()) for name in secret_settings(self.source_class)
                 if isinstance(good.get(name), Secret)}
        if not wrong:
            raise NotImplementedError(f"{self.source_class.__name__} has no secrets to get wrong: pass "
                                      "bad_settings= to source_tests, or scenarios=… without this scenario")
        return {**good, **wrong}

    def build(self, settings: dict[str, Any] | None = None) -> Source:
        loaded = self.source_class.ConfigSchema().load(self.connector_settings() if settings is None else settings)
        return self.source_class(loaded, RunContext("harness"))

    def read(self) -> list[dict[str, Any]]:
        """A run's read: ``open()``, then ``read()``."""
        with self.build() as source:
            source.open()
            return list(source.read())

    def loaded(self) -> list[dict[str, Any]]:
        schema = self.source_class.RecordSchema(unknown=EXCLUDE)
        return [schema.load(raw) for raw in self.read()]


def _config_loads(h: SourceHarness) -> None:
    loaded = h.source_class.ConfigSchema().load(h.connector_settings())
    for name in secret_settings(h.source_class):
        assert name not in loaded or isinstance(loaded[name], Secret), f"secret setting {name!r} is not a Secret"


def _check_passes(h: SourceHarness) -> None:
    with h.build() as source:
        source.check()


def _check_fails(h: SourceHarness) -> None:
    try:
        bad = h.bad_settings()
    except NotImplementedError as exc:
        pytest.fail(f"cannot prove that check() refuses bad credentials: {exc}")
    with h.build(bad) as source:
        with pytest.raises(RunError) as info:
            source.check()
    for secret in (v.reveal() for v in bad.values() if isinstance(v, Secret)):
        assert secret not in str(info.value), "the error message shows a secret"


def _records_are_read(h: SourceHarness) -> None:
    assert h.read(), "the source read no records from its sandbox"


def _records_validate(h: SourceHarness) -> None:
    schema = h.source_class.RecordSchema(unknown=EXCLUDE)
    for raw in h.read():
        try:
            schema.load(raw)
        except ValidationError as exc:
            pytest.fail(f"record {raw.get(h.source_class.key_field)!r} fails its own RecordSchema: {exc.messages}")


def _key_unique(h: SourceHarness) -> None:
    key = h.source_class.key_field
    keys = [r.get(key) for r in h.loaded()]
    assert all(k not in (None, "") for k in keys), f"some records have no {key!r}"
    duplicates = sorted({str(k) for k in keys if keys.count(k) > 1})
    assert not duplicates, f"key field {key!r} is not unique: {duplicates[:5]}"


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")


def _standard_types(h: SourceHarness) -> None:
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


def _read_stable(h: SourceHarness) -> None:
    key = h.source_class.key_field
    first = sorted(h.loaded(), key=lambda r: str(r.get(key)))
    second = sorted(h.loaded(), key=lambda r: str(r.get(key)))
    assert first == second, "two reads of unchanged data differ"


SOURCE_SCENARIOS: list[Scenario] = [
    Scenario("config_schema_loads", "The settings load, secrets as Secret.", _config_loads),
    Scenario("check_passes", "check() accepts good settings.", _check_passes),
    Scenario("check_fails_on_bad_credentials", "check() raises a RunError without the secret.", _check_fails),
    Scenario("records_are_read", "read() yields records.", _records_are_read),
    Scenario("records_validate", "Every record loads with the RecordSchema.", _records_validate),
    Scenario("key_field_present_and_unique", "Every record has a unique key.", _key_unique),
    Scenario("standard_fields_have_standard_types", "Standard field names carry the vocabulary's types.",
             _standard_types),
    Scenario("repeated_read_is_stable", "Reading twice gives the same records.", _read_stable),
]


def _refusal_expected(source_class: type[Source], sandbox: object, bad_settings: object) -> bool:
    """Whether the default suite proves that ``check()`` refuses bad settings: when the source has secrets,
    or bad settings are given (``bad_settings=``, or a sandbox class that overrides ``bad_settings()``)."""
    target = sandbox.func if isinstance(sandbox, functools.partial) else sandbox
    overridden = isinstance(target, type) and target.bad_settings is not Sandbox.bad_settings
    return bool(secret_settings(source_class)) or bad_settings is not None or overridden


def source_tests(source_class: type[Source], *,
                 sandbox: type[SourceSandbox] | Callable[[], SourceSandbox] | None = None,
                 settings: Settings | None = None, bad_settings: Settings | None = None,
                 scenarios: Iterable[Scenario] | None = None) -> type:
    """A pytest test class running the source contract, one test per scenario, each on a fresh sandbox.

    :param sandbox: a :class:`hrsync.sandbox.SourceSandbox` subclass (built with its ``create()``), or any
        callable returning a sandbox; None for a source that needs no service (pass ``settings``).
    :param settings: the source's settings, or a function of the test's ``tmp_path`` returning them
        (secrets as plain strings or :class:`hrsync.Secret`); merged over the sandbox's.
    :param bad_settings: settings (over the good ones) that ``check()`` must refuse; by default the
        sandbox's ``bad_settings()``, or every secret setting made wrong.
    :param scenarios: the scenarios to run (default :data:`SOURCE_SCENARIOS`, without
        ``check_fails_on_bad_credentials`` for a source that has no secrets and no bad settings).
    """
    require_settings("source_tests", sandbox, settings)
    default = [s for s in SOURCE_SCENARIOS if s.name != "check_fails_on_bad_credentials"
               or _refusal_expected(source_class, sandbox, bad_settings)]

    def run(scenario: Scenario, tmp_path: Path) -> None:
        with started(sandbox) as sb:
            given = None if settings is None else settings_for(source_class, settings, tmp_path)
            refused = None if bad_settings is None else settings_for(source_class, bad_settings, tmp_path)
            scenario.check(SourceHarness(source_class, sb, given, refused))

    return build_suite(f"Test{source_class.__name__}Contract", choose_scenarios(default, scenarios), run)
