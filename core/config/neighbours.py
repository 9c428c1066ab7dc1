"""The other connections of hosts.yaml as ``hrsync run NAME`` reads them: their sections as written, unvalidated.

Data flow: :func:`hrsync.config.load.load_config` with ``only`` validates one connection; to refuse a second
connection writing where it writes, as ``check`` would (:func:`hrsync.config.shared_sinks.check_one`), it still
needs each other connection's ``sink:`` section, and the ``source:`` section of those writing to its place.
Parsing thousands of connections costs seconds, so when hosts.yaml is in plain blocks
(:func:`.yaml_text.connection_blocks`) these sections are cut out of the text: only the ``sink:`` sections that
name NAME's sink plugin (or use an alias) are parsed, each distinct text once, all in one document. A
``source:`` section is parsed only when asked, and not at all when written exactly as NAME's (the same settings
read the same account). Whatever cannot be read from its cut-out text (an alias to an anchor elsewhere, a
connection without its own ``sink:`` line) is read from the whole file instead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from .yaml_text import connection_blocks, load_yaml

#: The first line inside a connection: its keys' indentation.
_INDENTED = re.compile(r"^( +)[^ #\n]", re.MULTILINE)


@dataclass(frozen=True)
class Neighbour:
    """Another connection of hosts.yaml, as written."""

    name: str
    #: Its ``sink:`` section (sections written alike may be one object).
    sink: Any
    #: Its ``source:`` section is written exactly as the loaded connection's.
    same_source: bool
    #: Its ``source:`` section, parsed when first asked.
    source: Callable[[], Any]


def neighbours(name: str, plugin: str, data: Any, text: str | None) -> list[Neighbour]:
    """Every connection but ``name`` whose sink may be ``plugin``: from ``data`` when it holds every connection
    (``text`` None), else cut out of hosts.yaml's ``text``. A file that cannot be read whole has none."""
    if text is not None:
        found = _from_text(text if text.endswith("\n") else text + "\n", name, plugin)
        if found is not None:
            return found
        try:
            data = load_yaml(text)
        except yaml.YAMLError:  # another connection's mistake: `check` names it
            return []
    connections = data.get("connections") if isinstance(data, dict) else None
    if not isinstance(connections, dict):
        return []
    mine = connections.get(name)
    my_source = mine.get("source") if isinstance(mine, dict) else None
    return [Neighbour(str(other), raw.get("sink"), my_source is not None and raw.get("source") == my_source,
                      functools.partial(raw.get, "source"))
            for other, raw in connections.items() if str(other) != name and isinstance(raw, dict)]


def _from_text(text: str, name: str, plugin: str) -> list[Neighbour] | None:
    """The neighbours from the cut-out sections of ``text``; None when the cut-out text cannot be read."""
    layout = connection_blocks(text)
    if layout is None:
        return None
    _, end, blocks = layout
    whole = functools.cache(lambda: load_yaml(text))
    parse = functools.cache(lambda piece: load_yaml(f"_:\n{piece}")["_"])  # sources written alike: one object
    sections: dict[str, dict[str, str]] = {}
    for number, (at, block_name) in enumerate(blocks):  # a name given twice: the last counts, as in YAML
        stop = blocks[number + 1][0] if number + 1 < len(blocks) else end
        sections[block_name] = _sections(text, at, stop)
        if "sink" not in sections[block_name]:  # no sink line of its own: the connection is read whole
            sections[block_name]["(whole)"] = text[at:stop]
    my_source = sections.get(name, {}).get("source")
    pieces: dict[str, str] = {}  # distinct text → its key in one document
    keyed: dict[str, tuple[str, bool]] = {}
    for block_name, found in sections.items():
        piece = found.get("sink") or found["(whole)"]
        if block_name == name or (plugin not in piece and "*" not in piece and "<<" not in piece):
            continue
        keyed[block_name] = pieces.setdefault(piece, f"_{len(pieces)}"), "sink" not in found
    try:
        parsed = load_yaml("".join(f"{key}:\n{piece}" for piece, key in pieces.items())) if pieces else {}
        return [Neighbour(block_name, _value(parsed[key], whole_block), my_source is not None
                          and sections[block_name].get("source") == my_source,
                          functools.partial(_source, sections[block_name].get("source"), block_name, parse, whole))
                for block_name, (key, whole_block) in keyed.items()]
    except (yaml.YAMLError, LookupError, TypeError, ValueError, AttributeError):
        return None


def _sections(text: str, at: int, stop: int) -> dict[str, str]:
    """The ``source:`` and ``sink:`` sections of the connection in ``text[at:stop]``, as written."""
    key = _INDENTED.search(text, text.index("\n", at) + 1, stop)
    if key is None:
        return {}
    return {match.group(1): match.group(0) for match in _section(len(key.group(1))).finditer(text, key.start(), stop)}


@functools.cache
def _section(indent: int) -> re.Pattern[str]:
    """A ``source:`` or ``sink:`` key at ``indent`` with the lines below it (deeper, blank or comments)."""
    key, below = rf"^ {{{indent}}}(source|sink):(?: [^\n]*)?\n", rf"(?: {{{indent + 1},}}[^\n]*| *(?:#[^\n]*)?)\n"
    return re.compile(f"{key}(?:{below})*", re.MULTILINE)


def _value(parsed: Any, whole_block: bool) -> Any:
    """The sink section out of its key in the document: ``{sink: …}``, or ``{NAME: {…, sink: …}}``."""
    if whole_block:
        (parsed,) = parsed.values()
    return parsed.get("sink") if isinstance(parsed, dict) else None


def _source(piece: str | None, name: str, parse: Callable[[str], Any], whole: Callable[[], Any]) -> Any:
    """Connection ``name``'s ``source:`` section from ``piece``, its text, or else from the ``whole`` file."""
    try:
        if piece is not None and "*" not in piece and "<<" not in piece:
            parsed = parse(piece)
        else:  # an alias, or no source line of its own: what the whole file says
            parsed = whole()["connections"][name]
    except (yaml.YAMLError, LookupError, TypeError):
        return None
    return parsed.get("source") if isinstance(parsed, dict) else None
