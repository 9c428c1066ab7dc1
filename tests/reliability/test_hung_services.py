"""Hung services (issue 25): a server that accepts and never answers costs at most the configured retry time, and
the run says why it stopped ("no answer within N s"), not "after retries (RetryError)". Small limits, a real
loopback socket that never answers; the number of attempts is asserted, never the time taken."""

from __future__ import annotations

import pytest

from hrsync.sync.engine import sync_connection
from tests.reliability.hung import HungServer

# Each attempt waits READ s for an answer; LIMIT s allows at most LIMIT // READ of them, waiting included.
READ, LIMIT = 0.4, 1
TIGHT = {"read_timeout": READ, "max_retries": 20, "retry_backoff": 0, "max_retry_seconds": LIMIT}


@pytest.fixture
def hung():
    with HungServer() as server:
        yield server


def test_a_hung_personio_costs_at_most_max_retry_seconds_and_says_no_answer(e2e_config, hung):
    config, plugins = e2e_config(source={"base_url": hung.url, **TIGHT})
    result = sync_connection(config, "acme", plugins)
    assert result.status == "stopped"
    assert "Personio did not answer POST /v1/auth" in result.message
    assert f"no answer within {READ:g} s" in result.message
    assert "RetryError" not in result.message
    # Without the waiting counted, 20 retries of 0.4 s would run on well past the 1 s limit.
    assert 1 <= hung.accepted <= LIMIT // READ


def test_a_hung_winningtemp_costs_at_most_max_retry_seconds_and_says_no_answer(e2e_config, hung):
    config, plugins = e2e_config(sink={"base_url": f"{hung.url}/scim", **TIGHT})
    result = sync_connection(config, "acme", plugins)
    assert result.status == "stopped"
    assert "Winningtemp did not answer GET" in result.message
    assert f"no answer within {READ:g} s" in result.message
    assert 1 <= hung.accepted <= LIMIT // READ
