"""Test support of the Winningtemp plugin (pytest plugin via ``pytest11``): the SCIM sandbox as a fixture.

``scim_sandbox`` runs the ``documented`` profile (only what Winningtemp documents); mark a
test ``@pytest.mark.scim_profile("extended")`` (or any profile of
:data:`~.sandbox_profiles.PROFILES`) to run it against another.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .sandbox import ScimSandbox
from .sandbox_profiles import PROFILES


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", f"scim_profile(name): the SCIM sandbox profile ({', '.join(PROFILES)})")


@pytest.fixture
def scim_sandbox(request) -> Iterator[ScimSandbox]:
    """scim2-server on 127.0.0.1 (``.url``, ``.token``, ``.users()``), in the test's ``scim_profile``."""
    marker = request.node.get_closest_marker("scim_profile")
    with ScimSandbox(profile=marker.args[0] if marker else "documented") as sandbox:
        yield sandbox
