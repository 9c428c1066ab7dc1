"""marshmallow's private API, used in one module: fails loudly on an incompatible marshmallow, falls back safely.

When the first test here fails after a marshmallow upgrade, read its message and docs/architecture.md,
"Dependencies": hrsync still runs correctly (every record goes through ``Schema.load``), only slower.
"""

from __future__ import annotations

import configparser
import inspect
import logging
from importlib.metadata import version
from types import SimpleNamespace

import pytest
from marshmallow import EXCLUDE, Schema, fields, post_load
from marshmallow.schema import SchemaMeta

from hrsync.config.mapping import FieldRule
from hrsync.connectors import RunContext
from hrsync.sync import marshmallow_internals as internals
from hrsync.sync.loading import RecordLoader, hooked
from hrsync.sync.records import RecordValidator, _checked_once
from hrsync.testing.memory import MemoryRecord, MemorySink, MemorySinkRecord, MemorySource
from hrsync_plugins.personio.source import RecordSchema as PersonioRecord
from tests.helpers import ROOT


@pytest.fixture(autouse=True)
def fresh_probe():
    """Each test probes anew (the answer is cached per process), and leaves no cached answer behind."""
    internals.usable.cache_clear()
    yield
    internals.usable.cache_clear()


def test_the_installed_marshmallow_is_what_hrsync_assumes():
    try:
        internals.probe()
    except internals.Incompatible as exc:
        pytest.fail(f"marshmallow {version('marshmallow')} is not compatible with hrsync.sync.marshmallow_internals: "
                    f"{exc}. hrsync falls back to Schema.load (correct, slower). Adapt marshmallow_internals.py "
                    "or bound marshmallow below this version in setup.cfg; see docs/architecture.md, Dependencies.")
    assert internals.usable()


def test_the_private_names_exist_with_the_signatures_used():
    for name in internals.LOAD_PATH:
        assert callable(getattr(Schema, name, None)), f"marshmallow's Schema has no {name}"
    parameters = inspect.signature(Schema._invoke_load_processors).parameters
    assert list(parameters)[:3] == ["self", "tag", "data"], parameters
    for keyword in ("many", "original_data", "partial", "unknown"):
        assert parameters[keyword].kind is inspect.Parameter.KEYWORD_ONLY, keyword
    assert isinstance(Schema._hooks, dict)
    assert internals.hook_tags(PersonioRecord) == {"pre_load"}
    assert internals.hook_tags(MemoryRecord) == frozenset()


def test_setup_cfg_bounds_marshmallow_to_the_verified_major():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    (requirement,) = [line.strip() for line in config["options"]["install_requires"].splitlines()
                      if line.strip().startswith("marshmallow")]
    assert requirement == "marshmallow>=4.0,<5", requirement
    assert version("marshmallow").split(".")[0] == "4"
    assert {v.split(".")[0] for v in internals.VERIFIED} == {"4"}


def _break_hooks_layout(monkeypatch):
    """marshmallow 3.22 re-keyed ``_hooks`` in a minor release; this is that change, undone."""
    resolve = SchemaMeta.resolve_hooks

    def old_layout(cls):
        return {(tag, False): hooks for tag, hooks in resolve(cls).items()}

    monkeypatch.setattr(SchemaMeta, "resolve_hooks", old_layout)


def _rename_a_method(monkeypatch):
    monkeypatch.delattr(Schema, "_invoke_load_processors")


@pytest.mark.parametrize("change", [_break_hooks_layout, _rename_a_method])
def test_a_changed_marshmallow_is_detected_and_logged_once(change, monkeypatch, caplog):
    change(monkeypatch)
    with pytest.raises(internals.Incompatible):
        internals.probe()
    with caplog.at_level(logging.WARNING, logger="hrsync.sync.marshmallow_internals"):
        assert not internals.usable()
        assert not internals.usable()
    (warning,) = caplog.records
    assert "Schema.load" in warning.getMessage() and "slower" in warning.getMessage()


def _pretend_incompatible(monkeypatch):
    """The probe fails while marshmallow itself still works (a real change would break only the probe's view)."""
    def changed():
        raise internals.Incompatible("pretended for this test")

    monkeypatch.setattr(internals, "_probe", changed)


RAW = [
    {"id": "1", "email": "A@Example.com", "first_name": "Ann", "status": "active", "gender": "female"},
    {"id": "2", "email": "b@example.com", "first_name": "Bo", "status": "active", "gender": "robot"},
    {"id": "3", "email": "not-an-address", "first_name": "Cy"},
    {"id": "4", "email": "d@example.com", "first_name": "Di", "hire_date": "2020-13-01"},
    {"id": "5", "email": "e@example.com", "first_name": "Ed", "status": "inactive", "office": "HQ"},
]


def _validate(memory_config, memory_world):
    config, _ = memory_config()
    conn = config.connection("mem")
    context = RunContext("mem")
    validator = RecordValidator(conn, MemorySource(conn.source.settings, context),
                                MemorySink(conn.sink.settings, context))
    records = validator.validate(iter([dict(r) for r in RAW]))
    return validator, [(p.source_id, p.email_key, p.desired) for p in records.people], \
        [(a.kind, a.source_id, a.reason) for a in records.actions]


def test_without_the_internals_records_load_the_plain_way_with_the_same_outcome(memory_config, memory_world,
                                                                                monkeypatch, caplog):
    fast, people, actions = _validate(memory_config, memory_world)
    assert fast.source_loader.plain and fast.checked_once
    internals.usable.cache_clear()
    _pretend_incompatible(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="hrsync.sync.marshmallow_internals"):
        slow, slow_people, slow_actions = _validate(memory_config, memory_world)
    assert not slow.source_loader.plain and not slow.sink_loader.plain and slow.checked_once == frozenset()
    assert (slow_people, slow_actions) == (people, actions)
    assert [p[0] for p in people] == ["1", "5"] and [a[1] for a in actions] == ["2", "3", "4"]
    assert "slower" in caplog.text


class Shouting(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String()

    @post_load
    def shout(self, data, **kwargs):
        return {"name": data["name"].upper()}


def test_without_the_internals_every_schema_counts_as_hooked(monkeypatch):
    assert not hooked(MemoryRecord) and hooked(Shouting) and hooked(PersonioRecord, pre_load=True)
    internals.usable.cache_clear()
    _pretend_incompatible(monkeypatch)
    assert hooked(MemoryRecord) and hooked(MemorySinkRecord, pre_load=True)
    assert internals.replaces_load_path(MemoryRecord)
    source, sink = MemoryRecord(unknown=EXCLUDE), MemorySinkRecord(unknown=EXCLUDE)
    assert not internals.same_settings(source.fields["first_name"], sink.fields["first_name"])
    loader = RecordLoader(PersonioRecord(unknown=EXCLUDE))
    assert not loader.plain and not loader.pre_load
    record = {"id": 7, "email": "a@example.com", "first_name": " Ann ", "status": "active"}
    assert loader.load(dict(record)) == PersonioRecord(unknown=EXCLUDE).load(dict(record))
    assert RecordLoader(Shouting()).load({"name": "ada"}) == {"name": "ADA"}
    copies = SimpleNamespace(mapping=SimpleNamespace(rules=[FieldRule("first_name", "first_name")]))
    assert _checked_once(copies, source, sink) == frozenset()
