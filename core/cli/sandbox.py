"""``hrsync sandbox`` and ``hrsync demo``: the product on local sandboxes, no account needed."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

from ..errors import HrsyncError, PluginError
from ..registry import load_plugins
from .common import user_errors
from .demo import run_demo
from .launch import pick, sandbox_groups, start_sandboxes, write_sandbox_config


class SandboxCommand(click.Command):
    """Adds what installed sandboxes offer: ``--<name>-data FILE`` for each source sandbox (e.g.
    ``--personio-data``) and each sandbox's own ``cli_options`` (e.g. ``--scim-profile``)."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        try:
            plugins = load_plugins()
        except HrsyncError:
            return params
        known = {p.name for p in params}
        extra = []
        if self.name == "sandbox":
            extra += [click.Option([f"--{name}-data", f"{name}_data"], type=click.Path(exists=True, dir_okay=False),
                                   default=None,
                                   help=f"Seed the {name} sandbox from this file (its own list-response format).")
                      for name in plugins.sandboxes("source") if f"{name}_data" not in known]
        for kind in ("source", "sink"):
            for cls in plugins.sandboxes(kind).values():
                for option, text in cls.cli_options.items():
                    if option not in known:
                        known.add(option)
                        extra.append(click.Option([f"--{option.replace('_', '-')}"], default=None,
                                                  help=f"{text} ({cls.name} sandbox)"))
        return params[:-1] + extra + params[-1:]  # keep --help last


def sandbox_options(options: dict) -> dict:
    """The sandbox-declared options that were given (the others keep the sandboxes' defaults)."""
    return {key: value for key, value in options.items() if value is not None and not key.endswith("_data")}


@click.command(cls=SandboxCommand)
@click.option("--employees", default=200, show_default=True, help="Generated people in the source sandbox.")
@click.option("--seed", default=1, show_default=True, help="Seed of the generated people.")
@click.option("--source", "source_name", help="Source sandbox to start (needed when several are installed).")
@click.option("--sink", "sink_name", help="Sink sandbox to start (needed when several are installed).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line with URLs and credentials.")
@click.option("--write-config", type=click.Path(dir_okay=False), help="Write a ready hosts.yaml here.")
@click.pass_context
@user_errors
def sandbox(ctx, employees, seed, source_name, sink_name, as_json, write_config, **extra) -> None:
    """Start the sandboxes on loopback and serve until SIGTERM/SIGINT."""
    plugins = load_plugins()
    chosen = pick(plugins, "source", source_name).name
    given = {key.removesuffix("_data"): path for key, path in extra.items() if key.endswith("_data") and path}
    if set(given) - {chosen}:
        raise PluginError(f"--{sorted(set(given) - {chosen})[0]}-data seeds a sandbox that is not started "
                          f"(the source sandbox is {chosen}).")
    data_file = given.get(chosen)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    mail = Path(write_config).parent / "mail" if write_config else None
    with start_sandboxes(plugins, source=chosen, sink=sink_name, employees=employees, seed=seed,
                         data_file=data_file, mail_folder=mail, **sandbox_options(extra)) as running:
        info = {running.source.name: running.source.describe(), running.sink.name: running.sink.describe(),
                "smtp": {"host": "127.0.0.1", "port": running.smtp.port}}
        if write_config:
            info["config"] = str(write_sandbox_config(Path(write_config), running,
                                                       groups=sandbox_groups(plugins, running)))
        if as_json:
            click.echo(json.dumps(info))
        else:
            for name, details in info.items():
                click.echo(f"{name}: {details}")
            click.echo("Serving until Ctrl-C (SIGINT) or SIGTERM.")
        sys.stdout.flush()
        stop.wait()


@click.command(cls=SandboxCommand)
@click.option("--employees", default=200, show_default=True, help="Generated people in the source sandbox.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated people.")
@click.option("--folder", type=click.Path(file_okay=False),
              help="Where to keep config, state and mail (default: a new temporary folder).")
@click.option("--source", "source_name", help="Source sandbox to use (needed when several are installed).")
@click.option("--sink", "sink_name", help="Sink sandbox to use (needed when several are installed).")
@click.pass_context
@user_errors
def demo(ctx, employees, seed, folder, source_name, sink_name, **extra) -> None:
    """A full end-to-end run on local sandboxes: no account needed."""
    ctx.exit(run_demo(load_plugins(), employees=employees, seed=seed, folder=folder, source=source_name,
                      sink=sink_name, **sandbox_options(extra)))
