"""What ``hrsync check`` tests once hosts.yaml is valid: every connection's source and sink, and the SMTP server.

Data flow: :func:`plan_probes` turns the config into one :class:`Probe` per thing to test (a source's or a
sink's ``check()``, or the SMTP login and envelope for the probed connections' recipients) →
:func:`run_probes` runs them all at once in a thread pool, each with the short timeouts and no retries of
``RunContext.checking``, and hands each result to the caller as it arrives, so a service that hangs for its
whole timeout holds up only its own line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from ..config.load import Config
from ..connectors import RunContext
from ..errors import DeliveryError, RunError
from ..registry import Plugins
from ..report.mail import probe_smtp
from ..secrets import REDACTOR

#: Probes run at once; each mostly waits on the network, so this bounds sockets and threads, not CPU.
MAX_PARALLEL = 16


@dataclass
class Probe:
    """One thing ``check`` tests: ``where`` (a connection, or ``host``), ``what`` (``source personio``), and
    ``test``, which returns notes for the operator or raises with the problem."""

    where: str
    what: str
    test: Callable[[], list[str]]

    def run(self) -> dict[str, Any]:
        """The probe's result as ``check`` prints it (and ``--json`` lists it); secrets redacted."""
        problem, notes = None, []
        try:
            notes = self.test()
        except (RunError, DeliveryError) as exc:
            problem = REDACTOR.redact(str(exc))
        return {"where": self.where, "what": self.what, "ok": problem is None, "problem": problem,
                "notes": [REDACTOR.redact(n) for n in notes]}


def plan_probes(config: Config, plugins: Plugins, names: list[str]) -> list[Probe]:
    """Each named connection's source and sink, then the SMTP server with those connections' recipients."""
    probes = []
    for name in names:
        conn = config.connections[name]
        wanted = conn.wanted_source_fields(plugins.source_class(conn.source.name).key_field)
        for role, ref in (("source", conn.source), ("sink", conn.sink)):
            cls = plugins.source_class(ref.name) if role == "source" else plugins.sink_class(ref.name)
            probes.append(Probe(name, f"{role} {ref.name}", _connector_test(cls, ref.settings, name, wanted)))
    if config.smtp is not None:
        smtp = config.smtp
        recipients = sorted({r for name in names for r in config.connections[name].report.recipients})
        notes = ["the SMTP login travels unencrypted (allow_plaintext_auth)"] if smtp.allow_plaintext_auth else []
        if recipients:
            notes.append(f"recipients accepted (not sent to): {', '.join(recipients)}")

        def test_smtp() -> list[str]:
            probe_smtp(smtp, recipients)
            return notes

        probes.append(Probe("host", f"smtp {smtp.host}:{smtp.port}", test_smtp))
    return probes


def _connector_test(cls, settings: dict, connection: str, wanted: set[str] | None) -> Callable[[], list[str]]:
    def test() -> list[str]:
        # Answer in seconds: no retries, short timeouts (RunContext.network_limits).
        context = RunContext(connection, checking=True, wanted_fields=wanted)
        with cls(settings, context) as connector:
            connector.check()
        return context.warnings

    return test


def run_probes(probes: list[Probe]) -> Iterator[dict[str, Any]]:
    """Run every probe at once; yield each result as it arrives (a hung service delays only its own)."""
    if not probes:
        return
    with ThreadPoolExecutor(max_workers=min(len(probes), MAX_PARALLEL), thread_name_prefix="hrsync-check") as pool:
        for done in as_completed([pool.submit(probe.run) for probe in probes]):
            yield done.result()
