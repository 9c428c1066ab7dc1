"""Connections writing to one place of one app: the source ids each keeps there must never meet.

Data flow: :func:`hrsync.config.load.parse_config` asks each sink class where a connection's ``sink:`` settings
write and under which prefix it keeps source ids there (:meth:`hrsync.connectors.Sink.source_id_space`), from
the settings as written with the schema's defaults filled in (:func:`as_written`). Two connections of two
companies writing to one Winningtemp tenant both have a person 1000; without a prefix of its own each, one
connection's run would take the other's user 1000 for its own person - unless both read the same origin
(:meth:`hrsync.connectors.Source.id_origin`: one Personio account split by scope), whose ids mean the same
people. A place that holds one connection's data whole (a snapshot sink's folder: each delivery replaces the
last) takes no second connection at all, whatever it reads. Each place where connections could meet is one
configuration error naming all of them.

``check`` and the daemon load every connection: :func:`check_shared_sinks`. ``hrsync run NAME`` loads one:
:func:`check_one` compares it with the other connections as :mod:`.neighbours` reads them from hosts.yaml
without validating them, and refuses the same connections in the same words.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing

from ..connectors import Sink
from ..errors import HrsyncError
from ..registry import Plugins
from .neighbours import neighbours

#: What reading another connection's settings without validating them may raise: it then claims no place.
_UNREADABLE = (HrsyncError, ValidationError, LookupError, TypeError, ValueError, AttributeError)


@dataclass(frozen=True)
class Claim:
    """Where one connection's sink writes (:meth:`~hrsync.connectors.Sink.source_id_space`, with the sink's name)."""

    name: str
    sink: str
    place: str
    setting: str
    #: None: the place holds one connection's data whole.
    prefix: str | None

    def meets(self, other: Claim) -> bool:
        """Whether two claims on one place could take each other's users or data, whatever their sources read."""
        if self.prefix is None or other.prefix is None:
            return True
        return self.prefix.startswith(other.prefix) or other.prefix.startswith(self.prefix)


def claim(name: str, sink_cls: type[Sink], raw: Any) -> Claim | None:
    """Connection ``name``'s claim from its ``sink:`` section as written; None when it claims no place."""
    if sink_cls.source_id_space.__func__ is Sink.source_id_space.__func__ or not isinstance(raw, Mapping):
        return None  # most sinks share nothing: their schema's defaults are never gathered
    try:
        space = sink_cls.source_id_space(as_written(sink_cls.ConfigSchema, raw))
        if space is None:
            return None
        place, setting, prefix = space
    except _UNREADABLE:  # another connection's mistake, which its own validation names
        return None
    return Claim(name, str(raw.get("plugin")), str(place), str(setting), None if prefix is None else str(prefix))


def as_written(schema: type[Schema], raw: Mapping[str, Any]) -> dict[str, Any]:
    """A connector's settings as hosts.yaml writes them, each default of ``schema`` filled in (nested ones too)."""
    return _filled({key: value for key, value in raw.items() if key != "plugin"}, _defaults(schema))


@functools.cache
def _defaults(schema: type[Schema]) -> dict[str, tuple[Any, dict | None]]:
    return _defaults_of(schema())


def _defaults_of(schema: Schema) -> dict[str, tuple[Any, dict | None]]:
    """Each key of ``schema``: its default (or ``missing``) and, for a nested section, the section's own."""
    return {field.data_key or name: (field.load_default,
                                     _defaults_of(field.schema) if isinstance(field, fields.Nested) else None)
            for name, field in schema.fields.items()}


def _filled(raw: Mapping[str, Any], defaults: dict[str, tuple[Any, dict | None]]) -> dict[str, Any]:
    filled = dict(raw)
    for key, (default, nested) in defaults.items():
        if key not in filled:
            if default is not missing:
                filled[key] = default() if callable(default) else default
        elif nested is not None and isinstance(filled[key], Mapping):
            filled[key] = _filled(filled[key], nested)
    return filled


def check_shared_sinks(connections: Mapping[str, Any], plugins: Plugins) -> dict[str, list[str]]:
    """Errors by dotted path for loaded connections (name → ConnectionConfig) whose source ids could meet: one
    per place, naming every connection there that meets another."""
    places: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    origins: dict[str, Hashable | None] = {}
    for name, conn in connections.items():
        found = claim(name, plugins.sink_class(conn.sink.name), conn.raw.get("sink"))
        if found is not None:
            places[found.sink, found.place].append(found)
            origins[name] = _origin(plugins, conn.source.name, conn.source.settings)
    errors: dict[str, list[str]] = {}
    for group in places.values():
        meeting = _meeting(group, origins)
        if meeting:
            where, text = _error([c for c in group if c.name in meeting])
            errors.setdefault(where, []).append(text)
    return errors


