"""The sandbox contract: loopback stand-ins for the services connectors talk to.

One contract serves the plugin test harness (:mod:`hrsync.testing`), ``hrsync sandbox``,
``hrsync demo`` and the benchmarks. A plugin registers its :class:`Sandbox` subclasses
through the ``register_sandboxes`` hook, each named like the connector it stands in for:

* :class:`SourceSandbox` serves HR data and can change it (``people``, ``add_person``,
  ``change_person``, in standard field names);
* :class:`SinkSandbox` holds people and shows what it received (``held``, ``writes``,
  ``seed``, and the fault switches ``throttle`` (with ``busy_answers``) and ``reject``; a sandbox that
  cannot do them says so, naming the scenarios to leave out).

Every sandbox says which settings its connector needs (:meth:`Sandbox.connector_settings`)
and which ones it refuses (:meth:`Sandbox.bad_settings`). :class:`LoopbackServer` is the
shared lifecycle of sandboxes that serve on 127.0.0.1, and :func:`admin_answer` the
admin API they share (documented in docs/plugins.md); :mod:`.http` what their HTTP
servers share (keep-alive, latency, requests in flight).
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

from ..secrets import Secret
from .http import stop_serving


class LoopbackServer:
    """The lifecycle of a server on 127.0.0.1: start, stop, port, URLs, context manager.

    Subclasses build a ``socketserver`` server in :meth:`make_server` (it then runs in a
    daemon thread), or replace :meth:`serve` and :meth:`shutdown` for a server with its own
    thread (the SMTP capture). A sandbox lists it first among its bases
    (``class MySandbox(LoopbackServer, SourceSandbox)``) so its ``start``/``stop``/``url`` win.
    """

    scheme: ClassVar[str] = "http"

    def __init__(self, *, port: int = 0) -> None:
        self._port = port
        self._bound: int | None = None  # kept after stop(), so a test can still name the port it used
        self._running = False
        self._server: socketserver.BaseServer | None = None

    def make_server(self, port: int) -> socketserver.BaseServer:
        raise NotImplementedError

    def serve(self, port: int) -> int:
        """Start serving on ``port`` (0: any free one); returns the port bound."""
        self._server = server = self.make_server(port)
        # Polling once a second, not every 0.05 s: 200 sandboxes spent 6 % of a core on it; stop_serving() wakes it
        threading.Thread(target=lambda: server.serve_forever(poll_interval=1.0), name=type(self).__name__,
                         daemon=True).start()
        return self._server.server_address[1]

    def shutdown(self) -> None:
        if self._server is not None:
            stop_serving(self._server)
            self._server.server_close()
            self._server = None

    def start(self) -> Self:
        self._bound, self._running = self.serve(self._port), True
        return self

    def stop(self) -> None:
        if self._running:
            self.shutdown()
            self._running = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._bound is not None, "start the server first"
        return self._bound

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        """TCP connections accepted while running, for a server built on :class:`hrsync.sandbox.KeepAliveServer`."""
        return getattr(self._server, "connections", 0)

    @property
    def admin_url(self) -> str:
        """The admin API's root: always at the server's root, whatever path the service lives under."""
        return f"http://127.0.0.1:{self.port}/_sandbox"


class Sandbox:
    """A stand-in for the service of the connector named ``name``. A context manager."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""  # "source" or "sink"
    #: Options this sandbox adds to ``hrsync sandbox`` and ``hrsync demo``: keyword of ``create`` → help text
    #: (``{"scim_profile": "…"}`` becomes ``--scim-profile``). Values arrive as strings.
    cli_options: ClassVar[dict[str, str]] = {}
    #: True for a plugin's second sandbox of a kind: started only when named (``--sink NAME``).
    only_when_named: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if issubclass(cls, LoopbackServer) and cls.start is Sandbox.start:
            raise TypeError(f"{cls.__name__}: list LoopbackServer before {Sandbox.__name__} among the bases, or "
                            "its server never starts.")

    @classmethod
    def create(cls, **options: Any) -> Sandbox:
        """Build from ``hrsync sandbox`` options (``employees``, ``seed``, ``data_file``, the ``cli_options``);
        options meant for other sandboxes are ignored."""
        return cls()

    def start(self) -> Self:
        return self

    def stop(self) -> None:
        pass

    def __enter__(self) -> Self:
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
        """Connector settings this sandbox refuses (by default: every secret wrong). The harness asks for them
        when the connector has secrets (a :class:`~hrsync.SecretField`) or the sandbox overrides this."""
        secrets = self.secrets()
        if not secrets:
            raise NotImplementedError(f"{type(self).__name__} has no secrets to get wrong: override bad_settings() "
                                      "with settings its service refuses")
        return {**self.connector_settings(), **{key: Secret("wrong-" + value) for key, value in secrets.items()}}

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


