"""The ``hrsync`` command line: every command an operator uses (docs/architecture.md, "The command line").

Each command loads the plugins (:func:`hrsync.registry.load_plugins`), loads hosts.yaml
when it needs one, and calls into the engine, state or report modules. Exit codes: one per outcome
(:data:`hrsync.errors.EXIT_CODES`, :mod:`hrsync.cli.exits`).
Commands live here (sync and operations), in :mod:`hrsync.cli.history` (runs, report,
prune), in :mod:`hrsync.cli.person` (person), in :mod:`hrsync.cli.sandbox` (sandbox, demo), in
:mod:`hrsync.cli.workers` (worker, schedule: Celery), in :mod:`hrsync.cli.scaffold` (plugin new) and in
:mod:`hrsync.cli.state` (state split).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading

import click

from .. import __version__
from ..config.load import config_path
from ..errors import EXIT_ABORTED, EXIT_CONFIG, ConfigError, RunError
from ..registry import load_plugins
from ..report.render import local_time, render_json, render_text
from ..secrets import unresolved_secrets
from ..service.daemon import Daemon, connection_status
from ..service.metrics import metrics_text
from ..service.runner import run_and_report, run_exit_code
from ..state.places import open_connection_state
from ..sync.engine import RunOptions, tune_collector
from .common import (
    HostTimeFormatter,
    TerminalProgress,
    complete_connection,
    global_options,
    load_for,
    red,
    setup_logging,
    user_errors,
)
from .exits import HrsyncGroup, exit_codes_epilog
from .history import prune, report, runs
from .person import person
from .plugins import plugins
from .probes import plan_probes, run_probes
from .sandbox import demo, sandbox
from .scaffold import plugin
from .state import state
from .workers import schedule, worker


@click.group(cls=HrsyncGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=exit_codes_epilog())
@click.version_option(__version__, prog_name="hrsync")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="hosts.yaml to use (default ./hosts.yaml, or $HRSYNC_CONFIG).")
@click.option("--debug", is_flag=True, envvar="HRSYNC_DEBUG", help="Log debug messages and show tracebacks.")
@click.option("--log-level", default=None, type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
              envvar="HRSYNC_LOG_LEVEL",
              help="Log level on stderr (default: INFO for the daemon, WARNING otherwise).")
@click.pass_context
def cli(ctx: click.Context, config: str | None, debug: bool, log_level: str | None) -> None:
    """hrsync keeps the people records of downstream apps in step with the HR system of record."""
    ctx.ensure_object(dict)
    ctx.obj.update(config=config, debug=debug)
    tune_collector()
    default = "INFO" if ctx.invoked_subcommand in ("daemon", "worker", "schedule") else "WARNING"
    setup_logging("DEBUG" if debug else log_level or default)


@cli.command()
@click.argument("connection", required=False, shell_complete=complete_connection)
@click.option("--offline", is_flag=True,
              help="Only validate the file and its references; contact no service, read no secret's value.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
@user_errors
def check(ctx: click.Context, connection: str | None, offline: bool, as_json: bool) -> None:
    """Validate hosts.yaml (all problems at once), test each connection's credentials and the SMTP login."""
    plugins = load_plugins()
    try:
        with unresolved_secrets() if offline else contextlib.nullcontext([]) as unresolved:
            config = load_for(ctx, plugins)
    except ConfigError as exc:
        if as_json:
            click.echo(json.dumps({"valid": False, "problems": exc.lines}, indent=2, ensure_ascii=False))
        else:
            click.echo(str(exc), err=True)
        ctx.exit(EXIT_CONFIG)
    names = [connection] if connection else sorted(config.connections)
    for name in names:
        config.connection(name)
    probes = [] if offline else plan_probes(config, plugins, names)
    if not as_json:
        click.echo(f"{config.path}: valid ({len(config.connections)} connection(s)).")
        for note in unresolved:
            click.echo(f"note: {note}")
    results = []
    for r in run_probes(probes):  # in order of arrival: a hung service holds up only its own line
        results.append(r)
        if not as_json:
            click.echo(f"{r['where']}: {r['what']}: " + ("ok" if r["ok"] else f"{red('FAILED')}: {r['problem']}"))
            for note in r["notes"]:
                click.echo(f"  note: {note}")
    failed = [r for r in results if not r["ok"]]
    if as_json:
        order = [(p.where, p.what) for p in probes]
        results.sort(key=lambda r: order.index((r["where"], r["what"])))
        click.echo(json.dumps({"valid": True, "config": str(config.path), "results": results,
                               "notes": unresolved}, indent=2, ensure_ascii=False))
    elif results:
        click.echo(f"{len(failed)} of {len(results)} checks FAILED." if failed else f"All {len(results)} checks ok.")
    if failed:
        ctx.exit(2)


