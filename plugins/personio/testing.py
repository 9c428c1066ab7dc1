"""Test support of the Personio plugin (pytest plugin via ``pytest11``): the Personio sandbox as a
fixture, and the settings the source harness needs for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hrsync import Secret

from .sandbox import PersonioSandbox, generate_employees


def sandbox_settings(sandbox: PersonioSandbox, **extra: Any) -> dict[str, Any]:
    """Source settings for a running sandbox (fast retries, no pacing)."""
    return {"client_id": Secret(sandbox.client_id), "client_secret": Secret(sandbox.client_secret),
            "base_url": sandbox.url, "retry_backoff": 0.01, "max_requests_per_second": 0, **extra}


def bad_sandbox_settings(sandbox: PersonioSandbox) -> dict[str, Any]:
    return {**sandbox_settings(sandbox), "client_secret": Secret("not-" + sandbox.client_secret)}


@pytest.fixture
def personio_sandbox() -> Iterator[PersonioSandbox]:
    """The Personio sandbox on 127.0.0.1 with 60 generated employees (``.url``, ``.client_id``, ...)."""
    with PersonioSandbox(generate_employees(60, seed=7)) as sandbox:
        yield sandbox
