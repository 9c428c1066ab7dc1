"""The ``hrsync`` command line: every command an operator uses (docs/architecture.md, "The command line").

Each command loads the plugins (:func:`hrsync.registry.load_plugins`), loads hosts.yaml
when it needs one, and calls into the engine, state or report modules. Exit codes: 0 ok,
1 some people failed or were skipped for errors, 2 run stopped or invalid configuration.
Commands live here (sync and operations), in :mod:`hrsync.cli.history` (runs, report,
prune), in :mod:`hrsync.cli.sandbox` (sandbox, demo), in :mod:`hrsync.cli.workers` (worker,
schedule: Celery) and in :mod:`hrsync.cli.scaffold` (plugin new).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

import click
from marshmallow.utils import missing

from .. import __version__
from ..config.load import config_path
from ..connectors import RunContext
from ..errors import ConfigError, DeliveryError, RunError
from ..registry import load_plugins
from ..report.mail import probe_smtp
from ..report.render import local_time, render_json, render_text
from ..results import EXIT_REPORT
from ..secrets import REDACTOR
from ..service.daemon import Daemon, connection_status
from ..service.runner import run_and_report
from ..state.store import open_state
from ..sync.engine import RunOptions, tune_collector
from .common import HostTimeFormatter, TerminalProgress, global_options, load_for, setup_logging, user_errors
from .history import prune, report, runs
from .sandbox import demo, sandbox
from .scaffold import plugin
from .workers import schedule, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


def describe_schema(schema_cls) -> list[dict]:
    """A plugin's settings as `hrsync plugins` shows them (never a secret's default)."""
    out = []
    for name, fld in schema_cls().fields.items():
        default = fld.load_default() if callable(fld.load_default) else fld.load_default
        if default is missing or fld.metadata.get("secret"):
            default = None
        out.append({
            "name": fld.data_key or name,
            "type": type(fld).__name__,
            "required": bool(fld.required),
            "secret": bool(fld.metadata.get("secret")),
            "default": default,
            "description": fld.metadata.get("description", ""),
        })
    return out


@cli.command()
@click.pass_context
@user_errors
def plugins(ctx: click.Context) -> None:
    """List installed plugins as JSON: name, version, kind, config fields."""
    plugins = load_plugins()
    rows = []
    for kind, classes in (("source", plugins.sources), ("sink", plugins.sinks)):
        for name, cls in classes.items():
            info = plugins.plugin_of(cls)
            rows.append({
                "name": name, "plugin": info.name, "kind": kind, "version": info.version,
                "distribution": info.distribution, "config": describe_schema(cls.ConfigSchema),
            })
    click.echo(json.dumps(rows, indent=2))


@cli.command()
@click.argument("connection", required=False)
@click.option("--offline", is_flag=True, help="Only validate the file; do not contact the services.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
@user_errors
def check(ctx: click.Context, connection: str | None, offline: bool, as_json: bool) -> None:
    """Validate hosts.yaml (all problems at once), test each connection's credentials and the SMTP login."""
    plugins = load_plugins()
    try:
        config = load_for(ctx, plugins)
    except ConfigError as exc:
        if as_json:
            click.echo(json.dumps({"valid": False, "problems": exc.lines}, indent=2, ensure_ascii=False))
        else:
            click.echo(str(exc), err=True)
        ctx.exit(2)
    names = [connection] if connection else sorted(config.connections)
    for name in names:
        config.connection(name)
    results = [] if offline else [*_probe_connections(config, plugins, names), *_probe_smtp(config)]
    failed = any(not r["ok"] for r in results)
    if as_json:
        click.echo(json.dumps({"valid": True, "config": str(config.path), "results": results}, indent=2,
                              ensure_ascii=False))
    else:
        click.echo(f"{config.path}: valid ({len(config.connections)} connection(s)).")
        for r in results:
            click.echo(f"{r['where']}: {r['what']}: " + ("ok" if r["ok"] else f"FAILED: {r['problem']}"))
            for note in r["notes"]:
                click.echo(f"  note: {note}")
    if failed:
        ctx.exit(2)


