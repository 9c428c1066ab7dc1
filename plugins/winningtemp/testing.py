"""Test support of the Winningtemp plugin (pytest plugin via ``pytest11``): the SCIM sandbox as a fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .sandbox import ScimSandbox


@pytest.fixture
def scim_sandbox() -> Iterator[ScimSandbox]:
    """scim2-server on 127.0.0.1 with Winningtemp's extension schema (``.url``, ``.token``, ``.users()``)."""
    with ScimSandbox() as sandbox:
        yield sandbox
