"""Winningtemp's SCIM endpoint on loopback: ``scim2-server`` from PyPI, not a server we wrote.

scim2-server (an independent SCIM 2.0 implementation) serves ``/v2/Users`` from memory
with a static bearer token, in one of the profiles of :mod:`.sandbox_profiles` (what it
advertises, keeps, refuses and how it answers), behind :class:`~.sandbox_wsgi.RecordingApp`
(request log, fault switches, admin API). :class:`ScimSandbox` is also the sink
harness's view of it (:class:`hrsync.sandbox.SinkSandbox`).

    with ScimSandbox(profile="extended") as scim:
        scim.url, scim.token, scim.users()
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import replace
from typing import Any
from wsgiref.simple_server import make_server

import requests

from hrsync import PluginError
from hrsync.sandbox import LoopbackServer, RequestCounter, SinkSandbox, Write

from .sandbox_bodies import OddAnswers
from .sandbox_profiles import PROFILES, build_provider
from .sandbox_wsgi import KeepAliveWSGIHandler, KeepAliveWSGIServer, RecordingApp, ScimFaults
from .settings import DEFAULT_URN
from .users import CORE_PATHS, EXTENSION_FIELDS, PRIMARY_EMAIL

_PATH_TO_FIELD = {**{path: name for name, path in CORE_PATHS.items()}, "userName": "email",
                  PRIMARY_EMAIL: "email", "emails": "email"}


class ScimSandbox(LoopbackServer, SinkSandbox):
    """scim2-server in one of the :data:`PROFILES`, on loopback. A context manager."""

    name = "winningtemp"
    kind = "sink"
    cli_options = {"scim_profile": f"SCIM service profile: {', '.join(PROFILES)}; default documented",
                   "scim_latency_ms": "Answer each SCIM request this many milliseconds late, like a remote "
                                      "service (requests in flight overlap); default 0"}

    def __init__(self, *, profile: str = "documented", token: str | None = None, urn: str = DEFAULT_URN,
                 port: int = 0, rate_limit: tuple[int, float] | None = None,
                 extension_attributes: list[str] | None = None, latency_ms: float = 0) -> None:
        super().__init__(port=port)
        try:
            from scim2_server.memory import InMemoryStorage
            from scim2_server.service import ScimService
            from scim2_server.testserver.application import BearerTokenApplication
        except ImportError:  # pragma: no cover - depends on the install
            raise PluginError("The Winningtemp sandbox needs scim2-server: pip install 'hrsync[sandbox]'.",
                              plugin="winningtemp") from None
        if profile not in PROFILES:
            raise PluginError(f"Unknown SCIM sandbox profile {profile!r}; profiles: {', '.join(PROFILES)}.",
                              plugin="winningtemp")
        self.profile = PROFILES[profile]
        if rate_limit is not None:
            self.profile = replace(self.profile, rate_limit=rate_limit)
        self.token = token or secrets.token_urlsafe(24)
        self.urn = urn
        self.faults = ScimFaults(latency_ms=latency_ms)
        self.odd_answers = OddAnswers()  # trickled or padded answers: sending, completed, cut by the client
        self.in_flight = RequestCounter()  # SCIM requests being answered now, and the most at once
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        provider = build_provider(self.profile, urn, extension_attributes)
        self.storage = InMemoryStorage()
        self.app = RecordingApp(BearerTokenApplication(self.storage, provider, service=ScimService(
            provider, secret=secrets.token_urlsafe(16)), bearer_tokens=[self.token]), self)
        self._seen = 0

    @classmethod
    def create(cls, *, scim_profile: str | None = None, scim_latency_ms: str | float | None = None,
               **_: Any) -> ScimSandbox:
        try:
            latency = float(scim_latency_ms or 0)
        except ValueError:
            latency = -1.0
        if not 0 <= latency < float("inf"):
            raise PluginError(f"--scim-latency-ms takes milliseconds (0 or more), not {scim_latency_ms!r}.",
                              plugin="winningtemp")
        return cls(profile=scim_profile or "documented", latency_ms=latency)

    def secrets(self) -> dict[str, str]:
        return {"token": self.token}

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.url}

    def test_settings(self) -> dict[str, Any]:
        return {"retry_backoff": 0.01}

    # -- lifecycle ----------------------------------------------------------------------------

    def make_server(self, port: int):
        return make_server("127.0.0.1", port, self.app, server_class=KeepAliveWSGIServer,
                           handler_class=KeepAliveWSGIHandler)

    @property
    def url(self) -> str:
        return f"{super().url}/v2"

    # -- SCIM inspection and seeding ------------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        """Every user, as the server would return them."""
        return [r.model_dump() for r in self.storage.resources if type(r).__name__ != "Group"
                and "userName" in r.model_dump()]

    def groups(self) -> list[dict[str, Any]]:
        """Every group, with its members, as the server holds them."""
        return [r.model_dump() for r in self.storage.resources if type(r).__name__ == "Group"]

    def user(self, user_id: str) -> dict[str, Any] | None:
        return next((u for u in self.users() if u.get("id") == user_id), None)

    def by_user_name(self, user_name: str) -> dict[str, Any] | None:
        return next((u for u in self.users() if u["userName"].lower() == user_name.lower()), None)

    def seed_users(self, users: list[dict[str, Any]]) -> None:
        """Create SCIM users through the server's own API (so uniqueness and ids are the server's)."""
        with requests.Session() as session:
            session.headers.update({"Authorization": f"Bearer {self.token}", "X-Sandbox-Seed": "1",
                                    "Content-Type": "application/scim+json"})
            for user in users:
                body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], **user}
                response = session.post(f"{self.url}/Users", data=json.dumps(body))
                response.raise_for_status()
        self.clear_log()

    def write_requests(self) -> list[dict[str, Any]]:
        """The logged requests that write (POST, PATCH, PUT, DELETE), with status and body."""
        return [r for r in self.requests if r["method"] in ("POST", "PATCH", "PUT", "DELETE")]

    def clear_log(self) -> None:
        """Forget the logged requests, and start a new peak of requests in flight."""
        with self.lock:
            self.requests.clear()
            self._seen = 0
        self.in_flight.reset()

    # -- the sink harness's view (hrsync.sandbox.SinkSandbox) --------------------------------------------

    def held(self) -> list[dict[str, Any]]:
        out = []
        for user in self.users():
            emails = user.get("emails") or [{}]
            name = user.get("name") or {}
            out.append({"email": (emails[0].get("value") or user["userName"]).lower(),
                        "first_name": name.get("givenName"), "last_name": name.get("familyName"),
                        "active": user.get("active", True)})
        return out

    def held_groups(self) -> list[dict[str, Any]]:
        user_names = {u["id"]: u["userName"].lower() for u in self.users()}
        return [{"external_id": g.get("externalId"), "name": g.get("displayName"),
                 "members": sorted(user_names[m["value"]] for m in g.get("members") or [])} for g in self.groups()]

    def writes(self) -> list[Write]:
        out = []
        for request in self.requests[self._seen:]:
            if request["status"] in (429, 503):
                continue  # refused before it reached the service
            if request["method"] == "POST":
                out.append(Write("create"))
            elif request["method"] == "DELETE":
                out.append(Write("delete"))
            elif request["method"] == "PATCH":
                fields = set()
                for op in request["body"]["Operations"]:
                    path = op.get("path", "")
                    urn_attr = path.rsplit(":", 1)[-1]
                    fields.add(_PATH_TO_FIELD.get(path) or next(
                        (f for f, a in EXTENSION_FIELDS.items() if a == urn_attr), path))
                out.append(Write("update", frozenset(fields)))
        return out

    def clear(self) -> None:
        self._seen = len(self.requests)

    def seed(self, records: list[dict[str, Any]]) -> None:
        self.seed_users([{"userName": r["email"], "name": {"givenName": r.get("first_name"),
                                                           "familyName": r.get("last_name")},
                          "emails": [{"value": r["email"], "type": "work", "primary": True}]} for r in records])

    def throttle(self, count: int, status: int) -> None:
        self.faults.throttle_next, self.faults.throttle_status = count, status

    def busy_answers(self) -> int:
        with self.lock:
            return sum(1 for request in self.requests if request["status"] in (429, 503))

    def reject(self, email: str) -> None:
        self.faults.fail_emails = self.faults.fail_emails | {email.lower()}
