"""The ``hrsync`` command line: the user-facing surface of DESIGN §5.

Each command builds a host (loading plugins), loads hosts.yaml when it needs one,
and calls into the engine, state or report modules. User-facing errors
(:class:`~hrsync.errors.HrsyncError`) print as one clear message; ``--debug`` adds
the traceback. Exit codes: 0 ok, 1 some people failed or were skipped for errors,
2 run stopped or invalid configuration.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import signal
import sys
import threading
from pathlib import Path

import click
from marshmallow.utils import missing

from . import __version__
from .config import config_path, load_config
from .connectors import RunContext
from .daemon import Daemon, connection_status
from .demo import run_demo
from .engine import RunOptions
from .errors import ConfigError, HrsyncError, RunError
from .host import Host, make_host
from .mailer import DeliveryError, build_message, probe_smtp
from .report import render_html, render_json, render_text
from .runner import prune_history, sync
from .sandbox import start_sandboxes, write_sandbox_config
from .secrets import REDACTOR
from .state import open_state

log = logging.getLogger("hrsync")


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(REDACTOR.filter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiosmtpd (the sandbox's SMTP capture) logs every SMTP command at INFO.
    logging.getLogger("mail.log").setLevel(logging.WARNING if level.upper() != "DEBUG" else logging.DEBUG)


def user_errors(fn):
    """Print HrsyncError as a clear message (traceback only with --debug) and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        try:
            return fn(*args, **kwargs)
        except HrsyncError as exc:
            if ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {REDACTOR.redact(str(exc))}", err=True)
            ctx.exit(getattr(exc, "exit_code", 2))

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hrsync")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="hosts.yaml to use (default ./hosts.yaml, or $HRSYNC_CONFIG).")
@click.option("--debug", is_flag=True, help="Log debug messages and show tracebacks.")
@click.option("--log-level", default=None, type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
              help="Log level on stderr (default: INFO for the daemon, WARNING otherwise).")
@click.pass_context
def cli(ctx: click.Context, config: str | None, debug: bool, log_level: str | None) -> None:
    """hrsync keeps the people records of downstream apps in step with the HR system of record."""
    ctx.ensure_object(dict)
    ctx.obj.update(config=config, debug=debug)
    default = "INFO" if ctx.invoked_subcommand == "daemon" else "WARNING"
    setup_logging("DEBUG" if debug else log_level or default)


def _host() -> Host:
    return make_host()


def _load(ctx: click.Context, host: Host):
    return load_config(config_path(ctx.obj["config"]), host)


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
    host = _host()
    rows = []
    for kind, classes in (("source", host.sources), ("sink", host.sinks)):
        for name, cls in classes.items():
            info = host.plugin_of(cls)
            rows.append({
                "name": name, "plugin": info.name, "kind": kind, "version": info.version,
                "distribution": info.distribution, "config": describe_schema(cls.ConfigSchema),
            })
    click.echo(json.dumps(rows, indent=2))


