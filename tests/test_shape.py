"""The shape stays as docs/architecture.md says: stages import only earlier stages, no import cycle
(in core or in a plugin, type-only imports included), core names no plugin, plugins use the public surface."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

CORE = ROOT / "core"
PLUGINS = ROOT / "plugins"

#: The stages in the order a run passes them; a module may import its own stage or an earlier one.
STAGES = [
    {"hrsync", "hrsync.errors", "hrsync.fields", "hrsync.secrets", "hrsync.network", "hrsync.printable",
     "hrsync.http_bounds", "hrsync.plan", "hrsync.results", "hrsync.connectors", "hrsync.hookspecs",
     "hrsync.sink_groups", "hrsync.sink_snapshots", "hrsync.emails"},
    {"hrsync.sandbox"},
    {"hrsync.registry"},
    {"hrsync.config"},
    {"hrsync.state"},
    {"hrsync.sync"},
    {"hrsync.report"},
    {"hrsync.service"},
    {"hrsync.testing", "hrsync.cli"},
]

#: What a plugin may import of hrsync: the public surface.
PUBLIC = {"hrsync", "hrsync.sandbox", "hrsync.testing"}


def module_name(path: Path) -> str:
    root, top = (CORE, "hrsync") if path.is_relative_to(CORE) else (PLUGINS, "hrsync_plugins")
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([top, *parts])


def stage(module: str) -> int:
    for level, names in enumerate(STAGES):
        if module in names or any(module.startswith(f"{name}.") for name in names - {"hrsync"}):
            return level
    raise AssertionError(f"{module} belongs to no stage: add it to STAGES and to docs/architecture.md")


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
                if target.split(".")[0] in ("hrsync", "hrsync_plugins"):
                    found.add(target)
                    found.update(f"{target}.{a.name}" for a in child.names)
            visit(child)

    visit(tree)
    return found


def test_no_stage_imports_a_later_stage():
    modules = {module_name(p): p for p in CORE.rglob("*.py")}
    for name, path in modules.items():
        for target in imports(path):
            if target in modules and stage(target) > stage(name):
                raise AssertionError(f"{name} (stage {stage(name)}) imports {target} (stage {stage(target)})")


def test_setup_cfg_lists_every_package():
    listed = set()
    lines = (ROOT / "setup.cfg").read_text(encoding="utf-8").split("packages =\n", 1)[1].splitlines()
    for line in lines:
        if not line.startswith("    "):
            break
        listed.add(line.strip())
    found = {module_name(p.parent / "__init__.py") for p in [*CORE.rglob("__init__.py"), *PLUGINS.rglob("__init__.py")]}
    assert found == listed


def test_no_import_cycle_in_core_or_plugins():
    modules = {module_name(p): p for p in [*CORE.rglob("*.py"), *PLUGINS.rglob("*.py")]}
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
                assert node.module in PUBLIC, f"{path} imports {node.module}; plugins import only {sorted(PUBLIC)}"
