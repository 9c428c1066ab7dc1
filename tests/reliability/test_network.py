"""Resilience: a connection reset or a read timeout fails one person at most, never the whole run."""

from __future__ import annotations

import pytest

from hrsync.engine import run_connection
from hrsync_plugins.personio.sandbox_data import make_employee
from tests.reliability.proxy import ResettingProxy


@pytest.fixture
def proxy(scim):
    relay = ResettingProxy(scim.port)
    yield relay
    relay.close()


def people(*ids):
    return [make_employee(id=i, first_name=f"P{i}", last_name="L", email=f"p{i}@example.com", status="active")
            for i in ids]


def test_07_resets_of_idempotent_requests_are_retried(e2e_config, personio, scim, proxy):
    personio.employees = people(1, 2, 3)
    config, plugins = e2e_config(sink={"base_url": f"http://127.0.0.1:{proxy.port}/v2"})
    assert run_connection(config, "acme", plugins).status == "ok"
    personio.change(2, last_name="Reset")
    proxy.reset_before("GET", 1)  # discovery's first request
    proxy.reset_after("PATCH", 1)  # the update reaches the server, the answer is lost
    result = run_connection(config, "acme", plugins)
    assert result.status == "ok", result.message
    assert scim.by_user_name("p2@example.com")["name"]["familyName"] == "Reset"


def test_07_a_create_whose_answer_was_lost_fails_alone_and_is_linked_next_run(e2e_config, personio, scim, proxy):
    personio.employees = people(1, 2)
    config, plugins = e2e_config(sink={"base_url": f"http://127.0.0.1:{proxy.port}/v2"})
    assert run_connection(config, "acme", plugins).status == "ok"
    personio.employees = people(1, 2, 3, 4)
    proxy.reset_after("POST", 1)  # p3 is created, but hrsync never hears it
    result = run_connection(config, "acme", plugins)
    assert result.status == "partial"
    (failed,) = result.report.attention
    assert failed.source_id == "3" and "may or may not have happened" in failed.message
    assert scim.by_user_name("p4@example.com") is not None  # the run went on
    again = run_connection(config, "acme", plugins)
    assert again.status == "ok"
    assert len([u for u in scim.users() if u["userName"] == "p3@example.com"]) == 1
    assert len(scim.users()) == 4
