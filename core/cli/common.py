"""What every ``hrsync`` command shares: logging set-up, user-facing errors, loading hosts.yaml, the
terminal's progress and colour, and shell completion of connection names and run ids.

User-facing errors (:class:`~hrsync.errors.HrsyncError`) print as one clear line (secrets
redacted) and exit with the error's code (:data:`hrsync.errors.EXIT_CODES`); ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import sqlite3
import sys
import time
import zoneinfo

import click
from click.shell_completion import CompletionItem

from ..config.load import Config, config_path, load_config
from ..errors import EXIT_LOCKED, HrsyncError
from ..printable import PrintableFilter, printable
from ..registry import Plugins, load_plugins
from ..secrets import REDACTOR, unresolved_secrets
from ..state.locking import is_locked
from ..state.places import StateFiles


class HostTimeFormatter(logging.Formatter):
    """Log times in the host's time zone (``host.timezone``) with its abbreviation, like reports show them."""

    timezone = "UTC"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = dt.datetime.fromtimestamp(record.created, zoneinfo.ZoneInfo(type(self).timezone))
        return moment.strftime("%Y-%m-%d %H:%M:%S %Z")


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(HostTimeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(REDACTOR.filter())
    handler.addFilter(PrintableFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiosmtpd (the sandbox's SMTP capture) logs every SMTP command at INFO; urllib3 logs each retry as a
    # WARNING, which hrsync's own messages already sum up.
    debug = level.upper() == "DEBUG"
    logging.getLogger("mail.log").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.DEBUG if debug else logging.ERROR)


def user_errors(fn):
    """Print HrsyncError as a clear message (traceback only with --debug) and exit with its code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or ctx.obj.get("debug"):
                raise
            click.echo(f"Error: the state database is locked by another program ({exc}); close it and run again "
                       "(hrsync waits host.busy_timeout seconds for it).", err=True)
            ctx.exit(EXIT_LOCKED)
        except HrsyncError as exc:
            if ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {printable(REDACTOR.redact(str(exc)), keep_newlines=True)}", err=True)
            ctx.exit(exc.exit_code)

    return wrapper


def _global(key: str):
    def remember(ctx: click.Context, param: click.Parameter, value):
        if value:
            ctx.ensure_object(dict)[key] = value
            if key == "debug":
                setup_logging("DEBUG")
        return value

    return remember


def global_options() -> list[click.Option]:
    """``--config`` and ``--debug`` for a subcommand, so they work after the command name too."""
    return [
        click.Option(["--config"], type=click.Path(dir_okay=False), expose_value=False, callback=_global("config"),
                     help="hosts.yaml to use (also accepted before the command)."),
        click.Option(["--debug"], is_flag=True, expose_value=False, callback=_global("debug"),
                     help="Log debug messages and show tracebacks (also accepted before the command)."),
    ]


class TerminalProgress:
    """What a run is doing, on a terminal's stderr: people read so far, then a bar with count, rate and ETA.

    Used only when stderr is a terminal and the output is not JSON; redirected output stays clean.
    """

    def __init__(self, source: str, sink: str) -> None:
        self.source, self.sink = source, sink
        self.bar = None
        self.stream = click.get_text_stream("stderr")
        self.drawn = False

    def message(self, text: str) -> None:
        """``text`` on a line of its own, below the count or the bar (which go on, redrawn under it)."""
        self.stream.write(("\n" if self.drawn else "") + text + "\n")
        self.stream.flush()

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        self.drawn = True
        if phase == "read":
            self.stream.write(f"\rReading {self.source}: {done} people")
            self.stream.flush()
            return
        if self.bar is None:
            self.stream.write("\n")
            self.started = time.monotonic()
            self.bar = click.progressbar(length=total, label=f"Applying to {self.sink}", file=self.stream,
                                         show_pos=True, show_eta=True, item_show_func=self._rate)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos, done)

    def _rate(self, done: int | None) -> str | None:
        elapsed = time.monotonic() - self.started
        return f"{done / elapsed:.1f} people/s" if done and elapsed > 0 else None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
        else:
            self.stream.write("\n")


def load_for(ctx: click.Context, plugins: Plugins, *, only: str | None = None) -> Config:
    """The hosts.yaml chosen by ``--config`` / ``$HRSYNC_CONFIG`` / ./hosts.yaml, loaded and validated
    (the host section and connection ``only`` alone, when given)."""
    return load_config(config_path(ctx.obj["config"]), plugins, only=only)


def red(text: str, *, err: bool = False) -> str:
    """``text`` in red when it goes to a terminal; as it is in a pipe or a file (and JSON never asks)."""
    return click.style(text, fg="red", bold=True) if click.get_text_stream("stderr" if err else "stdout").isatty() \
        else text


def _completion_config(ctx: click.Context) -> Config | None:
    """hosts.yaml as the command line being completed names it, checked offline and quietly; None if it cannot
    be read (completion then offers nothing rather than print an error into the shell's line)."""
    chosen = (ctx.find_object(dict) or {}).get("config") or ctx.find_root().params.get("config")
    logging.disable(logging.CRITICAL)
    try:
        with unresolved_secrets():
            return load_config(config_path(chosen), load_plugins())
    except HrsyncError:
        return None
    finally:
        logging.disable(logging.NOTSET)


def complete_connection(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion: the connections of hosts.yaml."""
    config = _completion_config(ctx)
    return [name for name in sorted(config.connections) if name.startswith(incomplete)] if config else []


def complete_run_id(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion: the state's run ids, newest first, each with its connection, status and start."""
    config = _completion_config(ctx)
    if config is None:
        return []
    try:
        with StateFiles(config) as files:
            rows = files.runs(limit=100)
    except HrsyncError:
        return []
    return [CompletionItem(str(r["id"]), help=f"{r['connection']} {r['status']} {r['started_at']}")
            for r in rows if str(r["id"]).startswith(incomplete)]