@cli.command(epilog=exit_codes_epilog())
@click.argument("connection", shell_complete=complete_connection)
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing to the sink or the state.")
@click.option("--full", is_flag=True, help="Re-read the sink and repair drift in mapped fields.")
@click.option("--only", metavar="EMAIL", help="Run for one person only (provision on demand).")
@click.option("--override-guards", is_flag=True, help="Allow, this once, what a guard stopped.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@user_errors
def run(ctx, connection, dry_run, full, only, override_guards, as_json) -> None:
    """Sync one connection now (exit codes below; an undelivered report outranks the run's own outcome)."""
    plugins = load_plugins()
    config = load_for(ctx, plugins, only=connection)  # `check` validates every connection
    conn = config.connection(connection)
    if not conn.enabled and not dry_run:
        raise RunError(f"Connection {connection!r} is disabled (enabled: false in {config.path}).",
                       connection=connection)
    # Ctrl-C or SIGTERM lets the writes in flight finish and be recorded; a second Ctrl-C aborts.
    stop = threading.Event()
    signals: list[int] = []

    def request_stop(signum, frame):
        # A second signal can run this handler again before the first call returns: the count comes first
        # and takes no lock (Event.set does), so a nested call never waits on the call it interrupted.
        signals.append(signum)
        if len(signals) > 1:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        stop.set()
        text = "Stopping after the writes in flight (Ctrl-C again to abort)…"
        if progress is not None:
            progress.message(text)  # below the bar, never on its line
        else:
            click.echo(text, err=True)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    progress = None
    if sys.stderr.isatty() and not as_json:
        progress = TerminalProgress(plugins.source_class(conn.source.name).label(),
                                    plugins.sink_class(conn.sink.name).label())
    options = RunOptions(dry_run=dry_run, full=full, only=only, override_guards=override_guards,
                         should_stop=stop.is_set, progress=progress)
    try:
        result, delivery = run_and_report(config, connection, plugins, options)
    except KeyboardInterrupt:
        # The second Ctrl-C: leave now, as a kill would, without waiting for the requests still out (their
        # threads would hold the exit up to the read timeout). The next run repairs what was in flight.
        if progress is not None:
            progress.close()
        click.echo("Aborted. The next run finishes the work and repairs the writes that were in flight.", err=True)
        sys.stderr.flush()
        os._exit(EXIT_ABORTED)
    finally:
        if progress is not None:
            progress.close()
    click.echo(render_json(result.report) if as_json else render_text(result.report, config=config.path))
    if not dry_run:
        click.echo(f"Report: {delivery.detail}", err=as_json)
    ctx.exit(run_exit_code(result.exit_code, delivery.delivered))


@cli.command()
@click.pass_context
@user_errors
def daemon(ctx) -> None:
    """Run every enabled connection on its schedule until SIGTERM/SIGINT (SIGHUP reloads hosts.yaml)."""
    daemon = Daemon(config_path(ctx.obj["config"]))
    HostTimeFormatter.timezone = daemon.config.timezone  # log lines in the host's time, like its reports
    ctx.exit(daemon.serve())


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def status(ctx, as_json) -> None:
    """Per connection: enabled, paused, last run, next scheduled run, and every report not delivered."""
    config = load_for(ctx, load_plugins())
    rows = connection_status(config)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        last = r["last_run"]
        last_text = (f"run {last['id']} {last['status']} at {local_time(last['started_at'], config.timezone)}"
                     if last else "never run")
        r["next_run"] = r["next_run"] and local_time(r["next_run"], config.timezone)
        state = "disabled" if not r["enabled"] else "PAUSED" if r["paused"] else "enabled"
        click.echo(f"{r['connection']}: {state}; last {last_text}; next {r['next_run'] or '-'}")
        for lost in r["undelivered"]:
            when = local_time(lost["started_at"], config.timezone)
            click.echo(f"  report not delivered (run {lost['id']}, {when}): {lost['delivery_detail']}")
        if r["paused"]:
            click.echo(f"  paused: {r['paused_reason']} — `hrsync resume {r['connection']}` when fixed")


@cli.command()
@click.pass_context
@user_errors
def metrics(ctx) -> None:
    """Print every connection's Prometheus metrics (what runs write to host.metrics_file)."""
    click.echo(metrics_text(load_for(ctx, load_plugins())), nl=False)


@cli.command()
@click.argument("connection", shell_complete=complete_connection)
@click.pass_context
@user_errors
def resume(ctx, connection) -> None:
    """Lift the pause of a connection quarantined by the daemon after repeated failures."""
    config = load_for(ctx, load_plugins(), only=connection)
    config.connection(connection)
    state = open_connection_state(config, connection)
    try:
        lifted = state.resume(connection)
    finally:
        state.close()
    click.echo(f"{connection}: " + ("pause lifted; send SIGHUP to a running daemon to reschedule it."
                                     if lifted else "was not paused."))


for command in (plugins, runs, report, prune, person, sandbox, demo, worker, schedule):
    cli.add_command(command)
for command in cli.commands.values():
    command.params.extend(global_options())
cli.add_command(plugin)  # reads no hosts.yaml: no --config
cli.add_command(state)  # its command takes --config


def main() -> None:
    cli(obj={})
