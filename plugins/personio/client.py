"""HTTP client for Personio's API v1: one token per run, row-offset paging, bounded retries.

Data flow: :class:`PersonioClient` authenticates once (``POST /v1/auth``), reads the
attribute list to find the birthday attribute, then pages through
``GET /v1/company/employees`` and yields each employee's flattened attributes.
Retries (429 without Retry-After, 5xx, connection errors, timeouts) are urllib3's
``Retry`` with a growing back-off, bounded in count and in total time (the attempts' waits for an answer
included), ended by a stop request.
No redirect is followed (it would carry the credentials or the token elsewhere); every request
has a whole deadline and a size cap (:func:`hrsync.bounded_request`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests
from urllib3.util.retry import Retry

from hrsync import (
    BoundedAdapter,
    RequestAborted,
    RequestClock,
    ResponseTooLarge,
    SourceAuthError,
    SourceError,
    bounded_request,
    describe_network_error,
)

from .envelope import envelope_message, personio_error
from .pacing import Pacer

log = logging.getLogger("hrsync.personio")

RETRY_STATUSES = (429, 500, 502, 503, 504)


class BoundedRetry(Retry):
    """urllib3 Retry with a floor on each back-off and a limit on the time one request takes, retries included.

    Personio's 429 carries no Retry-After, so the first retry must still wait
    (``min_backoff``). ``deadline`` bounds one request from its first attempt: the attempts themselves (a
    server that accepts and never answers costs a whole read timeout each) and the back-offs between them
    (:class:`hrsync.RequestClock`). A retry is not started when, judging by the attempt that just failed, it
    could not end in time. A back-off ends early when the run is asked to stop (``stopping``).
    """

    def __init__(self, *args, min_backoff: float = 1.0, deadline: float | None = None,
                 stopping: Callable[[], bool] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.min_backoff = min_backoff
        self.deadline = deadline
        self.stopping = stopping

    def new(self, **kw):
        kw.setdefault("min_backoff", self.min_backoff)
        kw.setdefault("deadline", self.deadline)
        kw.setdefault("stopping", self.stopping)
        return super().new(**kw)

    def _sleep_backoff(self) -> None:
        # A back-off grows to a minute: a stop request (SIGTERM) must not wait for it.
        until = time.monotonic() + self.get_backoff_time()
        while (left := until - time.monotonic()) > 0:
            if self.stopping is not None and self.stopping():
                raise RequestAborted("stopped", 0)
            time.sleep(min(left, 0.2))

    def get_backoff_time(self) -> float:
        return max(self.min_backoff, super().get_backoff_time())

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        return RequestClock.within(self.deadline, new, _pool, url, error)


class PersonioClient:
    def __init__(self, *, base_url: str, client_id: str, client_secret: str, app_id: str, partner_id: str | None = None,
                 on_notice: Callable[[str], None] = lambda message: None, page_size: int = 100,
                 connect_timeout: float = 10, read_timeout: float = 60, max_retries: int = 8,
                 retry_backoff: float = 1.0, max_retry_seconds: float = 300, max_requests_per_second: float = 14,
                 max_requests_per_minute: float = 290, request_deadline: float = 120.0,
                 max_response_mb: float = 50.0, stopping: Callable[[], bool] = lambda: False,
                 connection: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.deadline, self.max_response_mb, self.stopping = request_deadline, max_response_mb, stopping
        self._client_id, self._client_secret = client_id, client_secret
        self.page_size = page_size
        self.timeout = (connect_timeout, read_timeout)
        self.connection = connection
        self.token: str | None = None
        self.session = requests.Session()
        self.session.headers.update({"X-Personio-App-ID": app_id, "Accept": "application/json",
                                     "User-Agent": "hrsync-personio"})
        if partner_id:
            self.session.headers["X-Personio-Partner-ID"] = partner_id
        self.on_notice = on_notice
        #: Attribute keys to ask for in employee lists (``attributes[]``); None asks for everything readable.
        self.attributes_wanted: list[str] | None = None
        retry = BoundedRetry(
            total=max_retries, connect=max_retries, read=max_retries, status=max_retries,
            backoff_factor=retry_backoff, backoff_max=60, min_backoff=retry_backoff, deadline=max_retry_seconds,
            status_forcelist=RETRY_STATUSES, allowed_methods=None,  # the auth POST is safe to repeat
            respect_retry_after_header=True, raise_on_status=False, stopping=stopping,
        )
        self.session.mount("http://", BoundedAdapter(max_retries=retry))
        self.session.mount("https://", BoundedAdapter(max_retries=retry))
        # Personio allows bursts of 15 requests/s; pacing below that avoids 429s altogether.
        self.pacer = Pacer(max_requests_per_second, max_requests_per_minute)

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        self.pacer.pace()
        url = f"{self.base_url}{path}"
        clock = RequestClock()
        try:
            response = bounded_request(self.session, method, url, deadline=self.deadline, stopping=self.stopping,
                                       max_bytes=int(self.max_response_mb * 1_000_000), timeout=self.timeout,
                                       clock=clock, **kwargs)
        except RequestAborted as exc:
            if exc.reason == "stopped":
                raise SourceError(f"Stopped on request during {method} {path} to Personio.",
                                  connection=self.connection) from None
            raise SourceError(f"Personio did not finish answering {method} {path} within the source setting "
                              f"request_deadline ({exc.seconds:g} s); the request was abandoned and no one was "
                              "changed. It is retried at the next run.", connection=self.connection) from None
        except ResponseTooLarge:
            raise SourceError(f"Personio's answer to {method} {path} was larger than the source setting "
                              f"max_response_mb ({self.max_response_mb:g} MB); it was not read further and no one "
                              "was changed.", connection=self.connection) from None
        except requests.exceptions.RetryError as exc:
            raise SourceError(
                f"Personio kept failing on {method} {path} after retries ({exc.__class__.__name__}); "
                "no one was changed. It is retried at the next run.", connection=self.connection) from None
        except requests.exceptions.RequestException as exc:
            where = describe_network_error(exc, url, seconds=clock.spent(), attempts=clock.attempts,
                                           timeouts=self.timeout)
            if "no answer within" in where:
                raise SourceError(f"Personio did not answer {method} {path} ({where}; the source settings "
                                  "read_timeout and max_retry_seconds). No one was changed; it is retried at the "
                                  "next run.", connection=self.connection) from None
            raise SourceError(f"Cannot reach Personio ({where}); check base_url and the network. No one was "
                              "changed.", connection=self.connection) from None
        self._signals(response)
        if 300 <= response.status_code < 400:
            # Never followed: the credentials (POST /v1/auth) or the token would go wherever it points.
            raise SourceError(f"Personio answered {method} {path} with a redirect (HTTP {response.status_code} to "
                              f"{response.headers.get('Location') or 'nowhere'}), which hrsync does not follow; "
                              "check the source's base_url. No one was changed.", connection=self.connection)
        if response.status_code in RETRY_STATUSES:
            raise SourceError(
                f"Personio kept answering {personio_error(response)} on {method} {path} after retries; "
                "no one was changed. It is retried at the next run.", connection=self.connection)
        return response

    def _signals(self, response: requests.Response) -> None:
        """Deprecation (RFC 9745) and Sunset (RFC 8594) headers become a warning in the run report."""
        deprecation, sunset = response.headers.get("Deprecation"), response.headers.get("Sunset")
        if deprecation or sunset:
            said = "; ".join(f"{name}: {value}" for name, value in (("Deprecation", deprecation), ("Sunset", sunset))
                             if value)
            self.on_notice(f"Personio says the API hrsync uses is being retired ({said}). Plan the move before "
                           "that date; see the Personio plugin's README.")

    def authenticate(self) -> None:
        response = self._send("POST", "/v1/auth",
                              json={"client_id": self._client_id, "client_secret": self._client_secret})
        if response.status_code in (400, 401, 403):
            raise SourceAuthError(
                f"Personio refused the API credentials ({personio_error(response)}). Check client_id and "
                "client_secret of this connection's source (Marketplace → Connected integrations in "
                "Personio).", connection=self.connection)
        self._raise_for_status(response, "POST /v1/auth")
        token = self._json(response, "POST /v1/auth").get("data")
        token = token.get("token") if isinstance(token, dict) else None
        if not isinstance(token, str) or not token:
            raise SourceError("Personio answered POST /v1/auth without a token.", connection=self.connection)
        self.token = token
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def get(self, path: str, params: dict | None = None) -> dict[str, Any]:
        if self.token is None:
            self.authenticate()
        response = self._send("GET", path, params=params)
        if response.status_code in (401, 403):
            # The token was revoked or expired mid-run: authenticate once more, then give up.
            log.info("Personio answered %s on %s; authenticating again", response.status_code, path)
            self.authenticate()
            response = self._send("GET", path, params=params)
            if response.status_code in (401, 403):
                raise SourceAuthError(
                    f"Personio refused access to {path} ({personio_error(response)}) with a fresh token. "
                    "Check that the API credentials may read employees and their attributes.",
                    connection=self.connection)
        self._raise_for_status(response, f"GET {path}")
        body = self._json(response, f"GET {path}")
        if body.get("success") is not True:
            raise SourceError(f"Personio answered GET {path} without success: "
                              f"{envelope_message(body) or 'no message'}.", connection=self.connection)
        return body

    def _json(self, response: requests.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise SourceError(f"Personio answered {what} with a body that is not its JSON envelope.",
                              connection=self.connection)
        return body

    def _raise_for_status(self, response: requests.Response, what: str) -> None:
        if response.status_code >= 400:
            raise SourceError(f"Personio answered {what} with {personio_error(response)}.",
                              connection=self.connection)

    def exists(self, employee_id: str) -> bool:
        """Whether Personio still has this employee (a 404 says no)."""
        if self.token is None:
            self.authenticate()
        response = self._send("GET", f"/v1/company/employees/{employee_id}")
        if response.status_code == 404:
            return False
        self._raise_for_status(response, f"GET /v1/company/employees/{employee_id}")
        return True

    def attributes(self) -> list[dict[str, Any]]:
        return self.get("/v1/company/employees/attributes")["data"]

    def employees(self, attempts: int = 3) -> list[dict[str, Any]]:
        """Every employee's attribute objects, once each, from a read whose total held still.

        Offset paging has no snapshot: when HR adds or removes people between two pages, rows
        shift and one person can be skipped at a page boundary. A read whose reported total
        changed from page to page is therefore done again; if it keeps changing, the run stops
        rather than act on a list that may miss someone.
        """
        totals: list[int] = []
        for _ in range(attempts):
            people, totals = self._read_once()
            if len(set(totals)) <= 1:
                if totals and len(people) < totals[0]:
                    raise SourceError(
                        f"Personio reported {totals[0]} employees but only {len(people)} could be read; the "
                        "list is incomplete, so no one was changed. It is retried at the next run.",
                        connection=self.connection)
                return people
            log.info("Personio's employee count changed while paging (%s); reading again", totals)
        raise SourceError(
            f"Personio's employee count kept changing while reading ({' → '.join(map(str, totals))}), so the "
            "list may be incomplete; no one was changed. It is retried at the next run.", connection=self.connection)

    def _read_once(self) -> tuple[list[dict[str, Any]], list[int]]:
        seen: set[Any] = set()
        people: list[dict[str, Any]] = []
        totals: list[int] = []
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": self.page_size, "offset": offset}
            if self.attributes_wanted is not None:
                params["attributes[]"] = self.attributes_wanted
            body = self.get("/v1/company/employees", params)
            page = body.get("data") or []
            total = (body.get("metadata") or {}).get("total_elements")
            if total is not None:
                totals.append(int(total))
            if not page:
                break
            for item in page:
                attrs = item.get("attributes") or {}
                ident = (attrs.get("id") or {}).get("value")
                if ident is not None and ident in seen:
                    continue  # a row shifted onto the next page: keep the first copy
                if ident is not None:  # people without an id are kept: the engine skips them with a reason
                    seen.add(ident)
                people.append(attrs)
            offset += len(page)
            if totals and offset >= max(totals):
                break
        return people, totals

    def close(self) -> None:
        self.session.close()
