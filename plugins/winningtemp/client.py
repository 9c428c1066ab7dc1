"""A SCIM 2.0 client speaking the subset Entra ID sends, which Winningtemp documents.

List with ``startIndex``/``count`` (checking that the server really pages); find with
``filter=userName eq "…"`` (percent-encoded with ``%20``); create with POST; update with
PATCH and lowercase ``replace`` operations; never DELETE; discovery (RFC 7644 §4) with a
404 meaning "not advertised". Winningtemp's rate-limit headers are read from every
answer: when ``X-RateLimit-Remaining`` reaches 0 the next request waits for
``X-RateLimit-Reset`` instead of spending itself on a 429. 429 and 503 are retried with
urllib3's Retry, honouring ``Retry-After`` and ``X-RateLimit-Reset``. 401/403 are
run-level (:class:`~hrsync.SinkAuthError`); other 4xx fail one person
(:class:`ScimError`) with the SCIM ``detail``/``scimType``; ``409`` and ``400
uniqueness`` on create are a :class:`~hrsync.ConflictError`. No redirect is followed, every request has a
whole deadline and a size cap (:func:`hrsync.bounded_request`), and a write counts only with a
well-formed success (:mod:`.answers`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import requests

from hrsync import (
    BoundedAdapter,
    ConflictError,
    ListingRefused,
    RecordError,
    RequestAborted,
    RequestClock,
    ResponseTooLarge,
    RetriableError,
    SinkAuthError,
    SinkError,
    bounded_request,
    describe_network_error,
    network_cause,
)

from . import answers, scim
from .answers import scim_problem
from .groups import GroupRequests
from .retries import RateLimitGate, RateLimitRetry

log = logging.getLogger("hrsync.winningtemp")

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class ScimError(RecordError):
    """Winningtemp refused one person's write; ``scim_type`` is the SCIM error type (``noTarget``, …)."""

    def __init__(self, message: str, *, record: str | None, status: int, scim_type: str | None) -> None:
        super().__init__(message, record=record, status=status, scim_type=scim_type)
        self.status, self.scim_type = status, scim_type


def _before_sending(exc: BaseException) -> bool:
    """Whether a connection failure happened before the request could reach the server."""
    return isinstance(exc, requests.exceptions.ConnectTimeout) or network_cause(exc) in (
        "connection refused", "DNS: host not found") or network_cause(exc).startswith("TLS")


