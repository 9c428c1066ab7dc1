"""Winningtemp's SCIM endpoint on loopback: ``scim2-server`` from PyPI, not a server we wrote.

scim2-server (an independent SCIM 2.0 implementation) serves ``/v2/Users`` from
memory, with RFC 7643's schemas plus our extension schema and a static bearer
token. A thin WSGI wrapper around it adds what tests need and the real service
sometimes does: a request log (method, path, query, status, JSON body), bursts of
429/503 (optionally with ``Retry-After`` or ``X-RateLimit-Reset``), slow answers, and
a switch to answer PATCH with ``200`` and the user instead of ``204``.

    with ScimSandbox() as scim:
        scim.url, scim.token, scim.users()
"""

from __future__ import annotations

import io
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import requests

from hrsync import Sandbox

DEFAULT_URN = "urn:ietf:params:scim:schemas:extension:winningtemp:2.0:User"
EXTENSION_ATTRIBUTES = ["gender", "birthDate", "hireDate", "terminationDate", "sendInvitation"]


def _attribute(name: str) -> dict[str, Any]:
    return {"name": name, "type": "boolean" if name == "sendInvitation" else "string", "multiValued": False,
            "required": False, "caseExact": False, "mutability": "readWrite", "returned": "default",
            "uniqueness": "none", "description": name}


@dataclass
class ScimFaults:
    throttle_next: int = 0  # answer the next N requests with `throttle_status`
    throttle_status: int = 429
    retry_after: str | None = None  # Retry-After header value on those answers
    rate_limit_reset: str | None = None  # X-RateLimit-Reset header value
    slow_seconds: float = 0.0
    patch_returns_body: bool = False  # answer PATCH 200 + user instead of 204
    fail_emails: frozenset[str] = frozenset()  # POST/PATCH for these userNames → 400


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


class ScimSandbox(Sandbox):
    """scim2-server with Winningtemp's extension, on loopback. A context manager."""

    name = "winningtemp"
    kind = "sink"

    def __init__(self, *, token: str | None = None, urn: str = DEFAULT_URN, port: int = 0) -> None:
        try:
            from scim2_models import ResourceType, Schema, ScimProvider
            from scim2_server.memory import InMemoryStorage
            from scim2_server.service import ScimService
            from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
            from scim2_server.utils import (
                load_default_resource_types,
                load_default_schemas,
                load_default_service_provider_config,
            )
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("The Winningtemp sandbox needs scim2-server: pip install 'hrsync[sandbox]'") from exc
        self.token = token or secrets.token_urlsafe(24)
        self.urn = urn
        self.faults = ScimFaults()
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        extension = Schema.model_validate({"id": urn, "name": "WinningtempUser",
                                           "description": "HR fields carried by hrsync",
                                           "attributes": [_attribute(a) for a in EXTENSION_ATTRIBUTES]})
        resource_types = load_default_resource_types()
        user_type = resource_types["User"].model_dump()
        user_type["schemaExtensions"].append({"schema": urn, "required": False})
        resource_types["User"] = ResourceType.model_validate(user_type)
        config = load_default_service_provider_config()
        config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
        provider = ScimProvider.from_discovery([*load_default_schemas().values(), extension],
                                               resource_types.values(), config=config)
        self.storage = InMemoryStorage()
        self.app = BearerTokenApplication(self.storage, provider, service=ScimService(
            provider, secret=secrets.token_urlsafe(16)), bearer_tokens=[self.token])
        self._port = port
        self._server = None

    @classmethod
    def create(cls, **_: Any) -> ScimSandbox:
        return cls()

    def secrets(self) -> dict[str, str]:
        return {"token": self.token}

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.url}

    # -- the wrapper ------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
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
        with self.lock:
            self.requests.append(entry)
            f = self.faults
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
        if method in ("POST", "PATCH") and user_name and user_name.lower() in self.faults.fail_emails:
            return self._answer(entry, start_response, 400, [("Content-Type", "application/scim+json")], {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                "scimType": "invalidValue", "detail": "Rejected by the sandbox's fail_emails switch"})
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = b"".join(self.app(environ, capture))
        status = int(captured["status"].split()[0])
        if method == "PATCH" and status == 204 and self.faults.patch_returns_body:
            user_id = path.rstrip("/").split("/")[-1]
            return self._answer(entry, start_response, 200, [("Content-Type", "application/scim+json")],
                                self.user(user_id))
        entry["status"] = status
        start_response(captured["status"], captured["headers"])
        return [chunks]

    def _admin(self, method: str, path: str, body: Any, start_response):
        """The admin API: the request log and the fault switches, for `hrsync sandbox` users."""
        entry: dict[str, Any] = {}
        json_type = [("Content-Type", "application/json")]
        if path == "/_sandbox/requests" and method == "GET":
            with self.lock:
                return self._answer(entry, start_response, 200, json_type, list(self.requests))
        if path == "/_sandbox/requests" and method == "DELETE":
            self.clear_log()
            return self._answer(entry, start_response, 200, json_type, {"ok": True})
        if path == "/_sandbox/faults" and method == "POST" and isinstance(body, dict):
            unknown = sorted(k for k in body if not hasattr(self.faults, k))
            if unknown:
                return self._answer(entry, start_response, 400, json_type, {"error": f"unknown faults {unknown}"})
            with self.lock:
                for key, value in body.items():
                    setattr(self.faults, key, frozenset(v.lower() for v in value) if key == "fail_emails" else value)
            return self._answer(entry, start_response, 200, json_type, {"ok": True})
        return self._answer(entry, start_response, 404, json_type, {"error": "unknown admin endpoint"})

    def _answer(self, entry, start_response, status, headers, body):
        entry["status"] = status
        payload = json.dumps(body).encode()
        start_response(f"{status} {HTTPStatus(status).phrase}", [*headers, ("Content-Length", str(len(payload)))])
        return [payload]

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> ScimSandbox:
        from scim2_server.testserver.cli import ThreadingWSGIServer

        self._server = make_server("127.0.0.1", self._port, self._wsgi, server_class=ThreadingWSGIServer,
                                   handler_class=_QuietHandler)
        threading.Thread(target=self._server.serve_forever, name="scim-sandbox", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ScimSandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the sandbox first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v2"

    # -- inspection and seeding --------------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        """Every user, as the server would return them."""
        return [r.model_dump() for r in self.storage.resources if type(r).__name__ != "Group"
                and "userName" in r.model_dump()]

    def user(self, user_id: str) -> dict[str, Any] | None:
        return next((u for u in self.users() if u.get("id") == user_id), None)

    def by_user_name(self, user_name: str) -> dict[str, Any] | None:
        return next((u for u in self.users() if u["userName"].lower() == user_name.lower()), None)

    def seed(self, users: list[dict[str, Any]]) -> None:
        """Create users through the server's own API (so uniqueness and ids are the server's)."""
        with requests.Session() as session:
            session.headers.update({"Authorization": f"Bearer {self.token}",
                                    "Content-Type": "application/scim+json"})
            for user in users:
                body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], **user}
                response = session.post(f"{self.url}/Users", data=json.dumps(body))
                response.raise_for_status()
        self.clear_log()

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] in ("POST", "PATCH", "PUT", "DELETE")]

    def clear_log(self) -> None:
        with self.lock:
            self.requests.clear()