#: The harness scenarios (:data:`hrsync.testing.SINK_SCENARIOS`) that need :meth:`SinkSandbox.throttle`, and
#: the one that needs :meth:`SinkSandbox.reject`: named in the errors of a sandbox that cannot do them.
THROTTLING_SCENARIOS = ("rate_limited_429_then_success", "unavailable_503_then_success")
REJECTING_SCENARIO = "one_failing_person_is_isolated"


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
        """Answer the next ``count`` requests as busy (429 or 503); :meth:`busy_answers` counts them."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot be throttled, so the harness cannot see the sink retry 429 and 503 "
            "answers: implement throttle() and busy_answers() in the sandbox, or pass scenarios=… to sink_tests "
            f"without the throttling scenarios ({', '.join(THROTTLING_SCENARIOS)}).")

    def busy_answers(self) -> int:
        """How many requests this sandbox has answered busy (429 or 503) so far. The harness calls
        :meth:`throttle` on a fresh sandbox, runs the sink, and checks that every busy answer was given."""
        raise NotImplementedError(
            f"{type(self).__name__} does not count its busy answers, so the harness cannot tell that throttle() "
            "throttled: implement busy_answers(), or pass scenarios=… to sink_tests without the throttling "
            f"scenarios ({', '.join(THROTTLING_SCENARIOS)}).")

    def reject(self, email: str) -> None:
        """Refuse writes for this person (a 4xx with a reason)."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot refuse one person: implement reject() in the sandbox, or pass "
            f"scenarios=… to sink_tests without {REJECTING_SCENARIO}.")

    def held_groups(self) -> list[dict[str, Any]]:
        """Every group held: ``external_id``, ``name`` and ``members`` (their e-mails, lower-cased, sorted)."""
        raise NotImplementedError(f"{type(self).__name__} cannot show its groups: implement held_groups(), or pass "
                                  "scenarios=… to sink_tests without the group scenarios (GROUP_SCENARIOS).")


def sandbox_factory(sandbox: type[Sandbox] | Callable[[], Sandbox]) -> Callable[[], Sandbox]:
    """How to make a sandbox from what a caller passed: a Sandbox class is built with its ``create()``
    (its defaults, as ``hrsync sandbox`` would), anything else is called as is."""
    if isinstance(sandbox, type) and issubclass(sandbox, Sandbox):
        return sandbox.create
    return sandbox


def set_faults(faults: Any, values: dict[str, Any]) -> None:
    """Set fault switches of a dataclass from JSON values; ``ValueError`` names unknown switches and a
    number switch given something else (then none is set)."""
    known = {f.name for f in fields(faults)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown faults {unknown}; known: {sorted(known)}")
    number = (int, float)
    for key, value in values.items():
        current = getattr(faults, key)
        if isinstance(current, number) and not isinstance(current, bool) and value is not None and (
                not isinstance(value, number) or isinstance(value, bool)):
            raise ValueError(f"{key} takes a number, not {value!r}")
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
