"""Connections writing to one place of one app: the source ids each keeps there must never meet.

Data flow: :func:`hrsync.config.load.parse_config`, once every connection is loaded, asks each sink class
where its settings write and under which prefix it keeps source ids there
(:meth:`hrsync.connectors.Sink.source_id_space`). Two connections of two companies writing to one
Winningtemp tenant both have a person 1000; without a prefix of its own each, one connection's run would
take the other's user 1000 for its own person. Such a pair is a configuration error naming both - unless both
read the same origin (:meth:`hrsync.connectors.Source.id_origin`: one Personio account split by scope), whose ids
mean the same people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..registry import Plugins


def check_shared_sinks(connections: Mapping[str, Any], plugins: Plugins) -> dict[str, list[str]]:
    """Errors by dotted path for loaded connections (name → ConnectionConfig) whose source ids could meet."""
    spaces, origins = {}, {}
    for name, conn in connections.items():
        space = plugins.sink_class(conn.sink.name).source_id_space(conn.sink.settings)
        if space is not None:
            spaces[name] = (conn.sink.name, *space)
            origin = plugins.source_class(conn.source.name).id_origin(conn.source.settings)
            origins[name] = None if origin is None else (conn.source.name, origin)
    errors: dict[str, list[str]] = {}
    names = sorted(spaces)
    for number, first in enumerate(names):
        for second in names[number + 1:]:
            (sink, place, setting, mine), (other_sink, other_place, _, theirs) = spaces[first], spaces[second]
            same_origin = origins[first] is not None and origins[first] == origins[second]
            if (sink, place) != (other_sink, other_place) or same_origin:
                continue
            if mine and theirs and not mine.startswith(theirs) and not theirs.startswith(mine):
                continue
            errors.setdefault(f"connections.{second}.sink.{setting}", []).append(
                f"Connections {first!r} and {second!r} both write to {place}: give each its own {setting}, neither "
                f"the start of the other (e.g. '{first}-' and '{second}-'), so that neither links or overwrites the "
                f"users of the other (now {mine or 'none'!r} and {theirs or 'none'!r}); connections reading one "
                f"account of one source need none. A connection that already ran writes its new {setting} onto its "
                "users at its next `hrsync run --full`.")
    return errors
