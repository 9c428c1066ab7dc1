"""Fixtures of the unit lane: one stage at a time, with plain objects and the in-memory connectors.

No server, no subprocess, no sandbox: a connection between the memory connectors (its config parsed as a
run parses it), the memory sink, keyed digests; the applier's tests add a real SQLite state in tmp_path.
"""

from __future__ import annotations

import pytest

from hrsync import RunContext
from hrsync.config.load import ConnectionConfig
from hrsync.state.digests import Digests
from hrsync.testing.memory import MemorySink


@pytest.fixture
def connection(memory_config):
    """``connection(**settings)``: connection ``mem`` between the memory connectors, as hosts.yaml would give it."""

    def make(**overrides) -> ConnectionConfig:
        return memory_config(**overrides)[0].connection("mem")

    return make


@pytest.fixture
def sink(connection) -> MemorySink:
    """The memory sink of connection ``mem`` (its users and calls in the ``memory_world`` fixture)."""
    return MemorySink(connection().sink.settings, RunContext("mem"))


@pytest.fixture
def digests() -> Digests:
    return Digests(bytes(range(32)))
