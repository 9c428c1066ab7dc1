"""In-memory reference connectors: a source and a sink that follow the contract with no network.

They back the engine's tests, the sink harness (its reference source) and the harness's
own meta-tests, and show a plugin author the smallest complete source and sink.
:class:`MemoryWorld` holds the data (``people`` read by the source, ``users`` held by
the sink) and records every sink call, so a test can assert "zero writes". The world
is passed in the settings (``world:``), which is why these connectors are registered
by tests (:func:`memory_plugin`), never by entry points. :class:`MemorySinkSandbox` is
the memory sink's sandbox for :func:`hrsync.testing.sink_tests`.
"""

from __future__ import annotations

import itertools
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from .. import hookimpl
from ..connectors import Defer, Sink, SinkPerson, Source
from ..errors import ConflictError, RecordError, RetriableError, SourceError
from ..fields import standard_field
from ..sandbox.contract import SinkSandbox, Write
from .memory_groups import MemoryGroup, MemoryGroups


class Users(dict):
    """The memory sink's users by id, indexed by lower-cased e-mail so a create or a lookup costs O(1)
    (a benchmark of the engine must not measure a linear scan in its test plugin). A user stored
    here is indexed; to change a stored user's e-mail, store the user again (``users[uid] = {...}``)."""

    def __init__(self) -> None:
        super().__init__()
        self._by_email: dict[str, str] = {}

    def __setitem__(self, uid: str, user: dict[str, Any]) -> None:
        if uid in self:
            self._by_email.pop(str(self[uid].get("email", "")).lower(), None)
        super().__setitem__(uid, user)
        self._by_email[str(user.get("email", "")).lower()] = uid

    def holder(self, email: str) -> str | None:
        """The id of the user holding ``email`` (case-insensitively), if any."""
        uid = self._by_email.get(email.lower())
        return uid if uid in self and str(self[uid].get("email", "")).lower() == email.lower() else None


class MemoryWorld:
    """The data behind the memory plugins, and the switches that make them misbehave."""

    def __init__(self) -> None:
        self.people: list[dict[str, Any]] = []
        self.users = Users()
        self.calls: list[tuple[str, Any]] = []
        self.fail_read = False
        self.fail_emails: set[str] = set()
        #: The next N writes are answered "busy" (like a 429/503).
        self.busy_next = 0
        self._ids = itertools.count(1)
        self.groups: dict[str, MemoryGroup] = {}
        self.group_conflicts: set[str] = set()  # group names whose next create is answered as a duplicate
        # The snapshot sink's (memory_snapshots.py): what its deliveries held, and its switches.
        self.delivered: dict[str, dict[str, Any]] = {}
        self.delivered_groups: dict[str, str] = {}
        self.deliveries: list[Any] = []
        self.fail_delivery = False
        self.keep_only: set[str] | None = None
        #: Held by every sink call, so the memory sink is safe with writes in flight.
        self.lock = threading.RLock()

    def writes(self) -> list[tuple[str, Any]]:
        return [c for c in self.calls if c[0] in ("create", "update", "deactivate")]

    def new_id(self) -> str:
        with self.lock:
            return f"u{next(self._ids)}"

    def busy(self) -> bool:
        with self.lock:
            if self.busy_next > 0:
                self.busy_next -= 1
                self.calls.append(("busy", None))
                return True
        return False


class MemoryConfig(Schema):
    class Meta:
        unknown = RAISE

    world = fields.Raw(load_default=None, metadata={"description": "The MemoryWorld (set by tests)."})
    max_retries = fields.Integer(load_default=3, validate=validate.Range(min=0),
                                 metadata={"description": "Retries of a write answered busy."})
    max_in_flight = fields.Integer(load_default=1, validate=validate.Range(min=1),
                                   metadata={"description": "Writes in flight (the sink is thread-safe)."})


class MemoryRecord(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, metadata={"standard": "id", "description": "Source id."})
    email = standard_field("email")
    first_name = standard_field("first_name")
    last_name = standard_field("last_name")
    gender = standard_field("gender")
    birthday = standard_field("birthday")
    hire_date = standard_field("hire_date")
    termination_date = standard_field("termination_date")
    status = standard_field("status")
    office = standard_field("office")
    department = standard_field("department")
    team = standard_field("team")
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
    active = fields.Boolean(allow_none=True, metadata={"description": "False once deactivated."})


class _InWorld:
    @property
    def world(self) -> MemoryWorld:
        return self.settings["world"]


