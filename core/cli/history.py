"""``hrsync runs``, ``hrsync report`` and ``hrsync prune``: the run history kept in the state.

A report sent again (``report N --send``) leaves the outbox (:func:`hrsync.report.outbox.clear_sent`);
``prune`` asks before it deletes on a terminal, and deletes elsewhere only with ``--yes``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from ..errors import DeliveryError, UsageError
from ..registry import load_plugins
from ..report.mail import build_message, send_smtp
from ..report.outbox import clear_sent
from ..report.render import local_time, render_html, render_json, render_text
from ..state.places import StateFiles, open_connection_state
from .common import complete_connection, complete_run_id, load_for, user_errors


@click.command()
@click.option("--connection", help="Only this connection.", shell_complete=complete_connection)
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def runs(ctx, connection, limit, as_json) -> None:
    """Run history: id, connection, started, duration, counts."""
    config = load_for(ctx, load_plugins())
    with StateFiles(config) as files:
        rows = files.runs(connection, limit)
    if connection is not None and not rows and connection not in config.connections:  # a typo, not "no runs yet"
        config.connection(connection)
    keys = ["created", "updated", "deactivated", "unchanged", "skipped", "failed"]
    out = []
    for r in rows:
        out.append({"id": r["id"], "connection": r["connection"], "started": r["started_at"],
                    "duration_s": _duration(r), "status": r["status"],
                    **{k: r["counts"].get(k, 0) for k in keys}})
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{'id':>5}  {'connection':<16} {'started':<21} {'secs':>6}  {'status':<11} " + " ".join(
        f"{k[:7]:>7}" for k in keys))
    for r in out:
        secs = "" if r["duration_s"] is None else r["duration_s"]
        started = local_time(r["started"], config.timezone)
        click.echo(f"{r['id']:>5}  {r['connection']:<16} {started:<21} {secs:>6}  "
                   f"{r['status']:<11} " + " ".join(f"{r[k]:>7}" for k in keys))


def _duration(row: dict) -> float | None:
    if not row.get("ended_at"):
        return None
    start, end = dt.datetime.fromisoformat(row["started_at"]), dt.datetime.fromisoformat(row["ended_at"])
    return round((end - start).total_seconds(), 1)


@click.command()
@click.argument("run_id", type=int, shell_complete=complete_run_id)
@click.option("--format", "fmt", type=click.Choice(["text", "html", "eml", "json"]), default="text",
              help="eml: the report e-mail as it is sent.")
@click.option("--send", is_flag=True, help="E-mail the report (again) to the connection's recipients.")
@click.option("--connection", shell_complete=complete_connection,
              help="The connection whose run it is (needed when each connection has its own state file and "
                   "several have a run of this id).")
@click.pass_context
@user_errors
def report(ctx, run_id, fmt, send, connection) -> None:
    """Show one run's report (uncapped lists), or send it again."""
    config = load_for(ctx, load_plugins())
    with StateFiles(config) as files:
        row = files.run(run_id, connection)
    if row is None or row["report"] is None:
        where = config.state_dir if config.state_dir is not None else config.state
        raise UsageError(f"No finished run with id {run_id} in {where} (see hrsync runs).")
    stored = row["report"]
    if send:
        return _send_again(config, stored)
    if fmt == "json":
        click.echo(render_json(stored))
    elif fmt == "html":
        click.echo(render_html(stored, limit=100_000))
    elif fmt == "eml":
        conn = config.connections.get(stored.connection)
        recipients = conn.report.recipients if conn else ()
        sender = config.smtp.sender if config.smtp else "hrsync@localhost"
        click.echo(bytes(build_message(stored, sender, recipients or ["(no recipients configured)"])).decode())
    else:
        click.echo(render_text(stored, limit=100_000))


def _send_again(config, stored) -> None:
    if config.smtp is None:
        raise DeliveryError(f"host.smtp is not configured in {config.path}, so hrsync cannot e-mail the report; "
                            f"it is in {config.outbox}.")
    conn = config.connections.get(stored.connection)
    recipients = conn.report.recipients if conn else ()
    if not recipients:
        raise DeliveryError(f"Connection {stored.connection!r} has no report.recipients in {config.path}.")
    send_smtp(build_message(stored, config.smtp.sender, recipients), config.smtp)
    detail = f"report e-mailed to {', '.join(recipients)} (sent again)"
    with open_connection_state(config, stored.connection) as state:
        state.record_delivery(stored.run_id, "sent", detail)
    cleared = clear_sent(config.outbox, stored.connection, stored.run_id)
    click.echo(f"Run {stored.run_id}: {detail}" + (f"; removed from the outbox: {', '.join(p.name for p in cleared)}"
                                                   if cleared else "") + ".")


@click.command()
@click.option("--older-than", "days", type=click.IntRange(min=0), required=True, metavar="DAYS",
              help="Delete runs that started more than DAYS days ago.")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking (for scripts: needed when not on a terminal).")
@click.pass_context
@user_errors
def prune(ctx, days, dry_run, yes) -> None:
    """Forget old run history (reports, change logs). Links and applied values are kept.

    On a terminal it asks first; without one (cron, scripts) it deletes only with --yes.
    """
    config = load_for(ctx, load_plugins())
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with StateFiles(config, read_only=dry_run) as files:
        found = [(state, state.prunable(cutoff, name)) for name, state in files.every()]
        ids = [run_id for _, each in found for run_id in each]
        what = (f"{len(ids)} run(s) older than {days} day(s) (runs {', '.join(map(str, ids[:10]))}"
                f"{', …' if len(ids) > 10 else ''}): their reports and change logs; links and applied values stay")
        if dry_run:
            click.echo(f"Would delete {what}." if ids else f"Nothing is older than {days} day(s).")
            return
        if ids and not yes:
            if not sys.stdin.isatty():
                raise UsageError(f"prune would delete {what}. Not on a terminal, so nobody can confirm: add --yes "
                                 "(see them first with --dry-run).")
            if not click.confirm(f"Delete {what}?", default=False):
                click.echo("Nothing deleted.")
                return
        deleted = sum(state.delete_runs(each) for state, each in found)
    click.echo(f"Deleted {deleted} run(s) older than {days} day(s).")
