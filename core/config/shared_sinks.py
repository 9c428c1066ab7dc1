"""Connections writing to one place of one app: the source ids each keeps there must never meet.

Data flow: :func:`hrsync.config.load.parse_config`, once every connection is loaded, asks each sink class
where its settings write and under which prefix it keeps source ids there
(:meth:`hrsync.connectors.Sink.source_id_space`). Two connections of two companies writing to one
Winningtemp tenant both have a person 1000; without a prefix of its own each, one connection's run would
take the other's user 1000 for its own person. Such a pair is a configuration error naming both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def check_shared_sinks(sinks: Mapping[str, tuple[Any, Mapping[str, Any]]]) -> dict[str, list[str]]:
    """Errors by dotted path for connections (name → (sink class, settings)) whose source ids could meet."""
    spaces = {}
    for name, (sink_cls, settings) in sinks.items():
        space = sink_cls.source_id_space(settings)
        if space is not None:
            spaces[name] = (sink_cls.name, *space)
    errors: dict[str, list[str]] = {}
    names = sorted(spaces)
    for number, first in enumerate(names):
        for second in names[number + 1:]:
            (sink, place, setting, mine), (other_sink, other_place, _, theirs) = spaces[first], spaces[second]
            if (sink, place) != (other_sink, other_place):
                continue
            if mine and theirs and not mine.startswith(theirs) and not theirs.startswith(mine):
                continue
            errors.setdefault(f"connections.{second}.sink.{setting}", []).append(
                f"Connections {first!r} and {second!r} both write to {place}: give each its own {setting}, neither "
                f"the start of the other (e.g. '{first}-' and '{second}-'), so that neither links or overwrites the "
                f"users of the other (now {mine or 'none'!r} and {theirs or 'none'!r}). A connection that already "
                f"ran writes its new {setting} onto its users at its next `hrsync run --full`.")
    return errors
