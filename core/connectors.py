"""The connector base classes a plugin subclasses: :class:`Source` (an HR system) and :class:`Sink` (an app).

Each declares, as class attributes, its ``name``, a marshmallow ``ConfigSchema`` for its
settings (secrets marked with :class:`~hrsync.secrets.SecretField`) and a marshmallow
``RecordSchema`` for the records it emits or accepts. A source also names its
``key_field`` (the stable person id); people are matched in a sink by the standard
``email`` field (:data:`MATCH_FIELD`).

Data flow: the engine builds a source and a sink from a connection's loaded settings,
reads raw records with :meth:`Source.read`, validates them against the source's
RecordSchema, maps them to sink fields, lets :meth:`Sink.prepare` shape the desired
state, and applies create / update / deactivate through the sink.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from marshmallow import EXCLUDE, Schema

from .sink_groups import GroupMethods
from .sink_snapshots import SnapshotMethods


@functools.cache
def schema_fields(schema: type[Schema]) -> frozenset[str]:
    """The field names of a schema class (building a schema costs a deep copy of its fields: once is enough)."""
    return frozenset(schema().fields)


class EmptySchema(Schema):
    class Meta:
        unknown = EXCLUDE


#: Guards every run's warnings list: a sink with writes in flight may warn from several threads.
_WARNINGS = threading.Lock()


@dataclass
class RunContext:
    """What a plugin may know about the run it serves, and where it reports run-level notes."""

    connection: str
    today: dt.date = field(default_factory=dt.date.today)
    warnings: list[str] = field(default_factory=list)
    #: True for ``hrsync check``: answer in seconds - no retries, short timeouts.
    checking: bool = False
    #: True once the run was asked to stop (Ctrl-C, SIGTERM): long waits should end early (see ``pause``).
    stopping: Callable[[], bool] = lambda: False
    #: The source's RecordSchema fields this connection uses (mapping, scope, key); None when unknown.
    #: A source may read only these (and say when it cannot read some of them).
    wanted_fields: set[str] | None = None
    #: Set by the engine while it applies: what :meth:`throttled` tells (the applier's in-flight limit).
    on_throttle: Callable[[], None] = lambda: None

    def throttled(self) -> None:
        """Say that the service answered "slow down" (429, 503), also when a retry then went through:
        the run halves its writes in flight. Safe to call from any thread."""
        self.on_throttle()

    def network_limits(self, *, retries: int, connect: float, read: float) -> tuple[int, float, float]:
        """Retries and (connect, read) timeouts to use: as configured, or for ``hrsync check`` no
        retries and at most 5 s / 10 s, so a wrong address is reported in seconds."""
        if self.checking:
            return 0, min(connect, 5.0), min(read, 10.0)
        return retries, connect, read

    def pause(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the run is asked to stop meanwhile; False when it was."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.stopping():
                return False
            time.sleep(min(left, 0.2))
        return not self.stopping()

    def warn(self, message: str) -> None:
        """Add a run-level warning to the report, once per distinct message (from any thread)."""
        with _WARNINGS:
            if message not in self.warnings:
                self.warnings.append(message)


#: The sink field people are matched on: trimmed and lower-cased, it is the link of last resort.
MATCH_FIELD = "email"


class Connector:
    """What sources and sinks share: a name, settings and a run context."""

    name: ClassVar[str] = ""
    #: How reports name the system, e.g. "Personio"; defaults to the capitalised name.
    title: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    ConfigSchema: ClassVar[type[Schema]] = EmptySchema
    RecordSchema: ClassVar[type[Schema]] = EmptySchema

    def __init__(self, settings: Mapping[str, Any], context: RunContext) -> None:
        self.settings = dict(settings)
        self.context = context

    @classmethod
    def label(cls) -> str:
        return cls.title or cls.name.capitalize()

    def open(self) -> None:
        """Called once at the start of a run, before anything is read or written: connect, learn what
        the service supports, report what it will not carry (``self.context.warn``). Raise a
        :class:`~hrsync.errors.RunError` to stop the run."""

    def check(self) -> None:
        """Test the credentials and reachability (for ``hrsync check``); raise a
        :class:`~hrsync.errors.SourceAuthError` / :class:`~hrsync.errors.SinkAuthError` or another
        :class:`~hrsync.errors.RunError` with a message that names the settings to check. Notes
        for the operator go to ``self.context.warn``."""

    def close(self) -> None:
        """Release connections. Called once at the end of the run, whatever happened."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Source(Connector):
    """An HR system that yields one raw record per person."""

    kind: ClassVar[str] = "source"
    #: The RecordSchema field holding the person's stable id in the source.
    key_field: ClassVar[str] = "id"

    @classmethod
    def id_origin(cls, settings: Mapping[str, Any]) -> str | None:
        """Whose ids these settings read (e.g. the account): two connections reading one origin mean the same
        person by the same id, so they may share a sink without prefixes. Compared only, never shown. None: the
        source cannot tell, and every connection counts as its own origin."""
        return None

    def confirm_absent(self, source_ids: set[str]) -> set[str]:
        """Of these people, missing from this run's read, the ones the source confirms are gone.

        Called before anyone is deactivated for being missing: one read is not enough evidence
        (offset paging can skip a row while HR edits). The default reads the whole list again;
        a source that can look people up by id should do that instead.
        """
        key = self.key_field
        seen = {str(raw.get(key)) for raw in self.read() if raw.get(key) not in (None, "")}
        return source_ids - seen

    def unavailable_fields(self) -> set[str]:
        """RecordSchema fields the source cannot read this run (e.g. not allowed for its credentials).

        Called after :meth:`open`. The engine never blanks the sink fields they map to: it leaves them
        as they are. Report why with ``self.context.warn``; raise a RunError instead when the sync
        cannot be right without them.
        """
        return set()

    def read(self) -> Iterator[dict[str, Any]]:
        """Yield every person as a dict keyed by RecordSchema field names (before validation).

        Raise :class:`~hrsync.errors.SourceError` when the list cannot be read *completely*:
        the engine never acts on a partial list.
        """
        raise NotImplementedError

    @staticmethod
    def describe(raw: Mapping[str, Any]) -> str:
        """A short, human way to name a raw record in a report (never sensitive fields)."""
        name = f"{str(raw.get('first_name') or '').strip()} {str(raw.get('last_name') or '').strip()}".strip()
        ident = raw.get("id")
        return f"{name} (id {ident})" if name and ident is not None else name or f"id {ident}"


