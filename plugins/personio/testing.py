"""Test support of the Personio plugin (pytest plugin via ``pytest11``): the Personio sandbox as a fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .sandbox import PersonioSandbox
from .sandbox_data import generate_employees


@pytest.fixture
def personio_sandbox() -> Iterator[PersonioSandbox]:
    """The Personio sandbox on 127.0.0.1 with 60 generated employees (``.url``, ``.client_id``, ...)."""
    with PersonioSandbox(generate_employees(60, seed=7)) as sandbox:
        yield sandbox
