"""A SCIM 2.0 client speaking the subset Entra ID sends, which Winningtemp documents.

List with ``startIndex``/``count``; find with ``filter=userName eq "…"``; create with
POST; update with PATCH and lowercase ``replace`` operations; never DELETE. 429 and
503 are retried with urllib3's Retry, honouring ``Retry-After`` and
``X-RateLimit-Reset``. 401/403 are run-level (:class:`~hrsync.SinkError`); other 4xx
fail one person (:class:`~hrsync.RecordError`) with the SCIM ``detail``/``scimType``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from hrsync import ConflictError, RecordError, RetriableError, SinkAuthError, SinkError

log = logging.getLogger("hrsync.winningtemp")

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class RateLimitRetry(Retry):
    """Retry that also understands ``X-RateLimit-Reset`` (epoch seconds, or seconds to wait)."""

    def get_retry_after(self, response) -> float | None:
        after = super().get_retry_after(response)
        if after is not None:
            return after
        reset = response.headers.get("X-RateLimit-Reset")
        if reset is None:
            return None
        try:
            value = float(reset)
        except ValueError:
            return None
        # Large values are epoch timestamps; small ones a delay.
        return max(0.0, value - time.time()) if value > 1e9 else max(0.0, value)


def scim_problem(response: requests.Response) -> str:
    """The SCIM error's detail and scimType, or the HTTP status."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    scim_type = body.get("scimType") if isinstance(body, dict) else None
    text = f"HTTP {response.status_code}"
    if scim_type:
        text += f" ({scim_type})"
    if detail:
        text += f": {detail}"
    return text


class ScimClient:
    def __init__(self, *, base_url: str, token: str, page_size: int = 100, connect_timeout: float = 10,
                 read_timeout: float = 60, max_retries: int = 6, retry_backoff: float = 1.0,
                 connection: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.timeout = (connect_timeout, read_timeout)
        self.connection = connection
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": SCIM_JSON,
                                     "Content-Type": SCIM_JSON, "User-Agent": "hrsync-winningtemp"})
        retry = RateLimitRetry(
            total=max_retries, connect=max_retries, read=0, status=max_retries, backoff_factor=retry_backoff,
            backoff_max=120, status_forcelist=(429, 503), allowed_methods=None,
            respect_retry_after_header=True, raise_on_status=False,
        )
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def _send(self, method: str, path: str, *, record: str | None = None, **kwargs) -> requests.Response:
        if "json" in kwargs:
            kwargs["data"] = json.dumps(kwargs.pop("json"))
        try:
            response = self.session.request(method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs)
        except requests.exceptions.ConnectionError as exc:
            raise SinkError(f"Cannot reach Winningtemp's SCIM endpoint at {self.base_url} "
                            f"({type(exc).__name__}); check base_url and the network.",
                            connection=self.connection) from None
        except requests.exceptions.Timeout:
            if record is None:
                raise SinkError(f"Winningtemp did not answer {method} {path} in time.",
                                connection=self.connection) from None
            raise RetriableError("Winningtemp did not answer in time; the write may or may not have "
                                 "happened and is checked at the next run.", record=record, ambiguous=True) from None
        if response.status_code in (401, 403):
            raise SinkAuthError(f"Winningtemp refused the SCIM token ({scim_problem(response)}). Check the sink's "
                            "token setting; Winningtemp issues it in its SCIM settings.",
                            connection=self.connection)
        if response.status_code in (429, 503):
            if record is None:
                raise SinkError(f"Winningtemp kept answering {scim_problem(response)} on {method} {path}.",
                                connection=self.connection)
            raise RetriableError(f"Winningtemp kept answering {scim_problem(response)}; retried next run.",
                                 record=record)
        return response

    def _check(self, response: requests.Response, record: str | None, what: str) -> None:
        if response.status_code < 400:
            return
        if record is None:
            raise SinkError(f"Winningtemp answered {what} with {scim_problem(response)}.",
                            connection=self.connection)
        if response.status_code >= 500:
            raise RetriableError(f"Winningtemp failed: {scim_problem(response)}; retried next run.", record=record)
        raise RecordError(f"Winningtemp refused it: {scim_problem(response)}", record=record)

    def list_users(self) -> Iterator[dict[str, Any]]:
        start = 1
        while True:
            response = self._send("GET", "/Users", params={"startIndex": start, "count": self.page_size})
            self._check(response, None, "GET /Users")
            body = response.json()
            resources = body.get("Resources") or []
            yield from resources
            start += len(resources)
            if not resources or start > int(body.get("totalResults", 0)):
                return

    def find_user(self, user_name: str) -> dict[str, Any] | None:
        escaped = user_name.replace("\\", "\\\\").replace('"', '\\"')
        response = self._send("GET", "/Users", params={"filter": f'userName eq "{escaped}"'})
        self._check(response, None, "GET /Users?filter")
        resources = response.json().get("Resources") or []
        return resources[0] if resources else None

    def create_user(self, body: dict[str, Any], record: str) -> dict[str, Any]:
        response = self._send("POST", "/Users", json=body, record=record)
        if response.status_code == 409:
            raise ConflictError(f"userName {body.get('userName')} already exists in Winningtemp", record=record)
        self._check(response, record, "POST /Users")
        return response.json()

    def patch_user(self, user_id: str, operations: list[dict[str, Any]], record: str) -> dict[str, Any] | None:
        body = {"schemas": [PATCH_SCHEMA], "Operations": operations}
        response = self._send("PATCH", f"/Users/{user_id}", json=body, record=record)
        if response.status_code == 404:
            raise RecordError("The linked Winningtemp user no longer exists (deleted in Winningtemp?); "
                              "run `hrsync run CONNECTION --full` to create it again.", record=record)
        self._check(response, record, "PATCH /Users")
        # Both 200 with the user and 204 without a body are success (RFC 7644 §3.5.2).
        return response.json() if response.status_code == 200 and response.content else None

    def close(self) -> None:
        self.session.close()