@dataclass(frozen=True)
class Defer:
    """Returned by :meth:`Sink.prepare` to leave a person alone this run, with the reason."""

    reason: str


@dataclass
class SinkPerson:
    """One person as the sink holds them: its id and the record in sink field names."""

    sink_id: str
    record: dict[str, Any]
    #: True when creating this person also asked the app to invite them.
    invited: bool = False


class Sink(GroupMethods, SnapshotMethods, Connector):
    """An app that holds people and can create, update and deactivate them (and, when it says so in
    ``holds_groups``, groups: :class:`~hrsync.sink_groups.GroupMethods`; or, when it says so in
    ``takes_snapshots``, takes everyone at once instead: :class:`~hrsync.sink_snapshots.SnapshotMethods`).

    Its RecordSchema must have an ``email`` field (:data:`MATCH_FIELD`): people are matched on it.
    """

    kind: ClassVar[str] = "sink"
    #: True when ``create``, ``update``, ``deactivate`` and ``find`` may run on several threads at once:
    #: the applier then keeps up to :meth:`max_in_flight` writes in flight. A sink that says so must also
    #: call ``self.context.throttled()`` when its service answers 429/503, so the run backs off as a whole.
    concurrent_writes: ClassVar[bool] = False

    def max_in_flight(self) -> int:
        """How many writes to keep in flight at most (used only when :attr:`concurrent_writes`)."""
        return 1

    @classmethod
    def source_id_space(cls, settings: Mapping[str, Any]) -> tuple[str, str, str | None] | None:
        """Where these settings write and how source ids are kept there: ``(place, setting, prefix)`` - the
        place (e.g. the service's URL), the setting that namespaces source ids and its value. Two connections
        writing to one place must have prefixes neither of which starts the other (checked on load). A prefix
        of None says the place holds one connection's data whole (a snapshot sink's folder): no second
        connection may write there, and ``setting`` names the one that tells places apart. None: the sink keeps
        no source ids a second connection could meet.

        ``settings`` are as hosts.yaml writes them, each default of the ConfigSchema filled in (nested ones
        too), but not validated: ``hrsync run NAME`` asks this of every other connection without loading it.
        Read them plainly (no secrets needed); an exception counts as None."""
        return None

    def carried_fields(self) -> set[str]:
        """The RecordSchema fields this sink transmits with its current settings (called per person:
        keep it cheap)."""
        return set(schema_fields(self.RecordSchema))

    def prepare(self, record: dict[str, Any]) -> dict[str, Any] | Defer:
        """Turn a mapped, validated record into the desired state to diff and write.

        Return :class:`Defer` to leave the person alone this run (e.g. a future hire
        outside a pre-hire window). The default keeps the carried fields.
        """
        carried = self.carried_fields()
        return {k: v for k, v in record.items() if k in carried}

    def keep_as_is(self, changes: dict[str, Any], observed: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
        """Drop changes the sink's own rules forbid (e.g. reactivating a paused user).

        ``observed`` is the person as the sink holds them, when this run listed the sink.
        Returns the changes to apply and a note for each one dropped. Called only when there are changes.
        """
        return changes, []

    def notices(self, invited: int) -> list[str]:
        """Lines this sink adds to the run report, once per run (e.g. what its settings asked the app).

        ``invited`` is how many people the sink confirmed it asked the app to invite.
        """
        return []

    def list_people(self) -> Iterable[SinkPerson]:
        """Yield every person the sink holds (one pass, paged as the sink needs)."""
        raise NotImplementedError

    def find(self, email: str) -> SinkPerson | None:
        """Look up one person by normalised e-mail (after a create conflict)."""
        raise NotImplementedError

    def find_by_source_id(self, source_id: str) -> SinkPerson | None:
        """Look up the person carrying this source id (the sink's ``id`` field), when the sink can; the
        default says it cannot (None). Used when the sink refuses to list everyone."""
        return None

    def create(self, record: dict[str, Any]) -> SinkPerson:
        """Create a person; raise :class:`~hrsync.errors.ConflictError` if the e-mail is already taken.

        Return the person as the app answered (its record in sink field names): a field sent but
        absent from the answer is reported as "not kept" and not re-sent while the app drops it.
        """
        raise NotImplementedError

    def update(self, sink_id: str, changes: dict[str, Any], record: dict[str, Any]) -> SinkPerson | None:
        """Write only ``changes`` (field → new value); ``record`` is the full desired state.

        Return the person as the app answered, when it answered with them (else None).
        """
        raise NotImplementedError

    def deactivate(self, sink_id: str) -> None:
        """Deactivate a person. Never delete."""
        raise NotImplementedError
