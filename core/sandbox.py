"""The sandbox contract: loopback stand-ins for the services connectors talk to.

One contract serves the plugin test harness (:mod:`hrsync.testing`), ``hrsync sandbox``,
``hrsync demo`` and the benchmarks. A plugin registers its :class:`Sandbox` subclasses
through the ``register_sandboxes`` hook, each named like the connector it stands in for:

* :class:`SourceSandbox` serves HR data and can change it (``people``, ``add_person``,
  ``change_person``, in standard field names);
* :class:`SinkSandbox` holds people and shows what it received (``held``, ``writes``,
  ``seed``, and the fault switches ``throttle`` and ``reject``).

Every sandbox says which settings its connector needs (:meth:`Sandbox.connector_settings`)
and which ones it refuses (:meth:`Sandbox.bad_settings`). :class:`LoopbackServer` is the
shared lifecycle of sandboxes that serve on 127.0.0.1, and :func:`admin_answer` the
admin API they share (documented in docs/plugins.md).
"""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .secrets import Secret


class Sandbox:
    """A stand-in for the service of the connector named ``name``. A context manager."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""  # "source" or "sink"
    #: Options this sandbox adds to ``hrsync sandbox`` and ``hrsync demo``: keyword of ``create`` → help text
    #: (``{"scim_profile": "…"}`` becomes ``--scim-profile``). Values arrive as strings.
    cli_options: ClassVar[dict[str, str]] = {}

    @classmethod
    def create(cls, **options: Any) -> Sandbox:
        """Build from ``hrsync sandbox`` options (``employees``, ``seed``, ``data_file``, the ``cli_options``);
        options meant for other sandboxes are ignored."""
        return cls()

    def start(self) -> Sandbox:
        return self

    def stop(self) -> None:
        pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Where the sandbox serves (empty when it is not a server)."""
        return ""

    def settings(self) -> dict[str, Any]:
        """The connector's non-secret settings for this sandbox (``base_url``, …)."""
        return {}

    def secrets(self) -> dict[str, str]:
        """The connector's secret settings for this sandbox: setting name → value."""
        return {}

    def test_settings(self) -> dict[str, Any]:
        """Extra settings that keep tests fast (short back-offs, no pacing); not used by ``hrsync sandbox``."""
        return {}

    def connector_settings(self) -> dict[str, Any]:
        """Everything a test passes to the connector: settings, secrets as :class:`hrsync.Secret`, test settings."""
        secret = {key: Secret(value) for key, value in self.secrets().items()}
        return {**self.settings(), **secret, **self.test_settings()}

    def bad_settings(self) -> dict[str, Any]:
        """Connector settings this sandbox refuses (by default: every secret wrong)."""
        wrong = {key: Secret("wrong-" + value) for key, value in self.secrets().items()}
        return {**self.connector_settings(), **wrong}

    def describe(self) -> dict[str, Any]:
        """What ``hrsync sandbox --json`` prints for it (URL and credentials)."""
        return {**self.settings(), **self.secrets()}


class SourceSandbox(Sandbox):
    """A source's service, whose HR data can be changed (standard field names), e.g. by the demo."""

    kind: ClassVar[str] = "source"

    def people(self) -> list[dict[str, Any]]:
        """Everyone the service holds: at least ``id``, ``email``, ``first_name``, ``last_name``, ``status``."""
        raise NotImplementedError

    def add_person(self, **fields: Any) -> str:
        """Hire someone; returns their id."""
        raise NotImplementedError

    def change_person(self, person_id: str, **fields: Any) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Write:
    """One write a sink sandbox received: ``create``, ``update`` (with its fields), ``deactivate`` or ``delete``."""

    kind: str
    fields: frozenset[str] = frozenset()


class SinkSandbox(Sandbox):
    """A sink's service, observed from its own side: what it holds and which writes reached it."""

    kind: ClassVar[str] = "sink"

    def held(self) -> list[dict[str, Any]]:
        """Everyone held, in standard field names (``email``, ``first_name``, ``last_name``, ``active``)."""
        raise NotImplementedError

    def writes(self) -> list[Write]:
        """Writes received since the last :meth:`clear` (requests refused as busy do not count)."""
        raise NotImplementedError

    def clear(self) -> None:
        """Forget the writes received so far."""
        raise NotImplementedError

    def seed(self, records: list[dict[str, Any]]) -> None:
        """Hold these people already (standard field names), without counting writes."""
        raise NotImplementedError

    def throttle(self, count: int, status: int) -> None:
        """Answer the next ``count`` requests as busy (429 or 503)."""
        raise NotImplementedError

    def reject(self, email: str) -> None:
        """Refuse writes for this person (a 4xx with a reason)."""
        raise NotImplementedError


class LoopbackServer:
    """The lifecycle of a sandbox that serves on 127.0.0.1: start, stop, port, context manager.

    Subclasses build the server in :meth:`make_server`; it runs in a daemon thread. List it
    first among the bases (``class MySandbox(LoopbackServer, SourceSandbox)``) so its
    ``start``/``stop``/``url`` win.
    """

    def __init__(self, *, port: int = 0) -> None:
        self._port = port
        self._server: socketserver.BaseServer | None = None

    def make_server(self, port: int) -> socketserver.BaseServer:
        raise NotImplementedError

    def start(self):
        self._server = self.make_server(self._port)
        threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start the server first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def set_faults(faults: Any, values: dict[str, Any]) -> None:
    """Set fault switches of a dataclass from JSON values; ``ValueError`` names unknown switches."""
    known = {f.name for f in fields(faults)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown faults {unknown}; known: {sorted(known)}")
    for key, value in values.items():
        current = getattr(faults, key)
        if isinstance(current, (set, frozenset)):
            value = type(current)(v.lower() if isinstance(v, str) else v for v in value)
        setattr(faults, key, value)


def admin_answer(sandbox: Any, method: str, path: str, body: Any) -> tuple[int, Any] | None:
    """The admin endpoints every server sandbox shares; None when ``path`` is not one of them.

    ``sandbox`` has ``requests`` (the request log), ``faults`` (a dataclass of switches),
    ``lock`` and ``clear_log()``. Answers are ``(status, JSON body or None)``.
    """
    if path == "/_sandbox/requests" and method == "GET":
        with sandbox.lock:
            return 200, list(sandbox.requests)
    if path == "/_sandbox/requests" and method == "DELETE":
        sandbox.clear_log()
        return 204, None
    if path == "/_sandbox/faults" and method == "POST":
        if not isinstance(body, dict):
            return 400, {"error": "expected a JSON object of fault switches"}
        try:
            with sandbox.lock:
                set_faults(sandbox.faults, body)
        except ValueError as exc:
            return 400, {"error": str(exc)}
        return 204, None
    return None
