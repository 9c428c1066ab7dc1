"""The shape stays as docs/architecture.md says: no import cycle, core names no plugin, public surface only."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

CORE = ROOT / "core"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["hrsync", *parts])


def imports(path: Path) -> set[str]:
    """hrsync modules imported by ``path``, type-checking imports included (a cycle there is still a cycle)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ImportFrom):
                base = package.split(".")
                if child.level:
                    base = base[:len(base) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.startswith("hrsync"):
                    found.add(target)
                    found.update(f"{target}.{a.name}" for a in child.names)
            visit(child)

    visit(tree)
    return found


def test_core_has_no_import_cycle():
    modules = {module_name(p): p for p in CORE.rglob("*.py")}
    graph = {name: {t for t in imports(path) if t in modules and t != name} for name, path in modules.items()}
    done: set[str] = set()

    def walk(node: str, trail: list[str]) -> None:
        if node in trail:
            raise AssertionError(f"import cycle: {' → '.join(trail[trail.index(node):] + [node])}")
        if node in done:
            return
        for target in sorted(graph[node]):
            walk(target, [*trail, node])
        done.add(node)

    for name in sorted(graph):
        walk(name, [])


def test_core_names_no_plugin():
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(n.startswith("hrsync_plugins") for n in names), f"{path} imports a bundled plugin"
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                text = node.value.lower()
                assert "personio" not in text and "winningtemp" not in text, f"{path} names a plugin: {node.value!r}"


def test_plugins_import_only_the_public_surface():
    for path in [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "examples").rglob("hrsync_csv/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("hrsync."):
                raise AssertionError(f"{path} imports {node.module}; plugins import only `hrsync`")
