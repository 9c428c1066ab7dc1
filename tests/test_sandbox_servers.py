"""The server sandboxes as stand-ins for remote services, fit for benchmarks: HTTP/1.1 keep-alive
connections, a latency on every API request, and requests in flight that overlap. No timing is asserted:
the servers count the connections they accept and the requests they are answering."""

from __future__ import annotations

import threading

import pytest
import requests

from hrsync import PluginError
from hrsync.cli.launch import start_sandboxes
from hrsync_plugins.personio.sandbox import PersonioSandbox
from hrsync_plugins.personio.sandbox_data import generate_employees
from hrsync_plugins.winningtemp.sandbox import ScimSandbox
from tests.helpers import bundled_plugins, run_cli, wait_until


def personio(**options) -> PersonioSandbox:
    return PersonioSandbox(generate_employees(3, seed=1), **options)


SANDBOXES = pytest.mark.parametrize("make", [personio, ScimSandbox], ids=["personio", "winningtemp"])


def ask(session: requests.Session, sandbox, **headers) -> requests.Response:
    """One request to the service itself (not the admin API); refused (401) until :func:`login`."""
    path = "/Users" if isinstance(sandbox, ScimSandbox) else "/v1/company/employees"
    return session.get(sandbox.url + path, headers=headers)


def login(session: requests.Session, sandbox) -> None:
    """Give the session the service's token (Personio's is asked for: a POST with a body)."""
    token = sandbox.token if isinstance(sandbox, ScimSandbox) else session.post(
        f"{sandbox.url}/v1/auth", json={"client_id": sandbox.client_id, "client_secret": sandbox.client_secret},
    ).json()["data"]["token"]
    session.headers["Authorization"] = f"Bearer {token}"


@SANDBOXES
def test_a_session_keeps_one_connection_whatever_the_answers(make):
    with make() as sandbox, requests.Session() as session:
        login(session, sandbox)
        answers = [ask(session, sandbox) for _ in range(3)]
        assert all(a.raw.version == 11 for a in answers)  # HTTP/1.1, not 1.0
        cleared = session.delete(f"{sandbox.admin_url}/requests")  # a 204: no body, no length
        assert cleared.status_code == 204 and cleared.content == b"" and "Content-Length" not in cleared.headers
        assert session.post(f"{sandbox.admin_url}/faults", json={"nope": 1}).status_code == 400
        assert session.post(f"{sandbox.admin_url}/faults", data=b"{not json").status_code == 400
        assert session.get(f"{sandbox.admin_url}/nothing").status_code == 404
        assert session.post(f"{sandbox.admin_url}/faults", json={"throttle_next": 1}).status_code == 204
        assert ask(session, sandbox).status_code == 429  # every answer ended where its length said
        assert ask(session, sandbox).status_code == 200
        assert sandbox.connections == 1


def test_personio_requests_on_one_connection_do_not_mix():
    with personio(auth_per_minute=1) as sandbox, requests.Session() as session:
        login(session, sandbox)
        refused = session.post(f"{sandbox.url}/v1/auth", json={"client_id": "a", "client_secret": "b"})
        assert refused.status_code == 429  # answered without reading the credentials, which were still read
        assert ask(session, sandbox).status_code == 200
        del session.headers["Authorization"]
        anonymous = ask(session, sandbox)
        assert anonymous.status_code == 401 and "authorization" not in anonymous.headers  # no token of before
        assert sandbox.connections == 1


@SANDBOXES
def test_a_client_asking_to_close_is_answered_and_the_connection_closed(make):
    with make() as sandbox, requests.Session() as session:
        ask(session, sandbox)
        last = ask(session, sandbox, Connection="close")
        assert last.headers["Connection"] == "close"
        ask(session, sandbox)
        assert sandbox.connections == 2


@SANDBOXES
def test_stopping_closes_idle_keep_alive_connections(make):
    sandbox = make().start()
    with requests.Session() as session:
        ask(session, sandbox)
        sandbox.stop()  # returns although the session keeps its connection open
        with pytest.raises(requests.ConnectionError):
            ask(session, sandbox)  # a stopped sandbox answers nobody, not even on an open connection


@SANDBOXES
def test_latency_is_applied_to_each_api_request_and_logged(make):
    with make(latency_ms=3) as sandbox, requests.Session() as session:
        ask(session, sandbox)
        assert session.post(f"{sandbox.admin_url}/faults", json={"latency_ms": 4.5}).status_code == 204
        ask(session, sandbox)
        refused = session.post(f"{sandbox.admin_url}/faults", json={"latency_ms": "slow"})
        assert refused.status_code == 400 and "latency_ms takes a number" in refused.json()["error"]
        log = session.get(f"{sandbox.admin_url}/requests").json()  # admin calls are neither delayed nor logged
        assert [entry["latency_ms"] for entry in log] == [3, 4.5]
        assert sandbox.in_flight.count == 0 and sandbox.in_flight.peak == 1


