"""Documentation stays true: every setting and every hook is documented, and every hook is tested."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from hrsync import hookspecs
from hrsync.config import schema as config_schema
from hrsync.config.mapping import RuleSchema
from hrsync.config.scope import ScopeSchema
from tests.helpers import bundled_plugins

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def sections(path: Path) -> dict[str, str]:
    """Markdown text by heading (without the #s)."""
    out, current = {}, ""
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#+\s+(.*)$", line)
        if match:
            current = match.group(1).strip()
            out[current] = ""
        else:
            out[current] = out.get(current, "") + line + "\n"
    return out


def keys(schema) -> set[str]:
    return {f.data_key or name for name, f in schema().fields.items()}


CORE_SCHEMAS = {
    "Top level": config_schema.ConfigFileSchema, "host": config_schema.HostSchema,
    "host.smtp": config_schema.SmtpSchema, "host.daemon": config_schema.DaemonSchema,
    "host.celery": config_schema.CelerySchema,
    "connections.NAME": config_schema.ConnectionSchema, "connections.NAME.guards": config_schema.GuardsSchema,
    "connections.NAME.schedule": config_schema.ScheduleSchema, "connections.NAME.report": config_schema.ReportSchema,
    "connections.NAME.scope": ScopeSchema,
    "connections.NAME.mapping": RuleSchema,
}


@pytest.mark.parametrize("heading", sorted(CORE_SCHEMAS))
def test_every_core_setting_is_documented(heading):
    text = sections(DOCS / "configuration.md")[heading]
    missing = {k for k in keys(CORE_SCHEMAS[heading]) if f"| `{k}` |" not in text}
    assert not missing, f"docs/configuration.md, section {heading!r}, does not document {sorted(missing)}"


def test_every_bundled_plugin_setting_is_documented():
    host = bundled_plugins(memory=False)
    docs = sections(DOCS / "configuration.md")
    for kind, classes in (("Source", host.sources), ("Sink", host.sinks)):
        for name, cls in classes.items():
            text = docs.get(f"{kind}: {name}")
            assert text is not None, f"docs/configuration.md has no section '{kind}: {name}'"
            missing = {k for k in keys(cls.ConfigSchema) if f"| `{k}` |" not in text}
            assert not missing, f"{kind} {name}: settings not documented: {sorted(missing)}"


HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "hrsync_spec")]


def test_hooks_exist():
    assert set(HOOKS) == {"register_sources", "register_sinks", "register_sandboxes"}


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook):
    signature = f"{hook}{inspect.signature(getattr(hookspecs, hook))}"
    assert f"`{signature}`" in (DOCS / "plugins.md").read_text(encoding="utf-8"), \
        f"docs/plugins.md does not document `{signature}`"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py"))
    assert f"def test_hook_{hook}(" in tests, f"no test named test_hook_{hook}"


def test_architecture_names_every_core_module():
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    modules = sorted(str(p.relative_to(ROOT / "core")) for p in (ROOT / "core").rglob("*.py")
                     if p.name != "__init__.py")
    missing = [m for m in modules if f"`{m}`" not in text]
    assert not missing, f"docs/architecture.md does not describe {missing}"


def test_every_module_stays_small():
    too_long = {str(p.relative_to(ROOT)): n for p in [*(ROOT / "core").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > 300}
    assert not too_long, f"modules over 300 lines (split them by job): {too_long}"


def test_every_test_docs_reliability_names_exists():
    text = (DOCS / "reliability.md").read_text(encoding="utf-8")
    named = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", text)
    assert len(named) >= 20
    missing = [f"{path}::{name}" for path, name in named
               if f"def {name}(" not in (ROOT / path).read_text(encoding="utf-8")]
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"
    numbered = {int(n) for n in re.findall(r"\*#(\d+)\*", text)}
    assert numbered == set(range(1, 18)), sorted(set(range(1, 18)) - numbered)
