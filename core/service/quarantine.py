"""Quarantine, for the daemon and Celery workers: after ``host.daemon.quarantine_after`` stopped runs in a row, pause.

Data flow: the daemon and :mod:`hrsync.service.celery_app` call :func:`quarantine_if_due` after a run that stopped;
the pause is the state's, so ``hrsync status`` shows it, ``hrsync resume`` lifts it, a changed config
lifts it (:func:`config_fingerprint`), and one alert report goes to
the connection's recipients. ``hrsync schedule`` and the worker skip a paused connection.
"""

from __future__ import annotations

import hashlib
import json
import logging

from ..config.load import Config, ConnectionConfig
from ..errors import DeliveryError
from ..registry import Plugins
from ..report.mail import deliver
from ..results import STOPPED, RunReport
from ..state.store import State
from .metrics import write_metrics

log = logging.getLogger("hrsync.service.quarantine")

#: Run statuses that count towards quarantine: stopped by a run-level fault, or killed (crashed).
FAILED = ("stopped", "crashed")


def config_fingerprint(conn: ConnectionConfig) -> str:
    """A hash of a connection's config as written (secret references, never values): a pause holds while it
    is the same."""
    return hashlib.sha256(json.dumps(conn.raw, sort_keys=True, default=str).encode()).hexdigest()[:16]


def is_paused(state: State, config: Config, name: str) -> bool:
    """Whether ``name`` is paused; a pause whose connection's config changed since is lifted here."""
    row = next((r for r in state.pauses() if r["connection"] == name), None)
    if row is None:
        return False
    if row["config_hash"] != config_fingerprint(config.connection(name)):
        state.resume(name)
        log.info("%s: config changed; pause lifted", name)
        return False
    return True


def quarantine_if_due(state: State, config: Config, plugins: Plugins, name: str) -> str | None:
    """Pause ``name`` when its last ``quarantine_after`` runs all failed; the reason, or None."""
    after = config.daemon.quarantine_after
    recent = state.runs(name, limit=after)
    if len(recent) < after or any(r["status"] not in FAILED for r in recent):
        return None
    conn = config.connection(name)
    reason = f"{after} runs in a row stopped; last: {recent[0]['message'] or 'unknown'}"
    state.pause(name, reason, config_fingerprint(conn))
    write_metrics(config)  # monitoring sees the pause at once, as with the daemon's
    log.error("%s: paused (quarantined): %s. Fix the cause, then run `hrsync resume %s` or change its config.",
              name, reason, name)
    alert = RunReport(name, status=STOPPED, run_id=recent[0]["id"], timezone=config.timezone,
                      source=plugins.source_class(conn.source.name).label(),
                      sink=plugins.sink_class(conn.sink.name).label(),
                      stopped=f"The connection was paused after {reason}. No further runs happen until you "
                              f"fix the cause and run `hrsync resume {name}`, or change its configuration.")
    try:
        deliver(config, alert, conn.report.recipients, "always")
    except DeliveryError as exc:
        log.error("%s: pause alert not delivered: %s", name, exc)
    return reason
