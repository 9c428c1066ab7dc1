"""The Personio sandbox's HTTP side: Personio's API v1 as documented, and the admin API.

``POST /v1/auth`` (JSON or form) issuing reusable tokens; ``GET /v1/company/employees``
with ``limit`` 1–100 (50 without paging, 400 beyond), row offsets and Personio's exact
envelope; ``/v1/company/employees/{id}``; ``/v1/company/employees/attributes``; 401
without a token, 403 with a bad one, in Personio's error envelope (some messages in
German); 429 **without** headers. Each API request is answered after the sandbox's
``latency_ms``, over HTTP/1.1 keep-alive connections (:class:`hrsync.sandbox.KeepAliveHandler`).
The admin API under ``/_sandbox/`` follows hrsync's sandbox convention
(:func:`hrsync.sandbox.admin_answer`) plus ``/_sandbox/employees``.
"""

from __future__ import annotations

import json
import secrets
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from hrsync.sandbox import KeepAliveHandler, admin_answer

from .sandbox_data import list_response


def _error(code: int, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}


class Handler(KeepAliveHandler, BaseHTTPRequestHandler):
    """One connection's requests (HTTP/1.1 keep-alive: the handler serves them one after the other)."""

    #: The PersonioSandbox this server answers for (typed loosely: sandbox.py imports this module).
    sandbox: Any
    token: str | None = None  # the request's valid token, echoed back as Personio does
    latency_ms = 0.0  # the latency this request was answered with
    raw_body = b""

    def parse_request(self) -> bool:
        """Also forget the previous request and read this one's body, whatever the answer will be: a body
        left unread would be taken for the next request on the connection."""
        if not super().parse_request():
            return False
        self.token, self.latency_ms, self.raw_body = None, 0.0, b""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "Bad Content-Length")
            return False
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # a chunked body is not read: the connection cannot carry another request
        self.raw_body = self.rfile.read(length) if length > 0 else b""
        return True

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        # orjson: a page of 100 employees is ~200 kB, and json.dumps made it most of the sandbox's CPU
        payload = b"" if body is None else orjson.dumps(body)
        url = urlsplit(self.path)
        service = not url.path.startswith("/_sandbox/")
        headers = dict(headers or {})
        if service and self.token:
            headers.setdefault("authorization", f"Bearer {self.token}")
        faults = self.sandbox.faults
        odd = service and status == 200 and (faults.trickle_seconds or faults.padding_mb)
        if odd:  # a huge answer: megabytes of whitespace before the JSON
            payload = b" " * int(faults.padding_mb * 1_000_000) + payload
        if service:
            headers.update({k: v for k, v in (("Deprecation", faults.deprecation), ("Sunset", faults.sunset)) if v})
        if service:  # logged before answering, so whoever got the answer finds it in the log
            with self.sandbox.lock:
                self.sandbox.requests.append({"method": self.command, "path": url.path, "query": url.query,
                                              "status": status, "app_id": self.headers.get("X-Personio-App-ID"),
                                              "partner_id": self.headers.get("X-Personio-Partner-ID"),
                                              "latency_ms": self.latency_ms})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if status != 204:  # a 204 has no body and no Content-Length (RFC 9110 §8.6)
            self.send_header("Content-Length", str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if odd and faults.trickle_seconds:
            return self._trickle(payload, faults.trickle_seconds)
        if status != 204:
            self.wfile.write(payload)

    def _trickle(self, payload: bytes, seconds: float) -> None:
        """Send the answer one byte every ``seconds``, as a server that no read timeout catches; counts the
        answers the client cut (``sandbox.cut_answers``)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            for byte in payload:
                time.sleep(seconds)  # the misbehaviour itself
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        except OSError:
            with self.sandbox.lock:
                self.sandbox.cut_answers += 1

    def _body(self) -> Any:
        raw = self.raw_body
        if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        return json.loads(raw or b"null")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/_sandbox/"):
            return self._admin(method, url)
        with self.sandbox.in_flight.request(self.sandbox.faults.latency_ms) as latency:
            self.latency_ms = latency
            faults = self.sandbox.faults
            if faults.redirect_to:  # a moved or hijacked service: the client must not follow with its credentials
                return self._reply(307, None, headers={"Location": faults.redirect_to.rstrip("/") + self.path})
            if faults.error_body is not None:
                return self._reply(faults.error_status, faults.error_body)
            if method == "POST" and url.path == "/v1/auth":
                return self._auth()
            if method == "GET":
                return self._get(url)
            self._reply(404, _error(404, "Not found"))

    def _auth(self) -> None:
        sb = self.sandbox
        if sb.rate_limit and not sb.auth_limits.allow():
            return self._reply(429, _error(429, "Too many requests"))
        try:
            body = self._body() or {}
        except ValueError:
            return self._reply(400, _error(400, "Invalid JSON"))
        readable = sb.credential(body.get("client_id"), body.get("client_secret"))
        if readable is False:
            return self._reply(403, _error(0, "Wrong credentials"))
        token = "papi-" + secrets.token_urlsafe(32)
        with sb.lock:
            sb.tokens[token] = readable
        self._reply(200, {"success": True, "data": {"token": token, "expires_in": 86400,
                                                     "scope": "employees:read"}},
                    headers={"authorization": f"Bearer {token}"})

    def _get(self, url) -> None:
        sb = self.sandbox
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return self._reply(401, _error(401, "Das Token fehlt. / The token is missing."))
        readable = sb.tokens.get(auth.removeprefix("Bearer "), False)
        if readable is False:
            return self._reply(403, _error(0, "Der Token ist ungültig. / The token is invalid."))
        self.token = auth.removeprefix("Bearer ")
        if not url.path.startswith("/v1/company/employees"):
            return self._reply(404, _error(404, "Not found"))
        with sb.lock:
            sb.employee_requests += 1
            count = sb.employee_requests
            f = sb.faults
            if f.revoke_after is not None and count > f.revoke_after:
                sb.tokens.clear()
                f.revoke_after = None
                return self._reply(401, _error(401, "Token expired"))
            if f.throttle_next > 0:
                f.throttle_next -= 1
                return self._reply(429, _error(429, "Too many requests"))
            if sb.rate_limit and not sb.limits.allow():
                return self._reply(429, _error(429, "Too many requests"))
            fail = f.error_rate and sb._rng.random() < f.error_rate
            slow = f.slow_seconds
            if f.slow_next:
                f.slow_next -= 1
                if f.slow_next == 0:
                    f.slow_seconds = 0.0
        gate = sb.faults.gate
        if gate is not None:
            gate.wait(timeout=120)
        if slow:
            time.sleep(slow)
        if fail:
            return self._reply(503, _error(503, "Service temporarily unavailable"))
        if url.path in ("/v1/company/employees/attributes", "/v1/company/employees/custom-attributes"):
            return self._reply(200, {"success": True, "data": sb.attribute_list(readable)})
        if url.path == "/v1/company/employees":
            return self._list(parse_qs(url.query), readable)
        tail = url.path.removeprefix("/v1/company/employees/")
        if tail.isdigit():
            employee = sb.find(int(tail))
            if employee is None:
                return self._reply(404, _error(404, "Employee not found"))
            return self._reply(200, {"success": True, "data": {"type": "Employee",
                                                                "attributes": sb.visible(employee, readable)}})
        return self._reply(404, _error(404, "Not found"))

    def _list(self, query: dict[str, list[str]], readable: set[str] | None) -> None:
        """``attributes[]`` is a projection: ``id`` always, then the requested attributes the credential
        may read; unknown or unreadable names are dropped silently (Personio's v1 list endpoint)."""
        sb = self.sandbox
        wanted = query.get("attributes[]")
        try:
            limit = int(query.get("limit", ["50"])[0])
            offset = int(query.get("offset", ["0"])[0])
        except ValueError:
            return self._reply(400, _error(400, "limit and offset must be integers"))
        if not 1 <= limit <= 100:
            return self._reply(400, _error(400, "The limit must be between 1 and 100."))
        if offset < 0:
            return self._reply(400, _error(400, "The offset must be 0 or more."))
        with sb.lock:
            if offset in sb.faults.fail_offsets_once:
                sb.faults.fail_offsets_once.discard(offset)
                return self._reply(500, _error(500, "Internal server error"))
            listed = [e for e in sb.employees if e.get("id", {}).get("value") not in sb.faults.missed_by_lists]
            body = list_response(listed, offset, limit)
            # Only the page is projected: projecting everyone for each page made big reads quadratic.
            for row in body["data"]:
                row["attributes"] = sb.visible(row["attributes"], readable, wanted)
            if offset == 0:
                sb._shifting = bool(sb.faults.shift_total_by and sb.faults.shift_total_reads > 0)
                if sb._shifting:
                    sb.faults.shift_total_reads -= 1
            elif sb._shifting:
                body["metadata"]["total_elements"] += sb.faults.shift_total_by
        self._reply(200, body)

    # -- admin API ----------------------------------------------------------------------

    def _admin(self, method: str, url) -> None:
        sb = self.sandbox
        try:
            body = self._body() if method in ("POST", "PUT", "PATCH") else None
        except ValueError:
            return self._reply(400, {"error": "invalid JSON"})
        common = admin_answer(sb, method, url.path, body)
        if common is not None:
            return self._reply(*common)
        parts = url.path.strip("/").split("/")[1:]
        if parts == ["employees"] and method == "GET":
            return self._reply(200, list_response(sb.employees))
        if parts == ["employees"] and method == "PUT":
            sb.replace_data([item["attributes"] for item in body["data"]])
            return self._reply(200, {"count": len(sb.employees)})
        if parts == ["employees"] and method == "POST":
            return self._reply(*self._values(sb.add, body, status=201))
        if len(parts) == 2 and parts[0] == "employees" and parts[1].isdigit():
            employee_id = int(parts[1])
            if sb.find(employee_id) is None:
                return self._reply(404, {"error": f"no employee {employee_id}"})
            if method == "PATCH":
                return self._reply(*self._values(lambda **values: sb.change(employee_id, **values), body))
            if method == "DELETE":
                sb.remove(employee_id)
                return self._reply(204, None)
        self._reply(404, {"error": "unknown admin endpoint"})

    @staticmethod
    def _values(store, body: Any, status: int = 200) -> tuple[int, Any]:
        """Plain values stored as an employee's attributes: the employee, or 400 when they cannot be (a birthday
        for a company without a date-of-birth attribute)."""
        try:
            return status, store(**body)
        except ValueError as exc:
            return 400, {"error": str(exc)}