@cli.command()
@click.argument("connection", required=False)
@click.option("--offline", is_flag=True, help="Only validate the file; do not contact the services.")
@click.pass_context
@user_errors
def check(ctx: click.Context, connection: str | None, offline: bool) -> None:
    """Validate hosts.yaml (all problems at once), test each connection's credentials and the SMTP login."""
    host = _host()
    try:
        hosts = _load(ctx, host)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        ctx.exit(2)
    names = [connection] if connection else sorted(hosts.connections)
    for name in names:
        hosts.connection(name)
    click.echo(f"{hosts.path}: valid ({len(hosts.connections)} connection(s)).")
    if offline:
        return
    failed = False
    for name in names:
        conn = hosts.connections[name]
        for role, ref in (("source", conn.source), ("sink", conn.sink)):
            cls = host.source_class(ref.plugin) if role == "source" else host.sink_class(ref.plugin)
            try:
                with cls(ref.settings, RunContext(name)) as plugin:
                    plugin.check()
                click.echo(f"{name}: {role} {ref.plugin}: ok")
            except RunError as exc:
                failed = True
                click.echo(f"{name}: {role} {ref.plugin}: FAILED: {REDACTOR.redact(str(exc))}")
    if hosts.smtp is not None:
        try:
            probe_smtp(hosts.smtp)
            click.echo(f"host: smtp {hosts.smtp.host}:{hosts.smtp.port}: ok")
        except DeliveryError as exc:
            failed = True
            click.echo(f"host: smtp: FAILED: {REDACTOR.redact(str(exc))}")
    if failed:
        ctx.exit(2)


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
    host = _host()
    hosts = _load(ctx, host)
    conn = hosts.connection(connection)
    if not conn.enabled and not dry_run:
        raise RunError(f"Connection {connection!r} is disabled (enabled: false in {hosts.path}).",
                       connection=connection)
    # Ctrl-C or SIGTERM lets the person in flight finish and be recorded; a second Ctrl-C aborts.
    stop = threading.Event()

    def request_stop(signum, frame):
        stop.set()
        click.echo("Stopping after the person in flight (Ctrl-C again to abort)…", err=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    options = RunOptions(dry_run=dry_run, full=full, only=only, override_guards=override_guards,
                         should_stop=stop.is_set)
    result, delivery = sync(hosts, connection, host, options)
    report = result.to_dict()
    click.echo(render_json(report) if as_json else render_text(report, dry_run=dry_run))
    if not dry_run:
        click.echo(f"Report: {delivery.detail}", err=as_json)
    ctx.exit(result.exit_code)


@cli.command()
@click.option("--connection", help="Only this connection.")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def runs(ctx, connection, limit, as_json) -> None:
    """Run history: id, connection, started, duration, counts."""
    hosts = _load(ctx, _host())
    state = open_state(hosts.state, read_only=True)
    try:
        rows = state.runs(connection, limit)
    finally:
        state.close()
    keys = ["created", "updated", "deactivated", "unchanged", "skipped", "failed"]
    out = []
    for r in rows:
        out.append({"id": r["id"], "connection": r["connection"], "started": r["started_at"],
                    "duration_s": _duration(r), "status": r["status"],
                    **{k: r["counts"].get(k, 0) for k in keys}})
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{'id':>5}  {'connection':<16} {'started':<25} {'secs':>6}  {'status':<11} " + " ".join(
        f"{k[:7]:>7}" for k in keys))
    for r in out:
        secs = "" if r["duration_s"] is None else r["duration_s"]
        click.echo(f"{r['id']:>5}  {r['connection']:<16} {r['started']:<25} {secs:>6}  "
                   f"{r['status']:<11} " + " ".join(f"{r[k]:>7}" for k in keys))


def _duration(row: dict) -> float | None:
    if not row.get("ended_at"):
        return None
    start, end = dt.datetime.fromisoformat(row["started_at"]), dt.datetime.fromisoformat(row["ended_at"])
    return round((end - start).total_seconds(), 1)


@cli.command()
@click.argument("run_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "html", "eml", "json"]), default="text",
              help="eml: the report e-mail as it is sent.")
@click.pass_context
@user_errors
def report(ctx, run_id, fmt) -> None:
    """Show one run's report (uncapped lists)."""
    hosts = _load(ctx, _host())
    state = open_state(hosts.state, read_only=True)
    try:
        row = state.run(run_id)
    finally:
        state.close()
    if row is None or row["report"] is None:
        raise RunError(f"No finished run with id {run_id} in {hosts.state} (see hrsync runs).")
    stored = row["report"]
    if fmt == "json":
        click.echo(render_json(stored))
    elif fmt == "html":
        click.echo(render_html(stored, limit=100_000))
    elif fmt == "eml":
        conn = hosts.connections.get(stored.get("connection"))
        recipients = conn.report["recipients"] if conn else []
        sender = hosts.smtp.sender if hosts.smtp else "hrsync@localhost"
        click.echo(bytes(build_message(stored, sender, recipients or ["(no recipients configured)"])).decode())
    else:
        click.echo(render_text(stored, limit=100_000))


