"""hosts.yaml's text → plain data, refusing alias-expansion bombs ("billion laughs") before anything is built.

YAML aliases share one node: 32 anchors of two aliases each are a few hundred bytes that stand for 2³² values.
``yaml.safe_load`` builds them cheaply as shared lists, but everything that later walks the data (the checks,
the daemon's config fingerprint) walks every one. So the composed node graph is measured first, each shared
node counted as often as it is used, and a file whose values would exceed :data:`MAX_VALUES` is refused.
"""

from __future__ import annotations

from typing import Any

import yaml

#: Values (scalars, lists, mappings) a hosts.yaml may stand for once its aliases are expanded; a real one with a
#: hundred connections and their mappings holds a few thousand.
MAX_VALUES = 100_000


class AliasBomb(yaml.YAMLError):
    """hosts.yaml's aliases expand past :data:`MAX_VALUES` values, or an alias refers to its own node."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


class BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that measures the expanded size of the document before constructing it."""

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
        if sizes[key] > MAX_VALUES:
            raise AliasBomb(f"its aliases expand to more than {MAX_VALUES:,} values (an alias-expansion bomb); "
                            "write the values out or use fewer aliases", node.start_mark)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
