"""Suites as data: a :class:`Scenario` is one named contract check; :func:`build_suite` makes a pytest class.

Each generated test is named after its scenario (``test_update_sends_only_changed_fields``)
and documented with its description, so a failing contract reads as a sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scenario:
    """One contract check: a name (the test's name), what it proves, and the check itself."""

    name: str
    description: str
    check: Callable[[Any], None]


def build_suite(class_name: str, scenarios: list[Scenario], run: Callable[[Scenario, Any], None]) -> type:
    """A pytest test class with one test per scenario; ``run(scenario, tmp_path)`` runs one."""

    def make(scenario: Scenario):
        def test(self, tmp_path) -> None:
            run(scenario, tmp_path)

        test.__name__ = f"test_{scenario.name}"
        test.__doc__ = scenario.description
        return test

    return type(class_name, (), {f"test_{s.name}": make(s) for s in scenarios})