def _probe_connections(config, plugins, names: list[str]):
    """Each connection's source and sink, probed as ``check()`` does: in seconds, no retries."""
    for name in names:
        conn = config.connections[name]
        wanted = conn.wanted_source_fields(plugins.source_class(conn.source.name).key_field)
        for role, ref in (("source", conn.source), ("sink", conn.sink)):
            cls = plugins.source_class(ref.name) if role == "source" else plugins.sink_class(ref.name)
            context = RunContext(name, checking=True, wanted_fields=wanted)
            problem = None
            try:
                with cls(ref.settings, context) as connector:
                    connector.check()
            except RunError as exc:
                problem = REDACTOR.redact(str(exc))
            yield {"where": name, "what": f"{role} {ref.name}", "ok": problem is None, "problem": problem,
                   "notes": [REDACTOR.redact(n) for n in context.warnings] if problem is None else []}


def _probe_smtp(config):
    if config.smtp is None:
        return
    problem = None
    try:
        probe_smtp(config.smtp)
    except DeliveryError as exc:
        problem = REDACTOR.redact(str(exc))
    notes = ["the SMTP login travels unencrypted (allow_plaintext_auth)"] if config.smtp.allow_plaintext_auth else []
    yield {"where": "host", "what": f"smtp {config.smtp.host}:{config.smtp.port}", "ok": problem is None,
           "problem": problem, "notes": notes}


@cli.command()
@click.argument("connection")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing to the sink or the state.")
@click.option("--full", is_flag=True, help="Re-read the sink and repair drift in mapped fields.")
@click.option("--only", metavar="EMAIL", help="Run for one person only (provision on demand).")
@click.option("--override-guards", is_flag=True, help="Allow, this once, what a guard stopped.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@user_errors
def run(ctx, connection, dry_run, full, only, override_guards, as_json) -> None:
    """Sync one connection now. Exit 0 all applied, 1 some people failed/skipped, 2 stopped."""
    plugins = load_plugins()
    config = load_for(ctx, plugins)
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
        click.echo("Stopping after the writes in flight (Ctrl-C again to abort)…", err=True)

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
        os._exit(130)
    finally:
        if progress is not None:
            progress.close()
    click.echo(render_json(result.report) if as_json else render_text(result.report))
    if not dry_run:
        click.echo(f"Report: {delivery.detail}", err=as_json)
    # A run whose report did not arrive is not a success: exit 3 unless the run already said worse.
    ctx.exit(result.exit_code or (EXIT_REPORT if not dry_run and not delivery.delivered else 0))


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
    """Per connection: enabled, paused, last run, next scheduled run."""
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
        if last and last.get("delivery") in ("failed", "lost"):
            click.echo(f"  report not delivered: {last['delivery_detail']}")
        if r["paused"]:
            click.echo(f"  paused: {r['paused_reason']} — `hrsync resume {r['connection']}` when fixed")


@cli.command()
@click.argument("connection")
@click.pass_context
@user_errors
def resume(ctx, connection) -> None:
    """Lift the pause of a connection quarantined by the daemon after repeated failures."""
    config = load_for(ctx, load_plugins())
    config.connection(connection)
    state = open_state(config.state, busy_timeout=config.busy_timeout)
    try:
        lifted = state.resume(connection)
    finally:
        state.close()
    click.echo(f"{connection}: " + ("pause lifted; send SIGHUP to a running daemon to reschedule it."
                                     if lifted else "was not paused."))


for command in (runs, report, prune, sandbox, demo, worker, schedule):
    cli.add_command(command)
for command in cli.commands.values():
    command.params.extend(global_options())
cli.add_command(plugin)  # reads no hosts.yaml: no --config


def main() -> None:
    cli(obj={})
