"""``hrsync sandbox`` and ``hrsync demo``: the product on local sandboxes, no account needed."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

from .cli_common import user_errors
from .demo import run_demo
from .errors import HrsyncError, PluginError
from .registry import load_plugins
from .sandbox_setup import pick, start_sandboxes, write_sandbox_config


class SandboxCommand(click.Command):
    """Adds ``--<name>-data FILE`` for each installed source sandbox (e.g. ``--personio-data``)."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        try:
            names = list(load_plugins().sandboxes("source"))
        except HrsyncError:
            names = []
        known = {p.name for p in params}
        extra = [click.Option([f"--{name}-data"], type=click.Path(exists=True, dir_okay=False), default=None,
                              help=f"Seed the {name} sandbox from this file (its own list-response format).")
                 for name in names if f"{name}_data" not in known]
        return params[:-1] + extra + params[-1:]  # keep --help last


@click.command(cls=SandboxCommand)
@click.option("--employees", default=200, show_default=True, help="Generated people in the source sandbox.")
@click.option("--seed", default=1, show_default=True, help="Seed of the generated people.")
@click.option("--source", "source_name", help="Source sandbox to start (needed when several are installed).")
@click.option("--sink", "sink_name", help="Sink sandbox to start (needed when several are installed).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line with URLs and credentials.")
@click.option("--write-config", type=click.Path(dir_okay=False), help="Write a ready hosts.yaml here.")
@click.pass_context
@user_errors
def sandbox(ctx, employees, seed, source_name, sink_name, as_json, write_config, **data_files) -> None:
    """Start the sandboxes on loopback and serve until SIGTERM/SIGINT."""
    plugins = load_plugins()
    chosen = pick(plugins, "source", source_name).name
    given = {key.removesuffix("_data"): path for key, path in data_files.items() if path}
    if set(given) - {chosen}:
        raise PluginError(f"--{sorted(set(given) - {chosen})[0]}-data seeds a sandbox that is not started "
                          f"(the source sandbox is {chosen}).")
    data_file = given.get(chosen)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    mail = Path(write_config).parent / "mail" if write_config else None
    with start_sandboxes(plugins, source=chosen, sink=sink_name, employees=employees, seed=seed,
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


@click.command()
@click.option("--employees", default=200, show_default=True, help="Generated people in the source sandbox.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated people.")
@click.option("--folder", type=click.Path(file_okay=False),
              help="Where to keep config, state and mail (default: a new temporary folder).")
@click.option("--source", "source_name", help="Source sandbox to use (needed when several are installed).")
@click.option("--sink", "sink_name", help="Sink sandbox to use (needed when several are installed).")
@click.pass_context
@user_errors
def demo(ctx, employees, seed, folder, source_name, sink_name) -> None:
    """A full end-to-end run on local sandboxes: no account needed."""
    ctx.exit(run_demo(load_plugins(), employees=employees, seed=seed, folder=folder, source=source_name,
                      sink=sink_name))