class ScimClient(GroupRequests):
    def __init__(self, *, base_url: str, token: str, page_size: int = 100, connect_timeout: float = 10,
                 read_timeout: float = 60, max_retries: int = 6, retry_backoff: float = 1.0,
                 max_retry_seconds: float = 300.0, max_wait_seconds: float = 300.0, pause=None,
                 connection: str = "", pool_size: int = 1, throttled=None, request_deadline: float = 120.0,
                 max_response_mb: float = 50.0, stopping=None) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.timeout = (connect_timeout, read_timeout)
        self.deadline, self.max_response_mb = request_deadline, max_response_mb
        self.stopping = stopping or (lambda: False)
        self.connection = connection
        self.gate = RateLimitGate(max_wait_seconds, pause)
        self.throttled = throttled or (lambda: None)
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": SCIM_JSON,
                                     "Content-Type": SCIM_JSON, "User-Agent": "hrsync-winningtemp"})
        retry = RateLimitRetry(
            total=max_retries, connect=max_retries, read=max_retries, status=max_retries, backoff_factor=retry_backoff,
            backoff_max=120, status_forcelist=(429, 503), allowed_methods=None,
            respect_retry_after_header=True, raise_on_status=False, max_wait=max_wait_seconds, pause=pause,
            on_throttle=self._on_throttle, deadline=max_retry_seconds,
        )
        # One kept-alive connection per write in flight (plus one for the reads of the main thread).
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, BoundedAdapter(max_retries=retry, pool_connections=1,
                                                   pool_maxsize=pool_size + 1, pool_block=False))

    def _on_throttle(self, wait: float) -> None:
        """A 429/503 about to be retried after ``wait`` seconds: every request of this run waits too, and
        the run is told, so it halves its writes in flight."""
        self.gate.hold(wait)
        self.throttled()

    def _send(self, method: str, path: str, *, record: str | None = None, params: dict | None = None,
              **kwargs) -> requests.Response:
        if "json" in kwargs:
            kwargs["data"] = json.dumps(kwargs.pop("json"))
        url = f"{self.base_url}{path}"
        if params:
            # Spaces as %20, not +: a filter's `userName eq "…"` must reach the server intact.
            url += "?" + urlencode(params, quote_via=quote)
        self.gate.wait(self.connection)
        clock, response = RequestClock(), None
        try:
            response = bounded_request(self.session, method, url, deadline=self.deadline, stopping=self.stopping,
                                       max_bytes=int(self.max_response_mb * 1_000_000), timeout=self.timeout,
                                       clock=clock, **kwargs)
        except RequestAborted as exc:
            raise self._aborted(exc, method, path, record) from None
        except ResponseTooLarge:
            raise SinkError(f"Winningtemp's answer to {method} {path} was larger than the sink setting "
                            f"max_response_mb ({self.max_response_mb:g} MB); it was not read further.",
                            connection=self.connection) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            # ChunkedEncodingError: the answer was cut while its body was read (it is streamed).
            if record is not None and not _before_sending(exc):
                # The connection broke after the request went out: it may have happened. One person fails;
                # a create keeps its intent, so the next run looks before creating again.
                raise RetriableError(f"The connection to Winningtemp broke ({network_cause(exc)}); the write may "
                                     "or may not have happened and is checked at the next run.", record=record,
                                     ambiguous=True) from None
            where = describe_network_error(exc, url, seconds=clock.spent(), attempts=clock.attempts,
                                           timeouts=self.timeout)
            if "no answer within" in where:
                raise SinkError(f"Winningtemp did not answer {method} {path} ({where}; the sink settings "
                                "read_timeout and max_retry_seconds).", connection=self.connection) from None
            raise SinkError(f"Cannot reach Winningtemp's SCIM endpoint ({where}); check base_url and the network.",
                            connection=self.connection) from None
        except requests.exceptions.Timeout as exc:
            cause = network_cause(exc, self.timeout)
            if record is None:
                raise SinkError(f"Winningtemp did not answer {method} {path} ({cause}).",
                                connection=self.connection) from None
            raise RetriableError(f"Winningtemp did not answer in time ({cause}); the write may or may not have "
                                 "happened and is checked at the next run.", record=record, ambiguous=True) from None
        except requests.exceptions.RequestException as exc:
            # Anything else requests refuses (an invalid header, a bad URL): never its raw text, which may
            # quote the token.
            raise SinkError(f"The request to Winningtemp could not be sent ({type(exc).__name__}); check the "
                            "sink's base_url and token.", connection=self.connection) from None
        finally:
            self.gate.observe(response)
        if 300 <= response.status_code < 400:
            raise self._redirected(response, method, path, record)
        if response.status_code in (401, 403):
            raise SinkAuthError(f"Winningtemp refused the SCIM token ({scim_problem(response)[0]}). Check the "
                                "sink's token setting; Winningtemp issues it in its SCIM settings.",
                                connection=self.connection)
        if response.status_code in (429, 503):
            self.throttled()  # the answers retried before this one were told by RateLimitRetry
            if record is None:
                raise SinkError(f"Winningtemp kept answering {scim_problem(response)[0]} on {method} {path}.",
                                connection=self.connection)
            raise RetriableError(f"Winningtemp kept answering {scim_problem(response)[0]}; retried next run.",
                                 record=record)
        return response

    def _aborted(self, exc: RequestAborted, method: str, path: str, record: str | None) -> Exception:
        if exc.reason == "stopped":
            return SinkError(f"Stopped on request during {method} {path} to Winningtemp.", connection=self.connection)
        what = (f"Winningtemp did not finish answering {method} {path} within the sink setting request_deadline "
                f"({exc.seconds:g} s); the request was abandoned")
        if record is None:
            return SinkError(what + ".", connection=self.connection)
        return RetriableError(what + "; the write may or may not have happened and is checked at the next run.",
                              record=record, ambiguous=True)

    def _redirected(self, response: requests.Response, method: str, path: str, record: str | None) -> Exception:
        # Never followed: a redirect would take the token or people's data wherever it points, and a 302 after
        # a POST is followed as a GET whose answer would be taken for the write's.
        where = response.headers.get("Location") or "nowhere"
        what = (f"Winningtemp answered {method} {path} with a redirect (HTTP {response.status_code} to {where}), "
                "which hrsync does not follow; check the sink's base_url")
        if record is None:
            return SinkError(what + ".", connection=self.connection)
        return RetriableError(what + ". The write did not happen as far as hrsync knows; it is tried again at the "
                              "next run.", record=record, ambiguous=method == "POST")

    def _check(self, response: requests.Response, record: str | None, what: str) -> None:
        if response.status_code < 400:
            return
        text, scim_type = scim_problem(response)
        if record is None:
            raise SinkError(f"Winningtemp answered {what} with {text}.", connection=self.connection)
        if response.status_code >= 500:
            raise RetriableError(f"Winningtemp failed: {text}; retried next run.", record=record)
        raise ScimError(f"Winningtemp refused it: {text}", record=record, status=response.status_code,
                        scim_type=scim_type)

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise SinkError(f"Winningtemp answered {response.request.method} {response.request.path_url} with "
                            "a body that is not JSON.", connection=self.connection) from None

    # -- discovery ------------------------------------------------------------------------

    def discover(self, path: str) -> Any | None:
        """A discovery document (``/ServiceProviderConfig``, ``/ResourceTypes``, ``/Schemas``); None on 404."""
        response = self._send("GET", path)
        if response.status_code in (404, 501):
            return None
        self._check(response, None, f"GET {path}")
        return self._json(response)

    # -- users ------------------------------------------------------------------------------

    def list_users(self) -> Iterator[dict[str, Any]]:
        """Every user, one page at a time; stops the run if the server does not really page."""
        start, seen = 1, set()
        while True:
            response = self._send("GET", "/Users", params={"startIndex": start, "count": self.page_size})
            if start == 1 and response.status_code in (400, 405, 501):
                raise ListingRefused(f"Winningtemp refused to list its users ({scim_problem(response)[0]}).",
                                     connection=self.connection)
            self._check(response, None, "GET /Users")
            body = self._json(response)
            resources = scim.get(body, "Resources") or []
            answered = scim.get(body, "startIndex")
            if resources and answered is not None and int(answered) != start:
                raise SinkError(f"Winningtemp answered the user list page starting at {start} with startIndex "
                                f"{answered}: it does not page as SCIM requires, so the list cannot be trusted. "
                                "No one was changed.", connection=self.connection)
            problem = answers.page_problem(body, start, self.page_size, resources)
            total = int(scim.get(body, "totalResults") or 0)
            if problem is None and not resources and start <= total:
                problem = f"its pages ended after {start - 1} users although totalResults says {total}"
            if problem:
                raise SinkError(f"Winningtemp's user list contradicts itself: {problem}. Its paging is broken, so "
                                "the list cannot be trusted. No one was changed.", connection=self.connection)
            for user in resources:
                user_id = scim.get(user, "id")
                if user_id in seen:
                    raise SinkError(f"Winningtemp's user list repeated user {user_id} on the page starting at "
                                    f"{start}: its paging is broken, so the list cannot be trusted. No one was "
                                    "changed.", connection=self.connection)
                seen.add(user_id)
                yield user
            start += len(resources)
            if not resources or start > int(scim.get(body, "totalResults") or 0):
                return

    def find_user(self, user_name: str, attribute: str = "userName") -> dict[str, Any] | None:
        escaped = user_name.replace("\\", "\\\\").replace('"', '\\"')
        response = self._send("GET", "/Users", params={"filter": f'{attribute} eq "{escaped}"'})
        self._check(response, None, "GET /Users?filter")
        resources = scim.get(self._json(response), "Resources") or []
        return resources[0] if resources else None

    def create_user(self, body: dict[str, Any], record: str) -> dict[str, Any]:
        response = self._send("POST", "/Users", json=body, record=record)
        _, scim_type = scim_problem(response) if response.status_code == 400 else (None, None)
        if response.status_code == 409 or scim_type == "uniqueness":
            raise ConflictError(f"userName {body.get('userName')} already exists in Winningtemp", record=record)
        self._check(response, record, "POST /Users")
        problem = answers.write_problem(response, create=True)
        if problem:
            raise RetriableError(f"Winningtemp did not confirm the create: {problem}. It is checked and tried again "
                                 "at the next run.", record=record, ambiguous=True)
        return answers.body_of(response)

    def patch_user(self, user_id: str, operations: list[dict[str, Any]], record: str) -> dict[str, Any] | None:
        body = {"schemas": [PATCH_SCHEMA], "Operations": operations}
        response = self._send("PATCH", f"/Users/{user_id}", json=body, record=record)
        if response.status_code == 404:
            raise RecordError("The linked Winningtemp user no longer exists (deleted in Winningtemp?); "
                              f"run `hrsync run {self.connection or 'CONNECTION'} --full` to create it again.",
                              record=record)
        self._check(response, record, "PATCH /Users")
        # Both 200 with the user and 204 without a body are success (RFC 7644 §3.5.2); nothing else is.
        problem = answers.write_problem(response, create=False)
        if problem:
            raise RetriableError(f"Winningtemp did not confirm the update: {problem}. It is tried again at the "
                                 "next run.", record=record)
        return answers.body_of(response) if response.status_code == 200 else None

    def close(self) -> None:
        self.session.close()
