"""The SCIM sandbox's WSGI wrapper around scim2-server: request log, fault switches, admin API.

Every request to the SCIM API is logged (method, path, query, JSON body, status) and may
be answered by a fault instead of the server: bursts of 429/503 (optionally with
``Retry-After`` or ``X-RateLimit-Reset``), slow answers, refused users, or a PATCH
answered ``200`` with the user instead of ``204``. ``/_sandbox/`` is the admin API of
hrsync's sandbox convention (:func:`hrsync.admin_answer`).
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from hrsync import admin_answer

if TYPE_CHECKING:
    from .sandbox import ScimSandbox


@dataclass
class ScimFaults:
    throttle_next: int = 0  # answer the next N requests with `throttle_status`
    throttle_status: int = 429
    retry_after: str | None = None  # Retry-After header value on those answers
    rate_limit_reset: str | None = None  # X-RateLimit-Reset header value
    slow_seconds: float = 0.0
    patch_returns_body: bool = False  # answer PATCH 200 + user instead of 204
    fail_emails: frozenset[str] = frozenset()  # POST/PATCH for these userNames → 400


class RecordingApp:
    """WSGI application: the sandbox's faults and log in front of scim2-server's application."""

    def __init__(self, app, sandbox: ScimSandbox) -> None:
        self.app, self.sandbox = app, sandbox

    def __call__(self, environ, start_response):
        sb = self.sandbox
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        environ["wsgi.input"] = io.BytesIO(raw)
        if path.startswith("/_sandbox/"):
            return self._admin(method, path, body, start_response)
        entry = {"method": method, "path": path, "query": query, "body": body, "status": None}
        with sb.lock:
            sb.requests.append(entry)
            f = sb.faults
            throttle = f.throttle_next > 0
            if throttle:
                f.throttle_next -= 1
            slow = f.slow_seconds
        if slow:
            time.sleep(slow)
        if throttle:
            headers = [("Content-Type", "application/scim+json")]
            if f.retry_after is not None:
                headers.append(("Retry-After", f.retry_after))
            if f.rate_limit_reset is not None:
                headers.append(("X-RateLimit-Reset", f.rate_limit_reset))
            return self._answer(entry, start_response, f.throttle_status, headers, {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": str(f.throttle_status),
                "detail": "Too many requests" if f.throttle_status == 429 else "Service unavailable"})
        user_name = (body or {}).get("userName") if isinstance(body, dict) else None
        if method in ("POST", "PATCH") and user_name and user_name.lower() in sb.faults.fail_emails:
            return self._answer(entry, start_response, 400, [("Content-Type", "application/scim+json")], {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                "scimType": "invalidValue", "detail": "Rejected by the sandbox's fail_emails switch"})
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = b"".join(self.app(environ, capture))
        status = int(captured["status"].split()[0])
        if method == "PATCH" and status == 204 and sb.faults.patch_returns_body:
            user_id = path.rstrip("/").split("/")[-1]
            return self._answer(entry, start_response, 200, [("Content-Type", "application/scim+json")],
                                sb.user(user_id))
        entry["status"] = status
        start_response(captured["status"], captured["headers"])
        return [chunks]

    def _admin(self, method: str, path: str, body: Any, start_response):
        json_type = [("Content-Type", "application/json")]
        status, answer = admin_answer(self.sandbox, method, path, body) or (404, {"error": "unknown admin endpoint"})
        return self._answer({}, start_response, status, json_type, answer)

    def _answer(self, entry, start_response, status, headers, body):
        entry["status"] = status
        payload = b"" if body is None else json.dumps(body).encode()
        start_response(f"{status} {HTTPStatus(status).phrase}", [*headers, ("Content-Length", str(len(payload)))])
        return [payload]