class MemorySource(_InWorld, Source):
    """Reads ``world.people`` (dicts in standard names)."""

    name: ClassVar[str] = "memory"
    ConfigSchema = MemoryConfig
    RecordSchema = MemoryRecord

    def read(self) -> Iterator[dict[str, Any]]:
        if self.world.fail_read:
            raise SourceError("memory source: read failed (fail_read switch)", connection=self.context.connection)
        yield from (dict(p) for p in self.world.people)


class MemorySink(_InWorld, MemoryGroups, Sink):
    """Holds ``world.users`` by id; e-mails are unique case-insensitively, like a SCIM userName."""

    name: ClassVar[str] = "memory"
    ConfigSchema = MemoryConfig
    RecordSchema = MemorySinkRecord
    concurrent_writes: ClassVar[bool] = True

    def max_in_flight(self) -> int:
        return self.settings["max_in_flight"]

    def prepare(self, record: dict[str, Any]) -> dict[str, Any] | Defer:
        desired = super().prepare(record)
        desired["active"] = record.get("status") != "inactive"
        return desired

    def _write(self, kind: str, detail: Any, email: str | None) -> None:
        """Record a write, retrying while the world is busy, refusing the e-mails it is told to."""
        for _ in range(self.settings["max_retries"] + 1):
            if not self.world.busy():
                break
            self.context.throttled()
        else:
            raise RetriableError("memory sink: still busy after retries", record=email)
        self.world.calls.append((kind, detail))
        if email and email.lower() in self.world.fail_emails:
            raise RecordError(f"memory sink refuses {email} (fail_emails switch)", record=email)

    def list_people(self) -> list[SinkPerson]:
        self.world.calls.append(("list", None))
        return [SinkPerson(uid, dict(u)) for uid, u in self.world.users.items()]

    def find(self, email: str) -> SinkPerson | None:
        self.world.calls.append(("find", email))
        uid = self.world.users.holder(email)
        return None if uid is None else SinkPerson(uid, dict(self.world.users[uid]))

    def create(self, record: dict[str, Any]) -> SinkPerson:
        self._write("create", record["email"], record["email"])
        with self.world.lock:
            if self.world.users.holder(record["email"]) is not None:
                raise ConflictError(f"{record['email']} exists", record=record["email"])
            uid = self.world.new_id()
            self.world.users[uid] = dict(record)
        return SinkPerson(uid, dict(record))

    def update(self, sink_id: str, changes: dict[str, Any], record: dict[str, Any]) -> None:
        self._write("update", (sink_id, dict(changes)), record.get("email"))
        with self.world.lock:
            self.world.users[sink_id] = {**self.world.users[sink_id], **changes}

    def deactivate(self, sink_id: str) -> None:
        self._write("deactivate", sink_id, None)
        with self.world.lock:
            self.world.users[sink_id]["active"] = False


def connectors_plugin(source: type[Source], sink: type[Sink]) -> types.SimpleNamespace:
    """A plugin object registering one source and one sink class, for ``load_plugins(plugins=[(name, ...)])``."""

    @hookimpl(specname="register_sources")
    def register_sources(register: Callable[[type[Source]], None]) -> None:
        register(source)

    @hookimpl(specname="register_sinks")
    def register_sinks(register: Callable[[type[Sink]], None]) -> None:
        register(sink)

    return types.SimpleNamespace(register_sources=register_sources, register_sinks=register_sinks)


def memory_plugin() -> types.SimpleNamespace:
    """A plugin object registering the memory source and sink, for ``load_plugins(plugins=[("memory", ...)])``."""
    return connectors_plugin(MemorySource, MemorySink)


class MemorySinkSandbox(SinkSandbox):
    """The memory sink's service: a :class:`MemoryWorld`, observed from its side."""

    name = "memory"

    def __init__(self, **settings: Any) -> None:
        self.world = MemoryWorld()
        self.extra = settings
        self._seen = 0

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

    def busy_answers(self) -> int:
        with self.world.lock:
            return sum(1 for kind, _ in self.world.calls if kind == "busy")

    def reject(self, email: str) -> None:
        self.world.fail_emails.add(email.lower())

    def held_groups(self) -> list[dict[str, Any]]:
        with self.world.lock:
            email = {user_id: str(user.get("email", "")).lower() for user_id, user in self.world.users.items()}
            return [{"external_id": g.external_id, "name": g.name, "members": sorted(email[m] for m in g.members)}
                    for g in self.world.groups.values()]
