"""Prometheus metrics of every connection, so monitoring sees the daemon (docs/daemon.md, "Monitoring").

Data flow: the state (read only: runs, deliveries, pauses) and hosts.yaml → :func:`collect` builds one
gauge family per fact, labelled by connection, in a registry of its own → :func:`write_metrics` writes it
in Prometheus' text format to ``host.metrics_file`` whole (a temporary file renamed over it, so
node_exporter's textfile collector never reads half a file), after each run (:mod:`.runner`), when the
daemon starts and when it pauses a connection; ``hrsync metrics`` prints the same text.
"""

from __future__ import annotations

import datetime as dt
import logging

from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from ..config.load import Config
from ..results import INTERRUPTED, OK, PARTIAL, STOPPED
from ..state.crashed import CRASHED
from ..state.places import StateFiles

log = logging.getLogger("hrsync.service.metrics")

#: Every status a finished run can have: each is a series (1 for the last run's, 0 for the others), so an
#: alert on ``status="stopped"`` sees its series exist before the first stop.
STATUSES = (OK, PARTIAL, STOPPED, INTERRUPTED, CRASHED)
#: Undelivered: SMTP refused the report (it waits in the outbox) or it could not even be saved.


def _seconds(stamp: str | None) -> float | None:
    return dt.datetime.fromisoformat(stamp).timestamp() if stamp else None


def collect(config: Config, files: StateFiles) -> CollectorRegistry:
    """The metrics of every configured connection, from its state (``files``: the one file, or its own)."""
    registry = CollectorRegistry()

    def gauge(name: str, text: str, *labels: str) -> Gauge:
        return Gauge(f"hrsync_{name}", text, ["connection", *labels], registry=registry)

    enabled = gauge("connection_enabled", "1 when the connection is enabled in hosts.yaml.")
    paused = gauge("connection_paused", "1 while the daemon has paused the connection after repeated failures.")
    undelivered = gauge("undelivered_reports", "Run reports not delivered (refused by SMTP: in the outbox; or lost).")
    last_end = gauge("last_run_timestamp_seconds", "When the connection's last finished run ended (Unix time).")
    duration = gauge("last_run_duration_seconds", "How long the connection's last finished run took.")
    status = gauge("last_run_status", "1 for the status of the connection's last finished run.", "status")
    people = gauge("last_run_people", "People per outcome in the connection's last finished run.", "outcome")
    success = gauge("last_success_timestamp_seconds",
                    "When the connection's last run that was not stopped (ok or partial) started (Unix time).")
    pauses = {row["connection"] for row in files.pauses()}
    for name, conn in sorted(config.connections.items()):
        state = files.of(name)
        enabled.labels(name).set(1 if conn.enabled else 0)
        paused.labels(name).set(1 if name in pauses else 0)
        undelivered.labels(name).set(len(state.undelivered(name)))
        last = next((r for r in state.runs(name, limit=5) if r["status"] != "running" and r["ended_at"]), None)
        if last is not None:
            ended, started = _seconds(last["ended_at"]), _seconds(last["started_at"])
            last_end.labels(name).set(ended)
            duration.labels(name).set(max(0.0, ended - started))
            for each in STATUSES:
                status.labels(name, each).set(1 if last["status"] == each else 0)
            for outcome, count in sorted(last["counts"].items()):
                people.labels(name, outcome).set(count)
        good = state.last_successful_run(name)
        if good is not None:
            success.labels(name).set(_seconds(good["started_at"]))
    return registry


def metrics_text(config: Config) -> str:
    """The metrics as Prometheus' text format (for ``hrsync metrics``)."""
    with StateFiles(config) as files:
        return generate_latest(collect(config, files)).decode()


def write_metrics(config: Config) -> None:
    """Write ``host.metrics_file`` whole, when one is set. Never raises: monitoring must not stop a run."""
    if config.metrics_file is None:
        return
    try:
        with StateFiles(config) as files:
            registry = collect(config, files)
        if config.partial:  # `hrsync run NAME` knows one connection: the others' series stay as they were
            registry = _with_others_kept(registry, config)
        config.metrics_file.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(config.metrics_file), registry)
    except Exception as exc:  # a full disk or an unwritable folder: say so and carry on
        log.error("metrics not written to %s: %s", config.metrics_file, exc)


class _Families:
    """A collector of metric families already built (those of the file merged with this run's)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def _with_others_kept(registry: CollectorRegistry, config: Config) -> CollectorRegistry:
    """``registry``'s series of the loaded connections, with every other connection's from the file as it is."""
    try:
        old = {f.name: f for f in text_string_to_metric_families(config.metrics_file.read_text(encoding="utf-8"))}
    except FileNotFoundError:
        old = {}
    families = []
    for family in registry.collect():
        kept = old.pop(family.name, None)
        family.samples += [s for s in (kept.samples if kept else []) if s.labels.get("connection")
                           not in config.connections]
        families.append(family)
    merged = CollectorRegistry()
    merged.register(_Families(families))
    return merged