@SANDBOXES
def test_requests_in_flight_overlap_while_they_wait_out_the_latency(make):
    """A request waiting out a long latency holds up no other: one sent after it is answered first."""
    sandbox = make(latency_ms=60_000).start()
    slow_ended = threading.Event()

    def slow() -> None:
        try:
            ask(requests.Session(), sandbox)
        except requests.ConnectionError:
            pass  # the sandbox stopped under it
        slow_ended.set()

    try:
        threading.Thread(target=slow, daemon=True).start()
        wait_until(lambda: sandbox.in_flight.count == 1)
        sandbox.faults.latency_ms = 0
        with requests.Session() as session:
            assert ask(session, sandbox).status_code == 401
        assert sandbox.in_flight.count == 1 and sandbox.in_flight.peak == 2  # the slow one is still waiting
        assert [entry["latency_ms"] for entry in sandbox.requests if entry["status"] is not None] == [0]
    finally:
        sandbox.stop()
    assert slow_ended.wait(30)  # stopping ends its connection: nobody waits out the minute


def test_hrsync_sandbox_and_demo_take_a_latency_per_sandbox():
    assert PersonioSandbox.create(employees=2, personio_latency_ms="25").faults.latency_ms == 25
    assert ScimSandbox.create(scim_latency_ms="12.5").faults.latency_ms == 12.5
    assert ScimSandbox.create().faults.latency_ms == PersonioSandbox.create(employees=2).faults.latency_ms == 0
    with start_sandboxes(bundled_plugins(), employees=2, personio_latency_ms="2", scim_latency_ms="1") as running:
        with requests.Session() as session:
            ask(session, running.source)
            ask(session, running.sink)
        assert running.source.requests[0]["latency_ms"] == 2 and running.sink.requests[0]["latency_ms"] == 1
    for create, option in ((ScimSandbox.create, "scim_latency_ms"), (PersonioSandbox.create, "personio_latency_ms")):
        with pytest.raises(PluginError, match="takes milliseconds"):
            create(employees=2, **{option: "-1"})
    shown = run_cli("sandbox", "--help").stdout
    assert "--personio-latency-ms" in shown and "--scim-latency-ms" in shown
    refused = run_cli("sandbox", "--scim-latency-ms", "soon")
    assert refused.returncode == 2 and "--scim-latency-ms takes milliseconds (0 or more), not 'soon'" in refused.stderr


def test_the_wsgi_handler_closes_the_connection_only_when_an_answer_cannot_end_otherwise():
    """After a server error or an answer without a length the client is told to close (and not left
    waiting for a body's end); a HEAD answer has no body, so the connection carries the next request."""
    from wsgiref.simple_server import make_server

    from hrsync_plugins.winningtemp.sandbox_wsgi import KeepAliveWSGIHandler, KeepAliveWSGIServer

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("the application failed")  # wsgiref prints its traceback (pytest captures it)
        if environ["PATH_INFO"] == "/unsized":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"no ", b"length"]
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    server = make_server("127.0.0.1", 0, app, server_class=KeepAliveWSGIServer, handler_class=KeepAliveWSGIHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with requests.Session() as session:
            head = session.head(f"{url}/ok")
            assert head.headers["Content-Length"] == "2" and "Connection" not in head.headers
            assert session.get(f"{url}/ok").text == "ok" and server.connections == 1
            failed = session.get(f"{url}/boom")
            assert failed.status_code == 500 and failed.headers["Connection"] == "close"
            unsized = session.get(f"{url}/unsized")
            assert unsized.text == "no length" and unsized.headers["Connection"] == "close"
            assert session.get(f"{url}/ok").text == "ok"
            assert server.connections == 3  # one until the error, one until the unsized answer, one after
    finally:
        server.shutdown()
        server.server_close()


def test_a_discovery_document_answered_again_is_still_logged_refused_without_the_token_and_faulted():
    """The SCIM sandbox keeps scim2-server's discovery answers (they cost it more than the rest of a no-change
    run): a copy is given only to the credential it was answered to, and faults come before it."""
    with ScimSandbox() as scim, requests.Session() as session:
        login(session, scim)
        first, again = (session.get(f"{scim.url}/ResourceTypes") for _ in range(2))
        assert again.json() == first.json() and {t["name"] for t in again.json()["Resources"]} >= {"User"}
        assert requests.get(f"{scim.url}/ResourceTypes", headers={"Authorization": "Bearer wrong"}).status_code == 401
        scim.faults.throttle_next = 1
        assert session.get(f"{scim.url}/ResourceTypes").status_code == 429
        assert session.get(f"{scim.url}/ResourceTypes").json() == first.json()
        assert [(r["path"], r["status"]) for r in scim.requests] == [("/v2/ResourceTypes", status)
                                                                     for status in (200, 200, 401, 429, 200)]
