"""Suites as data: a :class:`Scenario` is one named contract check; :func:`build_suite` makes a pytest class.

Each generated test is named after its scenario (``test_update_sends_only_changed_fields``)
and documented with its description, so a failing contract reads as a sentence. Also what
both suites share: which scenarios run (:func:`choose_scenarios`), the settings a plugin
passes without a sandbox (:func:`settings_for`) and starting the sandbox it passes instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from ..connectors import Connector
from ..sandbox.contract import Sandbox, sandbox_factory
from ..secrets import Secret

#: What a plugin passes as ``settings=`` (or ``bad_settings=``): the connector's settings, or a function
#: of the test's ``tmp_path`` returning them (e.g. the path of a file it writes there).
Settings: TypeAlias = Mapping[str, Any] | Callable[[Path], Mapping[str, Any]]


@dataclass(frozen=True)
class Scenario:
    """One contract check: a name (the test's name), what it proves, and the check itself."""

    name: str
    description: str
    check: Callable[[Any], None]


def build_suite(class_name: str, scenarios: list[Scenario], run: Callable[[Scenario, Any], None]) -> type:
    """A pytest test class with one test per scenario; ``run(scenario, tmp_path)`` runs one."""

    def make(scenario: Scenario) -> Callable[[Any, Path], None]:
        def test(self: Any, tmp_path: Path) -> None:
            run(scenario, tmp_path)

        test.__name__ = f"test_{scenario.name}"
        test.__doc__ = scenario.description
        return test

    return type(class_name, (), {f"test_{s.name}": make(s) for s in scenarios})


def choose_scenarios(default: list[Scenario], chosen: Iterable[Scenario] | None) -> list[Scenario]:
    """The scenarios a suite runs: ``chosen`` when given (checked: Scenario objects, named once), else ``default``."""
    if chosen is None:
        return list(default)
    chosen = list(chosen)
    wrong = [s for s in chosen if not isinstance(s, Scenario)]
    if wrong:
        raise TypeError(f"scenarios= takes Scenario objects (e.g. from SINK_SCENARIOS), not {wrong[0]!r}")
    names = [s.name for s in chosen]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"scenarios= names {twice} more than once")
    if not chosen:
        raise ValueError("scenarios= is empty: the suite would check nothing")
    return chosen


def secret_settings(connector: type[Connector]) -> list[str]:
    """The settings a connector declares with :class:`~hrsync.SecretField`."""
    return [f.data_key or name for name, f in connector.ConfigSchema().fields.items() if f.metadata.get("secret")]


def settings_for(connector: type[Connector], given: Settings | None, tmp_path: Path) -> dict[str, Any]:
    """The settings a plugin passed, for one test: a function is called with ``tmp_path``; a secret setting
    given as a plain string becomes a :class:`~hrsync.Secret`, as hosts.yaml's references do."""
    values = dict(given(tmp_path) if callable(given) else given or {})
    for name in secret_settings(connector):
        if isinstance(values.get(name), str):
            values[name] = Secret(values[name])
    return values


def require_settings(factory: str, sandbox: object, settings: object) -> None:
    """A suite needs a sandbox or settings to build the connector with: say so at once, not per test."""
    if sandbox is None and settings is None:
        raise TypeError(f"{factory}() needs sandbox= (a sandbox class or a function returning one) or settings= "
                        "(the connector's settings, or a function of tmp_path returning them)")


@contextlib.contextmanager
def started(sandbox: type[Sandbox] | Callable[[], Sandbox] | None) -> Iterator[Any]:
    """A fresh sandbox, started for one test and stopped after it; None when the plugin passed none."""
    if sandbox is None:
        yield None
        return
    with sandbox_factory(sandbox)() as running:
        yield running
