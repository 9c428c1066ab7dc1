"""``hrsync demo``: the whole product on local sandboxes, no account needed.

Flow: start the source and sink sandboxes and an SMTP capture (about 200 seeded
people with real-data edge cases) → write a hosts.yaml into a temporary folder →
first sync (creates people, and department and team groups where the sink holds groups, with a
progress bar) → six HR changes in the source sandbox (a hire, a termination, a rename, an e-mail
change, a person without e-mail, a move to a new department) → second
sync → print its report and where the e-mailed report was saved. Everything it started
is stopped before it returns.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

import click

from ..config.load import load_config
from ..registry import Plugins
from ..report.render import render_text
from ..sandbox.snapshots import SnapshotSinkSandbox
from ..service.runner import run_and_report
from ..sync.engine import RunOptions
from .launch import sandbox_groups, start_sandboxes, write_sandbox_config


def hr_changes(source) -> list[str]:
    """Six changes a real HR team makes in a week, in the source sandbox; returns what was done."""
    people = [p for p in source.people() if p["status"] == "active" and p["email"]]
    leaver, renamed, mover, no_mail, transferred = people[0], people[1], people[2], people[3], people[4]
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    new_id = source.add_person(first_name="Saga", last_name="Lindström", email="saga.lindstrom@example.com",
                               gender="female", status="onboarding", hire_date=f"{dt.date.today()}T00:00:00+01:00",
                               position="Engineer")
    source.change_person(leaver["id"], status="inactive", termination_date=f"{yesterday}T00:00:00+01:00")
    source.change_person(renamed["id"], last_name=f"{renamed['last_name']}-Nyström")
    new_address = "moved." + mover["email"].lower()
    source.change_person(mover["id"], email=new_address)
    source.change_person(no_mail["id"], email="")
    # A department that did not exist yet: its group is created, and the person leaves their old one.
    source.change_person(transferred["id"], department="Customer Success")
    return [
        f"hired Saga Lindström (id {new_id})",
        f"terminated {leaver['first_name']} {leaver['last_name']} as of {yesterday}",
        f"renamed {renamed['first_name']} {renamed['last_name']} to {renamed['last_name']}-Nyström",
        f"changed {mover['email']} to {new_address}",
        f"removed the e-mail of {no_mail['first_name']} {no_mail['last_name']}",
        f"moved {transferred['first_name']} {transferred['last_name']} to a new department, Customer Success",
    ]


def run_demo(plugins: Plugins, *, employees: int = 200, seed: int = 7, folder: Path | None = None,
             source: str | None = None, sink: str | None = None, **options: str) -> int:
    """Run the demo; ``options`` are the sandboxes' own (e.g. ``scim_profile``)."""
    folder = Path(folder or tempfile.mkdtemp(prefix="hrsync-demo-"))
    echo = click.echo
    with start_sandboxes(plugins, source=source, sink=sink, employees=employees, seed=seed,
                         mail_folder=folder / "mail", **options) as running:
        echo(f"Sandboxes: {running.source.name} at {running.source.url}, {running.sink.name} at "
             f"{running.sink.url}, SMTP at 127.0.0.1:{running.smtp.port}")
        config_path = write_sandbox_config(folder / "hosts.yaml", running, groups=sandbox_groups(plugins, running))
        config = load_config(config_path, plugins)
        echo(f"Config: {config_path}\n")

        echo(f"First sync: {employees} people from the {running.source.name} sandbox")
        with click.progressbar(length=employees, label="Creating", file=click.get_text_stream("stdout")) as bar:
            def progress(phase: str, done: int, total: int | None) -> None:
                if phase != "apply":
                    return
                bar.length = total
                bar.update(done - bar.pos)

            first, _ = run_and_report(config, "sandbox", plugins, RunOptions(progress=progress))
        counts = first.report.counts
        echo(f"First sync {first.status}: {counts['created']} created, {counts['skipped']} skipped, "
             f"{counts['failed']} failed, {counts['not_created']} not created (had left)")
        echo(render_text(first.report, limit=5, config=config_path))

        echo("HR changes in the source:")
        for change in hr_changes(running.source):
            echo(f"  - {change}")
        echo("")
        second, delivery = run_and_report(config, "sandbox", plugins)
        running.smtp.wait_for(2)
        echo(render_text(second.report))
        if isinstance(running.sink, SnapshotSinkSandbox):
            echo(f"What {running.sink.name} now holds (birthdays and gender masked):")
            for line in running.sink.preview():
                echo(f"  {line}")
            echo("")
        mail = running.smtp.messages[-1].saved
        echo("The e-mailed report was received by the sandbox's SMTP server and saved as:")
        for path in mail:
            echo(f"  {path}")
        command = sys.argv[0] if os.sep in sys.argv[0] else "hrsync"  # e.g. .venv/bin/hrsync under make demo
        echo(f"\nEverything is in {folder}. Explore it with:\n"
             f"  {command} --config {config_path} runs\n  {command} --config {config_path} report {second.run_id}")
    return 0 if first.exit_code == 0 and second.exit_code in (0, 1) else 2
