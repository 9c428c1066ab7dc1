"""hosts.yaml's text → plain data, refusing alias-expansion bombs ("billion laughs") before anything is built.

YAML aliases share one node: 32 anchors of two aliases each are a few hundred bytes that stand for 2³² values.
``yaml.safe_load`` builds them cheaply as shared lists, but everything that later walks the data (the checks,
the daemon's config fingerprint) walks every one. So the composed node graph is measured first, each shared
node counted as often as it is used, and a file whose aliases add more than :data:`MAX_VALUES` values is refused.

``hrsync run NAME`` on a host of thousands of connections reads only the host section and that connection
(:func:`one_connection`): the other connections' text is cut out before parsing, when the file's layout allows
it to be cut safely (:func:`connection_blocks`) - otherwise the whole file is read. :mod:`.neighbours` reads the
other connections' sinks out of the same layout.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

#: Values (scalars, lists, mappings) a hosts.yaml's aliases may add once expanded; a real one with a hundred
#: connections sharing defaults through aliases adds a few thousand. Values written out are not limited.
MAX_VALUES = 100_000
#: The C parser when PyYAML has it (four times faster on a host of thousands of connections).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class AliasBomb(yaml.YAMLError):
    """hosts.yaml's aliases expand past :data:`MAX_VALUES` values, or an alias refers to its own node."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


class BoundedLoader(_SAFE_LOADER):  # type: ignore[misc,valid-type]
    """``yaml.SafeLoader`` (its C version when installed) that measures the expanded size of the document
    before constructing it."""

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node)
        return node


def load_yaml(text: str) -> Any:
    """The data of one YAML document, as ``yaml.safe_load`` gives it; raises :class:`AliasBomb` (a YAMLError)."""
    return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 - BoundedLoader is a SafeLoader


def _expanded_size(root: yaml.Node) -> int:
    """How many values ``root`` stands for with every alias expanded; each shared node is measured once."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]  # iterative: deep nesting must not hit the recursion limit
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if not children_done:
            if key in open_nodes:
                raise AliasBomb("an alias refers to the node it is inside of (a recursive structure); "
                                "hosts.yaml cannot hold one", node.start_mark)
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        open_nodes.discard(key)
        sizes[key] = 1 + sum(sizes[id(child)] for child in children)
        # Without aliases a node stands for at most the distinct nodes measured so far: the rest is expansion.
        if sizes[key] > MAX_VALUES + len(sizes):
            raise AliasBomb(f"its aliases expand to more than {MAX_VALUES:,} values (an alias-expansion bomb); "
                            "write the values out or use fewer aliases", node.start_mark)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


_TOP_KEY = re.compile(r"^[^ #\n]", re.MULTILINE)
_CONNECTIONS = re.compile(r"^connections:[ \t]*(?:#[^\n]*)?(?=\n|\Z)", re.MULTILINE)
_INDENTED = re.compile(r"^( +)[^ #\n]", re.MULTILINE)
_NAME_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]*):[ \t]*(?:#.*)?")


def connection_blocks(text: str) -> tuple[int, int, list[tuple[int, str]]] | None:
    """Where hosts.yaml's connections are when it is laid out as plain blocks (one top-level ``connections:``
    key, each connection a ``NAME:`` line at one indentation and nothing else at that indentation or less): the
    start and end of the section and each connection's first line (offset, name); None when it is not."""
    global _last_layout
    last = _last_layout
    if last[0] is text:  # `run NAME` cuts its connection out, then reads the others' sinks: one scan of one read
        return last[1]
    _last_layout = (text, _layout(text))
    return _last_layout[1]


#: The text :func:`connection_blocks` last laid out (the very object, not an equal text read again) and its layout.
_last_layout: tuple[str | None, tuple[int, int, list[tuple[int, str]]] | None] = (None, None)


def _layout(text: str) -> tuple[int, int, list[tuple[int, str]]] | None:
    if "\t" in text or "\r" in text or "\n---" in text or text.startswith("---") or "\n..." in text:
        return None
    heads = list(_CONNECTIONS.finditer(text))
    if len(heads) != 1:
        return None
    start = heads[0].end() + 1
    following = _TOP_KEY.search(text, start)
    end = following.start() if following else len(text)
    first = _INDENTED.search(text, start, end)
    if first is None:
        return None
    width = len(first.group(1))
    outer = re.compile(rf"^ {{0,{width}}}(?! )[^#\n][^\n]*", re.MULTILINE)  # lines at the connections' indentation
    blocks: list[tuple[int, str]] = []
    for line in outer.finditer(text, start, end):
        named = _NAME_LINE.fullmatch(line.group(), width)
        if named is None or not line.group().startswith(" " * width):
            return None  # a connection in flow style, a quoted name, a line out of place: read the whole file
        blocks.append((line.start(), named.group(1)))
    return start, end, blocks


def one_connection(text: str, name: str) -> str | None:
    """hosts.yaml's text with every connection but ``name`` cut out, or None when the file is not laid out as
    plain blocks (:func:`connection_blocks`) and must be read whole. An anchor that another connection
    defined is cut out with it: parsing the text then fails, and the caller reads the whole file after all."""
    layout = connection_blocks(text)
    if layout is None:
        return None
    start, end, blocks = layout
    kept = [text[at:(blocks[i + 1][0] if i + 1 < len(blocks) else end)]
            for i, (at, block_name) in enumerate(blocks) if block_name == name]
    if not kept:  # no such connection: the whole file names the ones there are
        return None
    return text[:start] + "".join(kept) + text[end:]
