"""Test support for hrsync and its plugin authors (also a pytest plugin, entry point ``pytest11``).

Provides in-memory reference plugins - :class:`MemorySource` and :class:`MemorySink` -
that follow the plugin contract with no network, and fixtures built on them:

* ``memory_plugins``: a module-like object registering both, for ``make_host(plugins=...)``;
* ``memory_world``: a fresh source list and sink store, shared with plugin instances.

The reference sink counts every call it receives, so tests can assert "zero writes".
"""

from __future__ import annotations

import itertools
import types
from typing import Any, ClassVar

import pytest
from marshmallow import EXCLUDE, RAISE, Schema, fields

from . import hookimpl
from .connectors import Sink, SinkPerson, Source
from .errors import ConflictError, RecordError, SourceError
from .fields import standard_field


class MemoryWorld:
    """The data behind the memory plugins: ``people`` (source) and ``users`` (sink)."""

    def __init__(self) -> None:
        self.people: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.fail_read = False
        self.fail_emails: set[str] = set()
        self._ids = itertools.count(1)

    def writes(self) -> list[tuple[str, Any]]:
        return [c for c in self.calls if c[0] in ("create", "update", "deactivate")]

    def new_id(self) -> str:
        return f"u{next(self._ids)}"


class MemorySourceConfig(Schema):
    class Meta:
        unknown = RAISE

    world = fields.Raw(load_default=None, metadata={"description": "Set by tests."})


class MemoryRecord(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, metadata={"standard": "id"})
    email = standard_field("email")
    first_name = standard_field("first_name")
    last_name = standard_field("last_name")
    gender = standard_field("gender")
    birthday = standard_field("birthday")
    hire_date = standard_field("hire_date")
    termination_date = standard_field("termination_date")
    status = standard_field("status")
    office = standard_field("office")
    employment_type = standard_field("employment_type")


class MemorySinkRecord(Schema):
    class Meta:
        unknown = EXCLUDE

    email = standard_field("email", required=True)
    first_name = standard_field("first_name")
    last_name = standard_field("last_name")
    gender = standard_field("gender")
    birthday = standard_field("birthday")
    hire_date = standard_field("hire_date")
    termination_date = standard_field("termination_date")
    status = standard_field("status")
    active = fields.Boolean(allow_none=True)


class MemorySource(Source):
    """Reads ``world.people`` (dicts in standard names)."""

    name: ClassVar[str] = "memory"
    ConfigSchema = MemorySourceConfig
    RecordSchema = MemoryRecord

    @property
    def world(self) -> MemoryWorld:
        return self.settings["world"]

    def read(self):
        if self.world.fail_read:
            raise SourceError("memory source: read failed (fail_read switch)", connection=self.context.connection)
        yield from (dict(p) for p in self.world.people)


class MemorySink(Sink):
    """Holds ``world.users`` by id; e-mails unique case-insensitively, like a SCIM userName."""

    name: ClassVar[str] = "memory"
    ConfigSchema = MemorySourceConfig
    RecordSchema = MemorySinkRecord

    @property
    def world(self) -> MemoryWorld:
        return self.settings["world"]

    def prepare(self, record):
        desired = super().prepare(record)
        desired["active"] = record.get("status") != "inactive"
        return desired

    def list_people(self):
        self.world.calls.append(("list", None))
        return [SinkPerson(uid, dict(u)) for uid, u in self.world.users.items()]

    def find(self, key):
        self.world.calls.append(("find", key))
        return next((SinkPerson(uid, dict(u)) for uid, u in self.world.users.items()
                     if u["email"].lower() == key.lower()), None)

    def _fail_if_asked(self, email: str | None) -> None:
        if email and email.lower() in self.world.fail_emails:
            raise RecordError(f"memory sink refuses {email} (fail_emails switch)", record=email)

    def create(self, record):
        self.world.calls.append(("create", record["email"]))
        self._fail_if_asked(record["email"])
        if any(u["email"].lower() == record["email"].lower() for u in self.world.users.values()):
            raise ConflictError(f"{record['email']} exists", record=record["email"])
        uid = self.world.new_id()
        self.world.users[uid] = dict(record)
        return SinkPerson(uid, dict(record))

    def update(self, sink_id, changes, record):
        self.world.calls.append(("update", (sink_id, dict(changes))))
        self._fail_if_asked(record.get("email"))
        self.world.users[sink_id].update(changes)

    def deactivate(self, sink_id):
        self.world.calls.append(("deactivate", sink_id))
        self.world.users[sink_id]["active"] = False


@hookimpl
def _register_sources(register):
    register(MemorySource)


@hookimpl
def _register_sinks(register):
    register(MemorySink)


def memory_plugin() -> types.SimpleNamespace:
    """A plugin object registering the memory source and sink, for ``make_host(plugins=[("memory", ...)])``."""
    return types.SimpleNamespace(register_sources=_register_sources, register_sinks=_register_sinks)


@pytest.fixture
def memory_world() -> MemoryWorld:
    return MemoryWorld()
