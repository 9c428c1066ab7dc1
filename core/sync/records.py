"""From raw source records to people ready to plan: validation, scope, mapping, the sink's shape.

Data flow (the first half of a run, docs/architecture.md): each raw record from ``Source.read()`` is loaded
with the source's RecordSchema, filtered by the connection's scope, mapped to sink
fields, its e-mail normalised, loaded with the sink's RecordSchema and shaped by
``Sink.prepare``. A record that fails becomes a *skip* action with a reason a person
can act on; a person the sink wants left alone this run becomes a *defer* action; two
people sharing one e-mail are both skipped. Pure: nothing here reads or writes state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError

from ..config.load import ConnectionConfig
from ..config.mapping import flatten_errors
from ..connectors import MATCH_FIELD, Defer, Sink, Source
from ..emails import normalise_email
from ..errors import UsageError
from ..plan import DEFER, SKIP, Action
from . import marshmallow_internals as internals
from .loading import SCALARS, RecordLoader, hooked


@dataclass(slots=True)
class Person:
    """One valid, in-scope source person, as the sink should hold them."""

    source_id: str
    display: str
    email_key: str
    desired: dict[str, Any] = field(repr=False)
    #: The org units of the connection's ``groups:`` fields (field → {id, name} or None); empty without groups.
    units: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Whether the source says the person has left (status inactive).
    left: bool = False


@dataclass
class Records:
    """The outcome of validating one read: people to plan, and actions for those who cannot be."""

    people: list[Person] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    #: Source ids read but out of the connection's scope (present in the source, not to be carried).
    out_of_scope: set[str] = field(default_factory=set)
    #: How many records the source gave (valid or not).
    read_count: int = 0

    @property
    def seen_ids(self) -> set[str]:
        """Source ids seen in the read but not plannable (skipped, deferred): they are not "missing"."""
        return {a.source_id for a in self.actions if a.source_id}

    def only(self, email: str, *, connection: str) -> Records:
        """The records of one person (``--only``); a UsageError when the source has nobody with that e-mail."""
        wanted = normalise_email(email)
        kept = Records([p for p in self.people if p.email_key == wanted],
                       [a for a in self.actions if normalise_email(a.email) == wanted], self.out_of_scope,
                       self.read_count)
        if not kept.people and not kept.actions:
            raise UsageError(f"Nobody with e-mail {email} is in the source of connection {connection!r} (read just "
                             "now): check the address. No run was recorded.", connection=connection)
        return kept


class RecordValidator:
    """Validates, scopes, maps and shapes the records of one run."""

    def __init__(self, conn: ConnectionConfig, source: Source, sink: Sink) -> None:
        self.conn, self.source, self.sink = conn, source, sink
        source_cls, sink_cls = type(source).RecordSchema, type(sink).RecordSchema
        # Only the source fields this connection uses are loaded: a bad value in a field it never
        # carries does not hold a person back (a schema with hooks that read the whole record loads it all).
        used = conn.wanted_source_fields(type(source).key_field) & set(source_cls().load_fields)
        self.source_schema = source_cls(unknown=EXCLUDE, **({} if hooked(source_cls) else {"only": used}))
        self.sink_schema = sink_cls(unknown=EXCLUDE)
        self.source_label = type(source).label()
        self.sensitive = set(conn.sensitive_fields)
        self.checked_once = _checked_once(conn, self.source_schema, self.sink_schema)
        # Of those, the ones the sink refuses as None (required, or not nullable): checked once only when present.
        self.needs_value = {name for name in self.checked_once
                            if self.sink_schema.fields[name].required or not self.sink_schema.fields[name].allow_none}
        self.sink_order = list(self.sink_schema.load_fields)
        to_check = [name for name in self.sink_order if name not in self.checked_once]
        sink_check = sink_cls(unknown=EXCLUDE, only=to_check) if self.checked_once and to_check else None
        self.source_loader, self.sink_loader = RecordLoader(self.source_schema), RecordLoader(self.sink_schema)
        self.sink_check = RecordLoader(sink_check) if sink_check is not None else None

    def validate(self, raw_records: Iterable[dict[str, Any]]) -> Records:
        """Every record of one read, taken one at a time (a stream is read once, never held whole)."""
        out = Records()
        key = type(self.source).key_field
        seen_ids: set[str] = set()
        candidates: list[Person] = []
        for raw in raw_records:
            out.read_count += 1
            display = self.source.describe(raw)
            if raw.get(key) in (None, ""):
                out.actions.append(self._skip(display, None, raw.get("email"),
                                              f"{display} has no {key} in {self.source_label}"))
                continue
            try:
                record = self.source_loader.load(raw)
            except ValidationError as exc:
                out.actions.append(self._skip(display, raw.get(key), raw.get("email"), self._invalid_reason(
                    display, exc, raw.get("email"), "correct it there")))
                continue
            source_id = str(record[key])
            if source_id in seen_ids:
                continue  # the same person twice in one read (paging shift): keep the first
            seen_ids.add(source_id)
            if self.conn.scope.reason_out(record):
                out.out_of_scope.add(source_id)  # never created; linked ones fall to the missing-people policy
                continue
            person = self._shape(display, source_id, record, out)
            if person is not None:
                candidates.append(person)
        out.people = self._unique_emails(candidates, out)
        return out

    def _shape(self, display: str, source_id: str, record: dict[str, Any], out: Records) -> Person | None:
        mapped = self.conn.mapping.apply(record)
        email = normalise_email(mapped.get(MATCH_FIELD))
        if not email:
            out.actions.append(self._skip(display, source_id, None,
                                          f"{display} has no e-mail in {self.source_label} — add one there"))
            return None
        mapped[MATCH_FIELD] = email
        try:
            loaded = self._load_for_sink(mapped)
        except ValidationError as exc:
            out.actions.append(self._skip(display, source_id, email, self._invalid_reason(
                display, exc, email, f"correct it in {self.source_label} or adjust the mapping")))
            return None
        desired = self.sink.prepare(loaded)
        if isinstance(desired, Defer):
            out.actions.append(Action(DEFER, display, source_id, email, reason=desired.reason))
            return None
        units = {name: record.get(name) for name in self.conn.groups.fields}
        return Person(source_id, display, email, desired, units, record.get("status") == "inactive")

    def _load_for_sink(self, mapped: dict[str, Any]) -> dict[str, Any]:
        """The sink schema's load of ``mapped``, skipping the values the source schema already checked
        the same way (a plain copy between identical standard fields): each value is validated once."""
        if not self.checked_once or any(mapped.get(name) is None for name in self.needs_value):
            return self.sink_loader.load(mapped)  # a value the sink requires is missing: it says so itself
        checked = {k: v for k, v in mapped.items() if k not in self.checked_once}
        result = self.sink_check.load(checked) if self.sink_check is not None else {}
        return {k: result[k] if k in result else mapped[k] for k in self.sink_order
                if k in result or (k in self.checked_once and k in mapped)}

    def _unique_emails(self, candidates: list[Person], out: Records) -> list[Person]:
        groups: dict[str, list[Person]] = {}
        for p in candidates:
            groups.setdefault(p.email_key, []).append(p)
        people = []
        for email_key, group in groups.items():
            if len(group) == 1:
                people.append(group[0])
                continue
            for p in group:
                others = ", ".join(o.display for o in group if o is not p)
                out.actions.append(self._skip(
                    p.display, p.source_id, email_key,
                    f"{p.display} shares the e-mail {email_key} with {others} in {self.source_label}; "
                    "neither was synced — give each person their own e-mail there"))
        return people

    def _invalid_reason(self, display: str, exc: ValidationError, email: Any, fix: str) -> str:
        """A skip reason a person can act on; values of sensitive fields are never quoted."""
        problems = flatten_errors(exc.messages)
        if "email" in problems and len(problems) == 1:
            why = " ".join(problems["email"]).removeprefix("Not a valid email address: ").rstrip(".")
            return f"{display} has an invalid e-mail in {self.source_label} ({email}: {why}) — correct it there"
        details = "; ".join(f"{name}: {'invalid value' if name in self.sensitive else ' '.join(msgs)}"
                            for name, msgs in problems.items())
        return f"{display} has invalid data in {self.source_label} ({details}) — {fix}"

    @staticmethod
    def _skip(display: str, source_id: Any, email: Any, reason: str) -> Action:
        return Action(SKIP, display, None if source_id is None else str(source_id), normalise_email(email),
                      reason=reason)


def _checked_once(conn: ConnectionConfig, source: Schema, sink: Schema) -> frozenset[str]:
    """Sink fields whose value the source schema already checked exactly as the sink schema would.

    A field qualifies when its mapping rule is a plain copy and both fields are the same scalar class for
    the same standard field with the same settings (validators included). Whether None is allowed may
    differ: a None the sink refuses is left to the sink's schema (``RecordValidator.needs_value``). None
    qualifies when either schema has hooks that may look at or change the whole record.
    """
    if hooked(type(sink), pre_load=True) or hooked(type(source)):
        return frozenset()
    same = set()
    for rule in conn.mapping.rules:
        src, dst = source.fields.get(rule.source or ""), sink.fields.get(rule.target)
        if rule.copies and src is not None and dst is not None and isinstance(dst, SCALARS) and type(src) is type(dst) \
                and src.metadata.get("standard") == dst.metadata.get("standard") is not None \
                and internals.same_settings(src, dst):
            same.add(rule.target)
    return frozenset(same)

