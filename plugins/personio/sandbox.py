"""A loopback server that behaves like Personio's API v1, for tests, ``hrsync sandbox`` and the demo.

Faithful to Personio's documented API v1 (plugins/personio/README.md; the endpoints are in
:mod:`.sandbox_http`): reusable tokens,
row-offset paging up to 100, Personio's envelopes, the birthday as a ``dynamic_<n>``
attribute, rate limits answered by 429 without headers, attributes withheld from
credentials that may not read them, and fault switches (:class:`Faults`).

Data: a JSON file in Personio's list-response format (:meth:`PersonioSandbox.from_list_response`:
the file's employees *and* its attribute catalogue, so the attribute listing is the file's and
nothing generated stands beside it), or :func:`generate_employees` (:mod:`.sandbox_data`). The
admin API is documented in plugins/personio/README.md.

Usage in a test::

    with PersonioSandbox(employees=generate_employees(120, seed=1)) as sandbox:
        sandbox.url, sandbox.client_id, sandbox.client_secret
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from hrsync import PluginError
from hrsync.sandbox import KeepAliveServer, LoopbackServer, RequestCounter, SourceSandbox

from .sandbox_data import (
    GENERATED_ATTRIBUTES,
    attributes_of,
    birthday_key,
    described_by,
    employee_of,
    generate_employees,
    load_list_response,
)
from .sandbox_http import Handler


@dataclass
class Faults:
    """Switches that make the sandbox misbehave the way the real service sometimes does."""

    latency_ms: float = 0.0  # every API request is answered this much later, as by a remote service
    error_rate: float = 0.0  # share of employee requests answered with a 5xx
    slow_seconds: float = 0.0  # delay before each employee request is answered
    slow_next: int = 0  # only the next N employee requests are slow (0: all, when slow_seconds is set)
    fail_offsets_once: set[int] = field(default_factory=set)  # these page offsets fail once with 500
    shift_total_by: int = 0  # total_elements reported off by this much after the first page…
    shift_total_reads: int = 1  # …in this many reads (a read starts with offset 0)
    #: Employees the list skips although they are employed (a row that slid past a page boundary while HR
    #: added and removed someone: the total stays the same); a lookup by id still finds them.
    missed_by_lists: set[int] = field(default_factory=set)
    revoke_after: int | None = None  # revoke every token after this many employee requests
    throttle_next: int = 0  # answer the next N employee requests with 429
    gate: threading.Event | None = None  # when set to an Event, employee requests wait until it is set
    deprecation: str | None = None  # a Deprecation header (RFC 9745) on every answer, e.g. "@1767225600"
    sunset: str | None = None  # a Sunset header (RFC 8594) on every answer, e.g. "Wed, 30 Jun 2027 23:59:59 GMT"
    redirect_to: str | None = None  # every API request (POST /v1/auth too) answered 307 to this origin, same path
    error_body: Any = None  # every API request answered `error_status` with this body (any shape of envelope)
    error_status: int = 400
    trickle_seconds: float = 0.0  # answers (200) sent one byte every this many seconds: no read timeout fires
    padding_mb: float = 0.0  # answers (200) padded with this many megabytes of whitespace before the JSON


class _Limiter:
    def __init__(self, per_minute: int, per_second: int | None) -> None:
        self.per_minute, self.per_second = per_minute, per_second
        self.hits: deque[float] = deque()

    def allow(self) -> bool:
        now = time.monotonic()
        while self.hits and now - self.hits[0] > 60:
            self.hits.popleft()
        if len(self.hits) >= self.per_minute:
            return False
        if self.per_second is not None and sum(1 for t in self.hits if now - t < 1) >= self.per_second:
            return False
        self.hits.append(now)
        return True


class _Server(KeepAliveServer, ThreadingHTTPServer):
    """HTTP/1.1 keep-alive, a daemon thread per connection (:class:`hrsync.sandbox.KeepAliveServer`)."""


def _milliseconds(value: str | float | None) -> float:
    """``--personio-latency-ms`` as a number of milliseconds (0 when not given)."""
    try:
        latency = float(value or 0)
    except ValueError:
        latency = -1.0
    if not 0 <= latency < float("inf"):
        raise PluginError(f"--personio-latency-ms takes milliseconds (0 or more), not {value!r}.", plugin="personio")
    return latency


class PersonioSandbox(LoopbackServer, SourceSandbox):
    """The sandbox server. A context manager; ``url`` is its base URL on 127.0.0.1."""

    name = "personio"

    def __init__(self, employees: list[dict[str, Any]] | None = None, *, client_id: str | None = None,
                 client_secret: str | None = None, port: int = 0, readable: Iterable[str] | None = None,
                 rate_limit: bool = True, employees_per_minute: int = 300, burst_per_second: int = 15,
                 auth_per_minute: int = 60, seed: int = 0, latency_ms: float = 0,
                 attributes: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__(port=port)
        self.employees: list[dict[str, Any]] = list(employees or [])
        #: The company's attribute catalogue (key → label, type, universal_id): what
        #: ``/company/employees/attributes`` lists and how new values are described. None: the generated company's.
        self.attributes: dict[str, dict[str, Any]] = dict(GENERATED_ATTRIBUTES if attributes is None else attributes)
        self.client_id = client_id or "papi-sandbox-" + secrets.token_hex(4)
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        #: Attribute keys the main credential may read (None: all), like "Readable employee attributes".
        self.readable = self._attribute_keys(readable)
        self.other_credentials: dict[str, tuple[str, set[str] | None]] = {}
        self.rate_limit = rate_limit
        self.limits = _Limiter(employees_per_minute, burst_per_second)
        self.auth_limits = _Limiter(auth_per_minute, None)
        self.faults = Faults(latency_ms=latency_ms)
        self.in_flight = RequestCounter()  # API requests being answered now, and the most at once
        self.tokens: dict[str, set[str] | None] = {}  # token → what its credential may read
        self.requests: list[dict[str, Any]] = []
        self.employee_requests = 0
        self.cut_answers = 0  # trickled answers the client hung up on
        self._shifting = False
        self.lock = threading.RLock()
        self._rng = random.Random(seed)

    cli_options = {"personio_readable": "Attributes the sandbox's API credential may read, comma-separated "
                                        "(e.g. first_name,last_name,email,status; birthday names the date of birth); "
                                        "default all",
                   "personio_latency_ms": "Answer each API request this many milliseconds late, like a remote "
                                          "service (requests in flight overlap); default 0"}

    @classmethod
    def create(cls, *, employees: int = 200, seed: int = 1, data_file: str | None = None,
               personio_readable: str | None = None, personio_latency_ms: str | float | None = None, **_: Any):
        readable = [a.strip() for a in personio_readable.split(",") if a.strip()] if personio_readable else None
        options = {"readable": readable, "latency_ms": _milliseconds(personio_latency_ms)}
        if data_file:
            return cls.from_list_response(data_file, **options)
        return cls(generate_employees(employees, seed=seed), **options)

    @classmethod
    def from_list_response(cls, path, **options: Any) -> PersonioSandbox:
        """A sandbox serving the company in a file of what ``GET /v1/company/employees`` returns: its employees,
        and its attribute catalogue (keys, labels, types, universal ids) as the attribute listing."""
        employees = load_list_response(path)
        return cls(employees, attributes=attributes_of(employees), **options)

    def secrets(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.url}

    def test_settings(self) -> dict[str, Any]:
        return {"retry_backoff": 0.01, "max_requests_per_second": 0, "max_requests_per_minute": 0}

    def people(self) -> list[dict[str, Any]]:
        keys = ("id", "email", "first_name", "last_name", "status")
        with self.lock:
            return [{k: (e.get(k) or {}).get("value") for k in keys} for e in self.employees]

    def add_person(self, **fields: Any) -> str:
        return str(self.add(**fields)["id"]["value"])

    def change_person(self, person_id: str, **fields: Any) -> None:
        self.change(int(person_id), **fields)

    # -- lifecycle --------------------------------------------------------------------

    def make_server(self, port: int) -> ThreadingHTTPServer:
        handler = type("BoundHandler", (Handler,), {"sandbox": self})
        return _Server(("127.0.0.1", port), handler)

    def clear_log(self) -> None:
        """Forget the logged requests, and start a new peak of requests in flight."""
        with self.lock:
            self.requests.clear()
        self.in_flight.reset()

    # -- credentials ------------------------------------------------------------------

    @property
    def birthday_key(self) -> str | None:
        """The key of this company's date-of-birth attribute (``universal_id`` ``date_of_birth``), or None."""
        return birthday_key(self.attributes)

    def _attribute_keys(self, names: Iterable[str] | None) -> set[str] | None:
        """Attribute keys from names; ``birthday`` names the company's date-of-birth attribute."""
        return None if names is None else {(self.birthday_key or n) if n == "birthday" else n for n in names}

    def add_credential(self, readable: Iterable[str] | None = None) -> tuple[str, str]:
        """Another API credential, reading only ``readable`` attributes; returns (client_id, client_secret)."""
        client_id, secret = "papi-sandbox-" + secrets.token_hex(4), secrets.token_urlsafe(24)
        with self.lock:
            self.other_credentials[client_id] = (secret, self._attribute_keys(readable))
        return client_id, secret

    def credential(self, client_id: Any, client_secret: Any) -> set[str] | None | bool:
        """What the credential may read (None: everything), or False when it is not a valid one."""
        if client_id == self.client_id and client_secret == self.client_secret:
            return self.readable
        secret, readable = self.other_credentials.get(client_id, (None, None))
        return readable if secret is not None and secret == client_secret else False

    # -- data -------------------------------------------------------------------------

    def visible(self, employee: dict[str, Any], readable: set[str] | None = None,
                wanted: list[str] | None = None) -> dict[str, Any]:
        """An employee as a credential reading ``readable`` sees them; ``wanted`` is an ``attributes[]``
        projection (``id`` always comes back)."""
        return {k: v for k, v in employee.items()
                if k == "id" or ((readable is None or k in readable) and (wanted is None or k in wanted))}

    def find(self, employee_id: int) -> dict[str, Any] | None:
        return next((e for e in self.employees if e["id"]["value"] == employee_id), None)

    def change(self, employee_id: int, **values: Any) -> dict[str, Any]:
        """Change one employee's plain values (``birthday`` names the birthday attribute)."""
        with self.lock:
            employee = self.find(employee_id)
            if employee is None:
                raise KeyError(employee_id)
            for key, value in employee_of(values, self.attributes).items():
                employee[key] = value
            return employee

    def add(self, **values: Any) -> dict[str, Any]:
        with self.lock:
            if "id" not in values:
                values["id"] = max((e["id"]["value"] for e in self.employees), default=999) + 1
            employee = employee_of(values, self.attributes)
            self.employees.append(employee)
            return employee

    def remove(self, employee_id: int) -> None:
        with self.lock:
            self.employees = [e for e in self.employees if e["id"]["value"] != employee_id]

    def replace_data(self, employees: list[dict[str, Any]]) -> None:
        """A new data set in Personio's format, and with it the company's attribute catalogue (an empty one
        describes no attribute: the catalogue stays)."""
        with self.lock:
            self.employees = employees
            if employees:
                self.attributes = attributes_of(employees)

    def attribute_list(self, readable: set[str] | None = None) -> list[dict[str, Any]]:
        """``/company/employees/attributes``: every attribute of the company the credential may read (``id`` is
        not listed): the catalogue, then any key an employee holds beyond it, as its attribute object describes it."""
        catalogue = dict(self.attributes)
        with self.lock:
            for employee in self.employees:
                for key, obj in employee.items():
                    if key not in catalogue:
                        catalogue[key] = described_by(key, obj)
        return [{"key": key, "label": a["label"], "type": a["type"], "universal_id": a["universal_id"], "options": []}
                for key, a in catalogue.items() if key != "id" and (readable is None or key in readable)]

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]