def check_one(conn: Any, plugins: Plugins, data: Any, text: str | None) -> dict[str, list[str]]:
    """:func:`check_shared_sinks` for loaded connection ``conn`` alone, against the other connections of
    hosts.yaml as written (:func:`.neighbours.neighbours` of ``data``, or of ``text`` when ``data`` holds ``conn``
    alone), unvalidated: the connections it meets, in the same words."""
    sink_cls = plugins.sink_class(conn.sink.name)
    mine = claim(conn.name, sink_cls, conn.raw.get("sink"))
    if mine is None:
        return {}
    my_origin = _origin(plugins, conn.source.name, conn.source.settings)
    claims: dict[int, Claim | None] = {}  # by the parsed section: sections written alike are parsed once
    origins: dict[int, Hashable | None] = {}
    met = [mine]
    for other in neighbours(conn.name, conn.sink.name, data, text):
        if not isinstance(other.sink, Mapping) or other.sink.get("plugin") != conn.sink.name:
            continue
        if id(other.sink) not in claims:
            claims[id(other.sink)] = claim(other.name, sink_cls, other.sink)
        theirs = claims[id(other.sink)]
        if theirs is None or theirs.place != mine.place or not mine.meets(theirs):
            continue
        if mine.prefix is not None and theirs.prefix is not None and my_origin is not None:
            if other.same_source:
                continue
            source = other.source()
            if id(source) not in origins:
                origins[id(source)] = _raw_origin(plugins, source)
            if origins[id(source)] == my_origin:
                continue
        met.append(replace(theirs, name=other.name))
    if len(met) == 1:
        return {}
    where, text = _error(met, first=conn.name)
    return {where: [text]}


def _origin(plugins: Plugins, source: str, settings: Mapping[str, Any]) -> Hashable | None:
    origin = plugins.source_class(source).id_origin(settings)
    return None if origin is None else (source, origin)


def _raw_origin(plugins: Plugins, raw: Any) -> Hashable | None:
    """The origin of another connection's ``source:`` section as written; None (its own) when it cannot load."""
    try:
        cls = plugins.source_class(raw["plugin"])
        return _origin(plugins, raw["plugin"], cls.ConfigSchema().load(
            {key: value for key, value in raw.items() if key != "plugin"}))
    except _UNREADABLE:
        return None


def _meeting(group: list[Claim], origins: Mapping[str, Hashable | None]) -> set[str]:
    """The connections of one place that meet another there (without comparing every pair: a host may have
    thousands on one tenant, reading one account)."""
    if len(group) < 2:
        return set()
    if any(c.prefix is None for c in group):
        return {c.name for c in group}
    by_prefix: dict[str, list[Claim]] = defaultdict(list)
    for c in group:
        by_prefix[c.prefix or ""].append(c)
    prefixes = sorted(by_prefix)
    meeting: set[str] = set()
    for number, prefix in enumerate(prefixes):
        following = number  # sorted, the prefixes that start with this one (itself first) follow it at once
        while following < len(prefixes) and prefixes[following].startswith(prefix):
            longer = prefixes[following]
            meeting |= _across(by_prefix[prefix], by_prefix[longer], origins)
            meeting |= _across(by_prefix[longer], by_prefix[prefix], origins)
            following += 1
    return meeting


def _across(first: list[Claim], second: list[Claim], origins: Mapping[str, Hashable | None]) -> set[str]:
    """Those of ``first`` that meet one of ``second`` other than themselves and reading another origin."""
    inside = {c.name for c in second}
    same = Counter(origins[c.name] for c in second if origins[c.name] is not None)
    return {c.name for c in first
            if len(second) - (same[origins[c.name]] if origins[c.name] is not None else c.name in inside) > 0}


def _error(claims: list[Claim], first: str | None = None) -> tuple[str, str]:
    """The dotted path and the text of the error for connections meeting at one place."""
    claims = sorted(claims, key=lambda c: c.name)
    names = [c.name for c in claims]
    setting, two = claims[0].setting, len(claims) == 2
    who = f"Connections {_listed(names)} {'both' if two else 'all'} write to {claims[0].place}"
    if any(c.prefix is None for c in claims):
        text = (f"{who}, which holds one connection's data whole: each run would replace what "
                f"{'the other' if two else 'another'} delivered. Give each its own place (e.g. its own {setting}); "
                "connections reading one account of one source cannot share one either.")
    else:
        by_prefix: dict[str, list[str]] = defaultdict(list)
        for c in claims:
            by_prefix[c.prefix or ""].append(c.name)
        now = "; ".join(f"{prefix or 'none'!r} for {_listed(held)}" for prefix, held in sorted(by_prefix.items()))
        text = (f"{who}: give each its own {setting}, {'neither' if two else 'none'} the start of "
                f"{'the other' if two else 'another'} (e.g. '{names[0]}-' and '{names[1]}-'), so that "
                f"{'neither' if two else 'none'} links or overwrites the users of {'the other' if two else 'another'} "
                f"(now {now}); connections reading one account of one source need none. A connection that already "
                f"ran writes its new {setting} onto its users at its next `hrsync run --full`.")
    return f"connections.{first or names[0]}.sink.{setting}", text


def _listed(names: list[str]) -> str:
    quoted = [repr(name) for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"
