"""The SCIM sandbox's WSGI wrapper around scim2-server: request log, profile, fault switches, admin API.

Every request to the SCIM API is logged (method, path, query, JSON body, status) and may
be answered by a fault instead of the server: bursts of 429/503 (optionally with
``Retry-After`` or ``X-RateLimit-Reset``), slow answers, refused users, or a PATCH
answered ``200`` with the user instead of ``204``, booleans written as strings. The sandbox's profile
(:mod:`.sandbox_profiles`) adds what some real services do: rate-limit headers and their
429, refusing unfiltered listing, Entra-style answers. Requests carrying
``X-Sandbox-Seed: 1`` (the sandbox seeding itself) skip the log, the latency, the faults
and the limits. ``/_sandbox/`` is the admin API of hrsync's sandbox convention
(:func:`hrsync.sandbox.admin_answer`). :class:`KeepAliveWSGIHandler` serves it over HTTP/1.1
keep-alive connections (wsgiref's own handler answers one request per connection).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from hrsync.sandbox import KeepAliveHandler, KeepAliveServer, admin_answer

from .sandbox_bodies import lying_list, odd_body
from .sandbox_profiles import entra_dress, string_booleans

SCIM_TYPE = [("Content-Type", "application/scim+json")]
#: scim2-server's discovery documents depend only on the provider the sandbox was built with, yet it builds
#: them afresh on each request (new pydantic models: more CPU than the rest of a no-change run's answers), so
#: the wrapper keeps each one's answer. A many-tenants host would otherwise measure the sandboxes' CPU, not its own.
DISCOVERY = re.compile(r"/(ServiceProviderConfig|ResourceTypes|Schemas)(/|$)")
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class ScimFaults:
    latency_ms: float = 0.0  # every SCIM request is answered this much later, as by a remote service
    throttle_next: int = 0  # answer the next N requests with `throttle_status`
    throttle_status: int = 429
    throttle_only: str | None = None  # throttle only this method (e.g. "POST": the service fails writes)
    retry_after: str | None = None  # Retry-After header value on those answers
    rate_limit_reset: str | None = None  # X-RateLimit-Reset header value
    slow_seconds: float = 0.0
    patch_returns_body: bool = False  # answer PATCH 200 + user instead of 204
    fail_emails: frozenset[str] = frozenset()  # POST/PATCH for these userNames → 400
    #: Ignore startIndex when listing, as some servers do: "echo" answers page 1 saying startIndex 1,
    #: "silent" answers page 1 without saying where it starts.
    ignore_paging: str | None = None
    #: A write to a path containing this is carried out, then its answer held back ``held_seconds``: the
    #: service did it, the client does not know yet (a kill now is the window between "done" and "recorded").
    hold_answers_of: str | None = None
    held_seconds: float = 30.0
    #: Write every boolean of an answer as "True"/"False", as some servers do (not valid SCIM, RFC 7643 §2.3.2).
    string_booleans: bool = False
    #: Writes to /Users answered without being done: "error-200" (200 with a SCIM error body), "redirect" (302 to
    #: the user list, which a client following it reads as the write's answer).
    write_answer: str | None = None
    #: Every SCIM request answered 307 to this origin (same path): a moved or hijacked service.
    redirect_to: str | None = None
    #: User lists report totalResults smaller than the truth by this much (a lying server).
    total_results_off_by: int = 0
    #: Users (userNames, lower case) the lists leave out, with totalResults to match: a list that misses someone.
    hidden_from_lists: frozenset[str] = frozenset()
    #: GET answers sent one byte every this many seconds (0: at once); see :mod:`.sandbox_bodies`.
    trickle_seconds: float = 0.0
    #: GET answers padded with this many megabytes of whitespace (``float("inf")``: an endless body).
    padding_mb: float = 0.0


def _error(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    body = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


class RateWindow:
    """A fixed window of ``limit`` requests per ``seconds``, announced as Winningtemp documents it."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self._lock = threading.Lock()
        self._reset_at, self._used = 0.0, 0

    def take(self) -> tuple[bool, list[tuple[str, str]]]:
        with self._lock:
            now = time.time()
            if now >= self._reset_at:
                self._reset_at, self._used = now + self.seconds, 0
            allowed = self._used < self.limit
            if allowed:
                self._used += 1
            left = self.limit - self._used
            reset = dt.datetime.fromtimestamp(self._reset_at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        return allowed, [("X-RateLimit-Limit", str(self.limit)), ("X-RateLimit-Remaining", str(left)),
                         ("X-RateLimit-Reset", reset)]


class RecordingApp:
    """WSGI application: the sandbox's log, profile and faults in front of scim2-server's application."""

    def __init__(self, app, sandbox: Any) -> None:
        # sandbox: the ScimSandbox this application answers for (typed loosely: sandbox.py imports this module)
        self.app, self.sandbox = app, sandbox
        limit = sandbox.profile.rate_limit
        self.window = RateWindow(*limit) if limit else None
        self._discovery: dict[tuple[str, str, str], tuple[str, list, bytes]] = {}

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        environ["wsgi.input"] = io.BytesIO(raw)
        if path.startswith("/_sandbox/"):
            status, answer = admin_answer(self.sandbox, method, path, body) or (
                404, {"error": "unknown admin endpoint"})
            return self._answer(start_response, status, [("Content-Type", "application/json")], answer)
        seeding = environ.get("HTTP_X_SANDBOX_SEED") == "1"
        latency = 0.0 if seeding else float(self.sandbox.faults.latency_ms or 0)
        entry = {"method": method, "path": path, "query": environ.get("QUERY_STRING", ""), "body": body,
                 "status": None, "latency_ms": latency}
        if not seeding:
            with self.sandbox.lock:
                self.sandbox.requests.append(entry)
        with nullcontext() if seeding else self.sandbox.in_flight.request(latency):
            status, headers, answer = self._serve(environ, method, path, body, seeding)
        entry["status"] = status
        held = self.sandbox.faults.hold_answers_of
        if held and not seeding and method in ("POST", "PATCH") and held in path and status < 300:
            time.sleep(self.sandbox.faults.held_seconds)
        odd = self.sandbox.faults.trickle_seconds or self.sandbox.faults.padding_mb
        if method == "GET" and status == 200 and odd:
            return odd_body(start_response, headers, answer, self.sandbox)
        return self._answer(start_response, status, headers, answer)

    def _serve(self, environ, method: str, path: str, body: Any, seeding: bool):
        sb, profile = self.sandbox, self.sandbox.profile
        limit_headers: list[tuple[str, str]] = []
        if not seeding:
            fault = self._fault(method, body, path)
            if fault is not None:
                return fault
            if self.window is not None:
                allowed, limit_headers = self.window.take()
                if not allowed:
                    return 429, SCIM_TYPE + limit_headers, _error(429, "Rate limit exceeded")
            listing = method == "GET" and path.rstrip("/").endswith("/Users") and "filter" not in {
                k.lower() for k in parse_qs(environ.get("QUERY_STRING", ""))}
            if listing and profile.no_list:
                return 400, SCIM_TYPE, _error(400, "A filter is required", "tooMany")
            if listing and sb.faults.ignore_paging:
                environ["QUERY_STRING"] = re.sub(r"startIndex=\d+", "startIndex=1", environ.get("QUERY_STRING", ""))
        status_line, server_headers, chunks = self._server_answer(environ, method, path)
        status = int(status_line.split()[0])
        headers = [(k, v) for k, v in server_headers if k.lower() != "content-length"] + limit_headers
        answer = json.loads(chunks) if chunks else None
        unfiltered = "filter=" not in environ.get("QUERY_STRING", "")  # a lookup is not a list
        if method == "GET" and unfiltered and isinstance(answer, dict) and isinstance(answer.get("Resources"), list):
            lying_list(answer, sb)
        if sb.faults.ignore_paging == "silent" and isinstance(answer, dict):
            answer.pop("startIndex", None)
        if method == "PATCH" and status == 204 and sb.faults.patch_returns_body:
            status, answer = 200, sb.user(path.rstrip("/").split("/")[-1])
        if profile.entra and isinstance(answer, dict):
            if answer.get("scimType") == "uniqueness":
                status, answer["status"] = 400, "400"
            else:
                answer = entra_dress(answer)
        if sb.faults.string_booleans and isinstance(answer, dict):
            answer = string_booleans(answer)
        return status, headers, answer

    def _server_answer(self, environ, method: str, path: str) -> tuple[str, list, bytes]:
        """scim2-server's answer (status line, headers, body); a discovery document it answered 200 to the
        same credential is answered again as it was."""
        key = (path, environ.get("QUERY_STRING", ""), environ.get("HTTP_AUTHORIZATION", ""))
        discovery = method == "GET" and DISCOVERY.search(path) is not None
        if discovery and key in self._discovery:
            return self._discovery[key]
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = b"".join(self.app(environ, capture))
        answer = (captured["status"], captured["headers"], chunks)
        if discovery and answer[0].startswith("200"):
            self._discovery[key] = answer
        return answer

    def _fault(self, method: str, body: Any, path: str = ""):
        f = self.sandbox.faults
        if f.redirect_to:
            return 307, [("Location", f.redirect_to.rstrip("/") + path)], None
        if f.write_answer and method in ("POST", "PATCH") and "/Users" in path:
            if f.write_answer == "redirect":
                return 302, [("Location", path.split("/Users")[0] + "/Users")], None
            return 200, SCIM_TYPE, _error(400, "Rejected, but answered 200 (the sandbox's write_answer switch)",
                                          "invalidValue")
        with self.sandbox.lock:
            throttle = f.throttle_next > 0 and f.throttle_only in (None, method)
            if throttle:
                f.throttle_next -= 1
            slow = f.slow_seconds
        if slow:
            time.sleep(slow)
        if throttle:
            headers = list(SCIM_TYPE)
            if f.retry_after is not None:
                headers.append(("Retry-After", f.retry_after))
            if f.rate_limit_reset is not None:
                headers.append(("X-RateLimit-Reset", f.rate_limit_reset))
            detail = "Too many requests" if f.throttle_status == 429 else "Service unavailable"
            return f.throttle_status, headers, _error(f.throttle_status, detail)
        user_name = body.get("userName") if isinstance(body, dict) else None
        if method in ("POST", "PATCH") and user_name and user_name.lower() in f.fail_emails:
            return 400, SCIM_TYPE, _error(400, "Rejected by the sandbox's fail_emails switch", "invalidValue")
        return None

    @staticmethod
    def _answer(start_response, status: int, headers: list[tuple[str, str]], body: Any):
        payload = b"" if body is None or status == 204 else json.dumps(body).encode()
        length = [] if status == 204 else [("Content-Length", str(len(payload)))]  # a 204 has neither
        start_response(f"{status} {HTTPStatus(status).phrase}", [*headers, *length])
        return [payload]


class _ServerHandler(ServerHandler):
    """wsgiref's answer writer, answering in HTTP/1.1: a body only where one is allowed, and the
    connection closed after an answer without a length or one that went wrong."""

    http_version = "1.1"

    def _bodiless(self) -> bool:
        if not self.status:
            return False  # wsgiref refuses the write itself
        code = int(self.status.split()[0])
        return code in (204, 304) or code < 200 or self.request_handler.command == "HEAD"

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        handler = self.request_handler
        if self._bodiless() and handler.command != "HEAD":
            del self.headers["Content-Length"]
        elif "Content-Length" not in self.headers:
            handler.close_connection = True  # the body ends where the connection does
        if handler.close_connection:
            self.headers["Connection"] = "close"

    def write(self, data: bytes) -> None:
        super().write(b"" if self._bodiless() else data)

    def handle_error(self) -> None:
        self.request_handler.close_connection = True  # an answer cut short leaves the connection unusable
        super().handle_error()


class KeepAliveWSGIHandler(KeepAliveHandler, WSGIRequestHandler):
    """wsgiref's request handler, serving a connection's requests one after the other (HTTP/1.1
    keep-alive) until the client closes or asks to (``Connection: close``)."""

    handle = BaseHTTPRequestHandler.handle  # the loop; wsgiref's own serves one request

    def handle_one_request(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.raw_requestline:  # the client hung up
            self.close_connection = True
            return
        if not self.parse_request():  # an error was sent, and the connection is to be closed
            return
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # a chunked body is not read: the connection cannot carry another request
        handler = _ServerHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
        handler.request_handler = self
        handler.run(self.server.get_app())
        self.wfile.flush()


class KeepAliveWSGIServer(KeepAliveServer, WSGIServer):
    """wsgiref's server with a daemon thread per connection, as scim2-server's test server, and
    connections counted and closed on stop (:class:`hrsync.sandbox.KeepAliveServer`)."""
