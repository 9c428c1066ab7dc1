"""The SCIM sandbox's WSGI wrapper around scim2-server: request log, profile, fault switches, admin API.

Every request to the SCIM API is logged (method, path, query, JSON body, status) and may
be answered by a fault instead of the server: bursts of 429/503 (optionally with
``Retry-After`` or ``X-RateLimit-Reset``), slow answers, refused users, or a PATCH
answered ``200`` with the user instead of ``204``. The sandbox's profile
(:mod:`.sandbox_profiles`) adds what some real services do: rate-limit headers and their
429, refusing unfiltered listing, Entra-style answers. Requests carrying
``X-Sandbox-Seed: 1`` (the sandbox seeding itself) skip the log, the faults and the
limits. ``/_sandbox/`` is the admin API of hrsync's sandbox convention
(:func:`hrsync.admin_answer`).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from hrsync import admin_answer

from .sandbox_profiles import entra_dress

if TYPE_CHECKING:
    from .sandbox import ScimSandbox

SCIM_TYPE = [("Content-Type", "application/scim+json")]
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class ScimFaults:
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

    def __init__(self, app, sandbox: ScimSandbox) -> None:
        self.app, self.sandbox = app, sandbox
        limit = sandbox.profile.rate_limit
        self.window = RateWindow(*limit) if limit else None

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
        entry = {"method": method, "path": path, "query": environ.get("QUERY_STRING", ""), "body": body,
                 "status": None}
        if not seeding:
            with self.sandbox.lock:
                self.sandbox.requests.append(entry)
        status, headers, answer = self._serve(environ, method, path, body, seeding)
        entry["status"] = status
        return self._answer(start_response, status, headers, answer)

    def _serve(self, environ, method: str, path: str, body: Any, seeding: bool):
        sb, profile = self.sandbox, self.sandbox.profile
        limit_headers: list[tuple[str, str]] = []
        if not seeding:
            fault = self._fault(method, body)
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
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = b"".join(self.app(environ, capture))
        status = int(captured["status"].split()[0])
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"] + limit_headers
        answer = json.loads(chunks) if chunks else None
        if sb.faults.ignore_paging == "silent" and isinstance(answer, dict):
            answer.pop("startIndex", None)
        if method == "PATCH" and status == 204 and sb.faults.patch_returns_body:
            status, answer = 200, sb.user(path.rstrip("/").split("/")[-1])
        if profile.entra and isinstance(answer, dict):
            if answer.get("scimType") == "uniqueness":
                status, answer["status"] = 400, "400"
            else:
                answer = entra_dress(answer)
        return status, headers, answer

    def _fault(self, method: str, body: Any):
        f = self.sandbox.faults
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
        payload = b"" if body is None else json.dumps(body).encode()
        start_response(f"{status} {HTTPStatus(status).phrase}", [*headers, ("Content-Length", str(len(payload)))])
        return [payload]
