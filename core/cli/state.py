"""``hrsync state split``: move the host's one state file into a folder of one file per connection
(:mod:`hrsync.state.split`), for ``host.state_dir``."""

from __future__ import annotations

from pathlib import Path

import click

from ..registry import load_plugins
from ..state.split import split_state
from .common import global_options, load_for, user_errors


@click.group()
def state() -> None:
    """The state's files: split the host's one file into one per connection."""


@state.command()
@click.option("--into", "into", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the connections' files (default: host.state_dir of hosts.yaml).")
@click.option("--from", "source", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The state file to split (default: host.state of hosts.yaml, or where it would be).")
@click.pass_context
@user_errors
def split(ctx, into: Path | None, source: Path | None) -> None:
    """Copy each connection's state (links, applied values, history, groups, pauses) into its own file."""
    config = load_for(ctx, load_plugins())
    source = source or config.state
    into = into or config.state_dir
    if into is None:
        raise click.UsageError("Say where the connections' files go: --into FOLDER (or host.state_dir).")
    copied = split_state(source, into, busy_timeout=config.busy_timeout)
    for name, counts in copied.items():
        click.echo(f"{name}: {counts['people']} link(s), {counts['runs']} run(s), {counts['groups']} group(s), "
                   f"{counts['pauses']} pause(s) → {into / (name + '.db')}")
    # hosts.yaml reads host.state_dir from its own folder, not from where this command ran: say it whole.
    click.echo(f"Split {len(copied)} connection(s) of {source} into {into}. Now set host.state_dir: "
               f"{into.resolve()} in {config.path} (keep host.state: beside state_dir it names the old file, which "
               f"is then only read, so that no connection whose state is still there starts afresh); {source} is "
               "left as it was, as a backup - runs against it would no longer be seen by the new files.")


split.params.extend(global_options())
