"""Pytest fixtures for anyone testing with hrsync (a pytest plugin through the ``pytest11`` entry point).

``memory_world`` (data for the in-memory reference connectors), ``hrsync_state`` (a
state database in a temporary folder), ``smtp_capture`` (an SMTP server on loopback).
Plugins add fixtures for their own sandboxes through their own ``pytest11`` entry point
(see the bundled plugins' ``testing`` modules).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..sandbox.smtp import SmtpCapture
from ..state.store import State, open_state
from .memory import MemoryWorld


@pytest.fixture
def memory_world() -> MemoryWorld:
    """Data for the in-memory reference source and sink."""
    return MemoryWorld()


@pytest.fixture
def hrsync_state(tmp_path) -> Iterator[State]:
    """A state database in a temporary folder."""
    state = open_state(tmp_path / "state.db")
    yield state
    state.close()


@pytest.fixture
def smtp_capture() -> Iterator[SmtpCapture]:
    """An SMTP server on 127.0.0.1 that keeps what it receives (``.port``, ``.wait_for(n)``)."""
    with SmtpCapture() as capture:
        yield capture
