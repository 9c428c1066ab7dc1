"""One complete sync of one connection, as the CLI and the daemon run it: run, then report.

Data flow: :func:`sync` runs the engine (:func:`hrsync.engine.run_connection`), then
delivers the stored report (:func:`hrsync.mailer.deliver`) - also, and especially,
when the run stopped at run level. A failed delivery is logged and returned; it never
changes the run's outcome.
"""

from __future__ import annotations

import logging

from .config import HostsConfig
from .engine import RunOptions, RunResult, run_connection
from .host import Host
from .mailer import Delivery, DeliveryError, deliver

log = logging.getLogger("hrsync.runner")


def sync(hosts: HostsConfig, name: str, host: Host, options: RunOptions | None = None) -> tuple[RunResult, Delivery]:
    options = options or RunOptions()
    result = run_connection(hosts, name, host, options)
    if options.dry_run:
        return result, Delivery("skipped", "dry run: no report is sent")
    conn = hosts.connection(name)
    try:
        delivery = deliver(hosts, result.to_dict(), conn.report["recipients"], conn.report["send"])
    except DeliveryError as exc:
        log.error("%s: report not delivered: %s", name, exc)
        delivery = Delivery("failed", str(exc))
    log.info("%s: run %s %s; %s", name, result.run_id, result.status, delivery.detail)
    return result, delivery
