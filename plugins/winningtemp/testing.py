"""Test support of the Winningtemp plugin (pytest plugin via ``pytest11``): the SCIM sandbox
as a fixture, and :class:`ScimSinkSandbox`, the sink harness's view of scim2-server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hrsync import Secret
from hrsync.testing import Write

from .sandbox import ScimSandbox
from .sink import CORE_PATHS, EXTENSION_FIELDS

_PATH_TO_FIELD = {**{path: name for name, path in CORE_PATHS.items()}, "userName": "email",
                  'emails[type eq "work"].value': "email"}


class ScimSinkSandbox:
    """scim2-server seen by the sink harness (:class:`hrsync.testing.SinkSandbox`)."""

    def __init__(self, **settings: Any) -> None:
        self.scim = ScimSandbox()
        self.extra = settings
        self._seen = 0

    def __enter__(self) -> ScimSinkSandbox:
        self.scim.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.scim.stop()

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.scim.url, "token": Secret(self.scim.token), "retry_backoff": 0.01, **self.extra}

    def held(self) -> list[dict[str, Any]]:
        out = []
        for user in self.scim.users():
            emails = user.get("emails") or [{}]
            name = user.get("name") or {}
            out.append({"email": (emails[0].get("value") or user["userName"]).lower(),
                        "first_name": name.get("givenName"), "last_name": name.get("familyName"),
                        "active": user.get("active", True)})
        return out

    def writes(self) -> list[Write]:
        out = []
        for request in self.scim.requests[self._seen:]:
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
        self._seen = len(self.scim.requests)

    def seed(self, records: list[dict[str, Any]]) -> None:
        self.scim.seed([{"userName": r["email"], "name": {"givenName": r.get("first_name"),
                                                          "familyName": r.get("last_name")},
                         "emails": [{"value": r["email"], "type": "work", "primary": True}]} for r in records])
        self.clear()

    def throttle(self, count: int, status: int) -> None:
        self.scim.faults.throttle_next, self.scim.faults.throttle_status = count, status

    def reject(self, email: str) -> None:
        self.scim.faults.fail_emails = self.scim.faults.fail_emails | {email.lower()}


@pytest.fixture
def scim_sandbox() -> Iterator[ScimSandbox]:
    """scim2-server on 127.0.0.1 with Winningtemp's extension schema (``.url``, ``.token``, ``.users()``)."""
    with ScimSandbox() as sandbox:
        yield sandbox
