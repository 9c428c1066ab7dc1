"""A loopback server that behaves like Personio's API v1, for tests, ``hrsync sandbox`` and the demo.

Faithful to DESIGN §6: ``POST /v1/auth`` (JSON or form) issuing reusable tokens;
``GET /v1/company/employees`` with ``limit`` 1–100 (50 without paging, 400 beyond),
row offsets and Personio's exact envelope; ``/v1/company/employees/{id}``;
``/v1/company/employees/attributes`` with the birthday as a ``dynamic_<n>`` attribute
whose ``universal_id`` is ``date_of_birth``; 401 without a token, 403 with a bad one,
in Personio's error envelope; rate limits answered by 429 **without** headers;
attributes withheld from credentials that may not read them; fault switches.

Data: a JSON file in Personio's list-response format, or :func:`generate_employees`.
The admin API under ``/_sandbox/`` is documented in plugins/personio/README.md.

Usage in a test::

    with PersonioSandbox(employees=generate_employees(120, seed=1)) as sandbox:
        sandbox.url, sandbox.client_id, sandbox.client_secret
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import secrets
import threading
import time
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hrsync import SourceSandbox

BIRTHDAY_KEY = "dynamic_1146702"
LABELS = {
    "id": "ID", "first_name": "First name", "last_name": "Last name", "preferred_name": "Name (preferred)",
    "email": "Email", "gender": "Gender", "status": "Status", "position": "Position",
    "supervisor": "Supervisor", "employment_type": "Employment type", "hire_date": "Hire date",
    "termination_date": "Termination date", "created_at": "created_at", "last_modified_at": "Last modified",
    "office": "Office", "department": "Department", "team": "Team", BIRTHDAY_KEY: "Date of birth",
}
TYPES = {"id": "integer", "hire_date": "date", "termination_date": "date", "created_at": "date",
         "last_modified_at": "date", BIRTHDAY_KEY: "date"}
UNIVERSAL = {BIRTHDAY_KEY: "date_of_birth"}
NESTED = {"office": "Office", "department": "Department", "team": "Team"}


def attribute(key: str, value: Any) -> dict[str, Any]:
    """One attribute object as Personio sends it."""
    if key in NESTED and isinstance(value, str):
        value = {"type": NESTED[key], "attributes": {"id": _stable_id(value), "name": value}}
    return {"label": LABELS.get(key, key), "value": value, "type": TYPES.get(key, "standard"),
            "universal_id": UNIVERSAL.get(key, key if not key.startswith("dynamic_") else None)}


def _stable_id(name: str) -> int:
    return 100000 + sum(ord(c) * (i + 1) for i, c in enumerate(name)) % 900000


def make_employee(**values: Any) -> dict[str, dict[str, Any]]:
    """An employee's attribute objects from plain values; ``birthday`` goes to the dynamic key."""
    if "birthday" in values:
        values[BIRTHDAY_KEY] = values.pop("birthday")
    return {key: attribute(key, value) for key, value in values.items()}


FIRST = ["Anna", "Åsa", "Björn", "Zoë", "José", "Łukasz", "Chloé", "Jürgen", "Søren", "Aino", "Małgorzata",
         "Oğuz", "Nils", "Sofia", "Lars", "Émile", "Ingrid", "Mateo", "Yuki", "Fatima", "Henrik", "Leonie",
         "Paul", "Noor", "Olga", "Tomás", "Katarzyna", "Mika", "Elin", "Jonas"]
LAST = ["Berg", "Öberg", "Müller", "Nowak", "García", "Lindqvist", "Dubois", "Østergaard", "Virtanen",
        "Yılmaz", "Schmidt", "Andersson", "Kowalski", "Rossi", "Sato", "Haddad", "Johansson", "Fischer",
        "Novák", "Eriksson", "Nieminen", "Åkesson", "Weiß", "O'Brien", "van der Berg", "Karlsson"]
OFFICES = ["Stockholm", "Munich", "Madrid", "Berlin", "Malmö"]
DEPARTMENTS = ["Engineering", "Sales", "Customer Support", "People", "Finance", "Marketing"]
POSITIONS = ["Engineer", "Account Executive", "Support Specialist", "HR Partner", "Controller", "Designer"]
OFFSETS = ["+01:00", "+0100", "+02:00", "+00:53", "+00:00"]


