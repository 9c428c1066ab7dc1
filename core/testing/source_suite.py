"""The source contract: what every source must do, checked against its sandbox.

``source_tests(MySource, sandbox=MySandbox)`` is a plugin's whole source test file. The
settings come from the sandbox (:meth:`hrsync.Sandbox.connector_settings`), and the
credentials it refuses from :meth:`hrsync.Sandbox.bad_settings`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from marshmallow import EXCLUDE, ValidationError

from ..connectors import RunContext, Source
from ..errors import RunError
from ..fields import STANDARD_FIELDS
from ..sandbox.contract import SourceSandbox, sandbox_factory
from ..secrets import Secret
from .scenarios import Scenario, build_suite


@dataclass
class SourceHarness:
    source_class: type[Source]
    sandbox: SourceSandbox

    def build(self, settings: dict[str, Any] | None = None) -> Source:
        loaded = self.source_class.ConfigSchema().load(settings or self.sandbox.connector_settings())
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
    loaded = h.source_class.ConfigSchema().load(h.sandbox.connector_settings())
    secret_fields = [n for n, f in h.source_class.ConfigSchema().fields.items() if f.metadata.get("secret")]
    for name in secret_fields:
        assert name not in loaded or isinstance(loaded[name], Secret), f"secret setting {name!r} is not a Secret"


def _check_passes(h: SourceHarness) -> None:
    with h.build() as source:
        source.check()


def _check_fails(h: SourceHarness) -> None:
    try:
        bad = h.sandbox.bad_settings()
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


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


def source_tests(source_class: type[Source], *, sandbox: type[SourceSandbox] | Callable[[], SourceSandbox],
                 scenarios: list[Scenario] | None = None) -> type:
    """A pytest test class running the source contract against a fresh ``sandbox()`` per scenario.

    :param sandbox: a :class:`hrsync.SourceSandbox` subclass (built with its ``create()``), or any
        callable returning a sandbox.
    """

    def run(scenario: Scenario, tmp_path) -> None:
        with sandbox_factory(sandbox)() as sb:
            scenario.check(SourceHarness(source_class, sb))

    return build_suite(f"Test{source_class.__name__}Contract", scenarios or SOURCE_SCENARIOS, run)