@cli.command()
@click.pass_context
@user_errors
def daemon(ctx) -> None:
    """Run every enabled connection on its schedule until SIGTERM/SIGINT (SIGHUP reloads hosts.yaml)."""
    ctx.exit(Daemon(config_path(ctx.obj["config"])).serve())


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def status(ctx, as_json) -> None:
    """Per connection: enabled, paused, last run, next scheduled run."""
    rows = connection_status(_load(ctx, _host()))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        last = r["last_run"]
        last_text = f"run {last['id']} {last['status']} at {last['started_at']}" if last else "never run"
        state = "disabled" if not r["enabled"] else "PAUSED" if r["paused"] else "enabled"
        click.echo(f"{r['connection']}: {state}; last {last_text}; next {r['next_run'] or '-'}")
        if r["paused"]:
            click.echo(f"  paused: {r['paused_reason']} — `hrsync resume {r['connection']}` when fixed")


@cli.command()
@click.argument("connection")
@click.pass_context
@user_errors
def resume(ctx, connection) -> None:
    """Lift the pause of a connection quarantined by the daemon after repeated failures."""
    hosts = _load(ctx, _host())
    hosts.connection(connection)
    state = open_state(hosts.state)
    try:
        lifted = state.resume(connection)
    finally:
        state.close()
    click.echo(f"{connection}: " + ("pause lifted; send SIGHUP to a running daemon to reschedule it."
                                     if lifted else "was not paused."))


@cli.command()
@click.option("--older-than", "days", type=click.IntRange(min=0), required=True, metavar="DAYS",
              help="Delete runs that started more than DAYS days ago.")
@click.pass_context
@user_errors
def prune(ctx, days) -> None:
    """Forget old run history (reports, change logs). Links and applied values are kept."""
    deleted = prune_history(_load(ctx, _host()), days)
    click.echo(f"Deleted {deleted} run(s) older than {days} day(s).")


class SandboxCommand(click.Command):
    """Adds ``--<name>-data FILE`` for each installed source sandbox (e.g. ``--personio-data``)."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        try:
            names = list(make_host().sandboxes("source"))
        except HrsyncError:
            names = []
        known = {p.name for p in params}
        extra = [click.Option([f"--{name}-data"], type=click.Path(exists=True, dir_okay=False), default=None,
                              help=f"Seed the {name} sandbox from this file (its own list-response format).")
                 for name in names if f"{name}_data" not in known]
        return params[:-1] + extra + params[-1:]  # keep --help last


@cli.command(cls=SandboxCommand)
@click.option("--employees", default=200, show_default=True, help="Generated people in the source sandbox.")
@click.option("--seed", default=1, show_default=True, help="Seed of the generated people.")
@click.option("--source", "source_name", help="Source sandbox to start (default personio).")
@click.option("--sink", "sink_name", help="Sink sandbox to start (default winningtemp).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line with URLs and credentials.")
@click.option("--write-config", type=click.Path(dir_okay=False), help="Write a ready hosts.yaml here.")
@click.pass_context
@user_errors
def sandbox(ctx, employees, seed, source_name, sink_name, as_json, write_config, **data_files) -> None:
    """Start the sandboxes on loopback and serve until SIGTERM/SIGINT."""
    host = _host()
    chosen = source_name or next(iter(host.sandboxes("source")), "")
    data_file = data_files.get(f"{chosen}_data")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    mail = Path(write_config).parent / "mail" if write_config else None
    with start_sandboxes(host, source=source_name, sink=sink_name, employees=employees, seed=seed,
                         data_file=data_file, mail_folder=mail) as running:
        info = {running.source.name: running.source.describe(), running.sink.name: running.sink.describe(),
                "smtp": {"host": "127.0.0.1", "port": running.smtp.port}}
        if write_config:
            info["config"] = str(write_sandbox_config(Path(write_config), running))
        if as_json:
            click.echo(json.dumps(info))
        else:
            for name, details in info.items():
                click.echo(f"{name}: {details}")
            click.echo("Serving until Ctrl-C (SIGINT) or SIGTERM.")
        sys.stdout.flush()
        stop.wait()


@cli.command()
@click.option("--employees", default=200, show_default=True, help="Generated people in the source sandbox.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated people.")
@click.option("--folder", type=click.Path(file_okay=False),
              help="Where to keep config, state and mail (default: a new temporary folder).")
@click.pass_context
@user_errors
def demo(ctx, employees, seed, folder) -> None:
    """A full end-to-end run on local sandboxes: no account needed."""
    ctx.exit(run_demo(_host(), employees=employees, seed=seed, folder=folder))


def main() -> None:
    cli(obj={})