def _ascii(text: str) -> str:
    text = text.replace("ß", "ss").replace("ł", "l").replace("Ł", "L").replace("ø", "o").replace("ı", "i")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isalnum() and c.isascii()).lower()


def generate_employees(count: int, seed: int = 1, *, today: dt.date | None = None,
                       duplicate_emails: int = 0, domain: str = "example.com") -> list[dict[str, Any]]:
    """A deterministic company of ``count`` people with the edge cases real data has.

    Non-ASCII names, every status, future hires, past terminations, missing birthdays,
    mixed-case e-mails, dates with ``+01:00``/``+0100``/``+00:53`` offsets, and
    ``duplicate_emails`` pairs sharing one address.
    """
    rng = random.Random(seed)
    today = today or dt.date.today()
    people = []
    used: set[str] = set()
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{_ascii(first)}.{_ascii(last)}"
        while local in used:
            local = f"{_ascii(first)}.{_ascii(last)}{rng.randint(2, 9999)}"
        used.add(local)
        email = f"{local}@{domain}"
        if i % 7 == 3:
            email = email.title()  # mixed case, as HR types it
        roll = rng.random()
        hire = today - dt.timedelta(days=rng.randint(30, 4000))
        termination = None
        status = "active"
        if roll < 0.06:
            status, hire = "onboarding", today + dt.timedelta(days=rng.randint(1, 60))
        elif roll < 0.10:
            status = "leave"
        elif roll < 0.16:
            status = "inactive"
            termination = today - dt.timedelta(days=rng.randint(1, 400))
        offset = rng.choice(OFFSETS)
        birthday = None if rng.random() < 0.1 else (
            dt.date(1960, 1, 1) + dt.timedelta(days=rng.randint(0, 15000))).isoformat()
        people.append(make_employee(
            id=1000 + i,
            first_name=first,
            last_name=last,
            preferred_name=f"{first} {last}",
            email=email,
            gender=rng.choice(["male", "female", "diverse", ""]),
            status=status,
            position=rng.choice(POSITIONS),
            employment_type="external" if rng.random() < 0.05 else "internal",
            hire_date=f"{hire.isoformat()}T00:00:00{offset}",
            termination_date=None if termination is None else f"{termination.isoformat()}T00:00:00{offset}",
            created_at=f"{(hire - dt.timedelta(days=20)).isoformat()}T09:49:03+02:00",
            last_modified_at=f"{today.isoformat()}T03:00:00+01:00",
            office=rng.choice(OFFICES),
            department=rng.choice(DEPARTMENTS),
            team=f"Team {rng.randint(1, 12)}",
            birthday=birthday,
        ))
    for k in range(min(duplicate_emails, count // 2)):
        people[2 * k + 1]["email"] = copy.deepcopy(people[2 * k]["email"])
    return people


def load_list_response(path) -> list[dict[str, Any]]:
    """Employees from a file holding what ``GET /v1/company/employees`` returns."""
    with open(path, encoding="utf-8") as fh:
        body = json.load(fh)
    return [item["attributes"] for item in body["data"]]


def list_response(employees: list[dict[str, Any]], offset: int = 0, limit: int | None = None) -> dict[str, Any]:
    limit = limit or len(employees) or 1
    return {
        "success": True,
        "metadata": {"total_elements": len(employees), "current_page": offset // limit,
                     "total_pages": max(1, -(-len(employees) // limit))},
        "offset": offset, "limit": limit,
        "data": [{"type": "Employee", "attributes": e} for e in employees[offset:offset + limit]],
    }


@dataclass
class Faults:
    """Switches that make the sandbox misbehave the way the real service sometimes does."""

    error_rate: float = 0.0  # share of employee requests answered with a 5xx
    slow_seconds: float = 0.0  # delay before each employee request is answered
    slow_next: int = 0  # only the next N employee requests are slow (0: all, when slow_seconds is set)
    fail_offsets_once: set[int] = field(default_factory=set)  # these page offsets fail once with 500
    shift_total_by: int = 0  # total_elements reported off by this much after the first page…
    shift_total_reads: int = 1  # …in this many reads (a read starts with offset 0)
    revoke_after: int | None = None  # revoke every token after this many employee requests
    throttle_next: int = 0  # answer the next N employee requests with 429
    gate: threading.Event | None = None  # when set to an Event, employee requests wait until it is set


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


class PersonioSandbox(SourceSandbox):
    """The sandbox server. A context manager; ``url`` is its base URL on 127.0.0.1."""

    name = "personio"

    def __init__(self, employees: list[dict[str, Any]] | None = None, *, client_id: str | None = None,
                 client_secret: str | None = None, port: int = 0, allowed_attributes: set[str] | None = None,
                 rate_limit: bool = True, employees_per_minute: int = 300, burst_per_second: int = 15,
                 auth_per_minute: int = 60, seed: int = 0) -> None:
        self.employees: list[dict[str, Any]] = list(employees or [])
        self.client_id = client_id or "papi-sandbox-" + secrets.token_hex(4)
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.allowed_attributes = allowed_attributes
        self.rate_limit = rate_limit
        self.limits = _Limiter(employees_per_minute, burst_per_second)
        self.auth_limits = _Limiter(auth_per_minute, None)
        self.faults = Faults()
        self.tokens: set[str] = set()
        self.requests: list[dict[str, Any]] = []
        self.employee_requests = 0
        self._shifting = False
        self.lock = threading.RLock()
        self._rng = random.Random(seed)
        self._port = port
        self._server: ThreadingHTTPServer | None = None

    @classmethod
    def create(cls, *, employees: int = 200, seed: int = 1, data_file: str | None = None, **_: Any):
        data = load_list_response(data_file) if data_file else generate_employees(employees, seed=seed)
        return cls(data)

    def secrets(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.url}

    def people(self) -> list[dict[str, Any]]:
        keys = ("id", "email", "first_name", "last_name", "status")
        with self.lock:
            return [{k: (e.get(k) or {}).get("value") for k in keys} for e in self.employees]

    def add_person(self, **fields: Any) -> str:
        return str(self.add(**fields)["id"]["value"])

    def change_person(self, person_id: str, **fields: Any) -> None:
        self.change(int(person_id), **fields)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> PersonioSandbox:
        sandbox = self

        class Handler(_Handler):
            pass

        Handler.sandbox = sandbox
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="personio-sandbox", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> PersonioSandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the sandbox first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- data -------------------------------------------------------------------------

    def visible(self, employee: dict[str, Any]) -> dict[str, Any]:
        if self.allowed_attributes is None:
            return employee
        return {k: v for k, v in employee.items() if k == "id" or k in self.allowed_attributes}

    def find(self, employee_id: int) -> dict[str, Any] | None:
        return next((e for e in self.employees if e["id"]["value"] == employee_id), None)

    def change(self, employee_id: int, **values: Any) -> dict[str, Any]:
        """Change one employee's plain values (``birthday`` names the birthday attribute)."""
        with self.lock:
            employee = self.find(employee_id)
            if employee is None:
                raise KeyError(employee_id)
            for key, value in make_employee(**values).items():
                employee[key] = value
            return employee

    def add(self, **values: Any) -> dict[str, Any]:
        with self.lock:
            if "id" not in values:
                values["id"] = max((e["id"]["value"] for e in self.employees), default=999) + 1
            employee = make_employee(**values)
            self.employees.append(employee)
            return employee

    def remove(self, employee_id: int) -> None:
        with self.lock:
            self.employees = [e for e in self.employees if e["id"]["value"] != employee_id]

    def attribute_list(self) -> list[dict[str, Any]]:
        keys: dict[str, dict] = {}
        for employee in self.employees:
            for key, attr in self.visible(employee).items():
                keys.setdefault(key, attr)
        return [{"key": k, "label": a.get("label", k), "type": a.get("type", "standard"),
                 "universal_id": a.get("universal_id"), "options": []} for k, a in keys.items()]

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]


def _error(code: int, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    sandbox: PersonioSandbox
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # quiet: the request log is the record
        pass

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)
        url = urlsplit(self.path)
        with self.sandbox.lock:
            self.sandbox.requests.append({"method": self.command, "path": url.path, "query": url.query,
                                          "status": status, "app_id": self.headers.get("X-Personio-App-ID")})

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        return json.loads(raw or b"null")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/_sandbox/"):
            return self._admin("POST", url)
        if url.path == "/v1/auth":
            return self._auth()
        self._reply(404, _error(404, "Not found"))

    def do_PUT(self) -> None:
        self._admin("PUT", urlsplit(self.path))

    def do_PATCH(self) -> None:
        self._admin("PATCH", urlsplit(self.path))

    def do_DELETE(self) -> None:
        self._admin("DELETE", urlsplit(self.path))

    def _auth(self) -> None:
        sb = self.sandbox
        if sb.rate_limit and not sb.auth_limits.allow():
            return self._reply(429, _error(429, "Too many requests"))
        try:
            body = self._body() or {}
        except ValueError:
            return self._reply(400, _error(400, "Invalid JSON"))
        if body.get("client_id") != sb.client_id or body.get("client_secret") != sb.client_secret:
            return self._reply(403, _error(0, "Wrong credentials"))
        token = "papi-" + secrets.token_urlsafe(32)
        with sb.lock:
            sb.tokens.add(token)
        self._reply(200, {"success": True, "data": {"token": token, "expires_in": 86400,
                                                     "scope": "employees:read"}},
                    headers={"authorization": f"Bearer {token}"})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/_sandbox/"):
            return self._admin("GET", url)
        sb = self.sandbox
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return self._reply(401, _error(401, "Das Token fehlt. / The token is missing."))
        if auth.removeprefix("Bearer ") not in sb.tokens:
            return self._reply(403, _error(0, "Der Token ist ungültig. / The token is invalid."))
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
        if url.path == "/v1/company/employees/attributes":
            return self._reply(200, {"success": True, "data": sb.attribute_list()})
        if url.path == "/v1/company/employees":
            return self._list(parse_qs(url.query))
        tail = url.path.removeprefix("/v1/company/employees/")
        if tail.isdigit():
            employee = sb.find(int(tail))
            if employee is None:
                return self._reply(404, _error(404, "Employee not found"))
            return self._reply(200, {"success": True, "data": {"type": "Employee",
                                                                "attributes": sb.visible(employee)}})
        return self._reply(404, _error(404, "Not found"))

    def _list(self, query: dict[str, list[str]]) -> None:
        sb = self.sandbox
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
            employees = [sb.visible(e) for e in sb.employees]
            body = list_response(employees, offset, limit)
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
        parts = url.path.strip("/").split("/")[1:]
        try:
            body = self._body() if method in ("POST", "PUT", "PATCH") else None
        except ValueError:
            return self._reply(400, {"error": "invalid JSON"})
        if parts == ["requests"] and method == "GET":
            with sb.lock:
                return self._reply(200, list(sb.requests))
        if parts == ["requests"] and method == "DELETE":
            with sb.lock:
                sb.requests.clear()
            return self._reply(204, None)
        if parts == ["employees"] and method == "GET":
            return self._reply(200, list_response(sb.employees))
        if parts == ["employees"] and method == "PUT":
            with sb.lock:
                sb.employees = [item["attributes"] for item in body["data"]]
            return self._reply(200, {"count": len(sb.employees)})
        if parts == ["employees"] and method == "POST":
            return self._reply(201, sb.add(**body))
        if len(parts) == 2 and parts[0] == "employees" and parts[1].isdigit():
            employee_id = int(parts[1])
            if sb.find(employee_id) is None:
                return self._reply(404, {"error": f"no employee {employee_id}"})
            if method == "PATCH":
                return self._reply(200, sb.change(employee_id, **body))
            if method == "DELETE":
                sb.remove(employee_id)
                return self._reply(204, None)
        if parts == ["faults"] and method == "POST":
            with sb.lock:
                for key, value in body.items():
                    if not hasattr(sb.faults, key):
                        return self._reply(400, {"error": f"unknown fault {key}"})
                    setattr(sb.faults, key, set(value) if key == "fail_offsets_once" else value)
            return self._reply(200, {"ok": True})
        self._reply(404, {"error": "unknown admin endpoint"})
