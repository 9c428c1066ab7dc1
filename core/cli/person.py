"""``hrsync person EMAIL|SOURCE_ID [CONNECTION]``: what happened to one person, run by run.

Data flow: the state's history of the person (:meth:`hrsync.state.person.PersonHistory.person_history`) -
every run that touched them, from the change log and the stored reports - printed for HR (field names and
public values; a sensitive field only as "changed", never its value) or as JSON (``--json``).
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import UsageError
from ..registry import load_plugins
from ..report.render import local_time
from ..secrets import REDACTOR
from ..state.places import StateFiles
from .common import complete_connection, load_for, red, user_errors

#: How each kind of event reads once it happened (a write not applied or failed says so itself).
_DONE = {"create": "created", "update": "updated", "deactivate": "deactivated", "skip": "skipped",
         "defer": "deferred", "left": "not created: had already left", "link": "linked",
         "unchanged": "unchanged"}
#: A run's status where it matters to what happened to the person (the run ended before its work was done).
_STATUS = {"stopped": "the run stopped", "interrupted": "the run was interrupted",
           "crashed": "the run ended before it finished", "running": "still running"}


@click.command()
@click.argument("query", metavar="EMAIL|SOURCE_ID")
@click.argument("connection", required=False, shell_complete=complete_connection)
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@click.pass_context
@user_errors
def person(ctx, query, connection, as_json) -> None:
    """Every run that touched one person: what changed, links, what needs attention, their link now."""
    config = load_for(ctx, load_plugins())
    with StateFiles(config) as files:
        states = [(connection, files.of(connection))] if connection else list(files.every())
        people = [found for name, state in states for found in state.person_history(query.strip(), name)]
    if not people:
        where = f"connection {connection!r} in " if connection else ""
        place = config.state_dir if config.state_dir is not None else config.state
        raise UsageError(f"Nobody with the e-mail or source id {query!r} in the history of {where}{place} "
                         "(history older than host.keep_days is pruned; see hrsync runs).", connection=connection)
    if as_json:
        click.echo(REDACTOR.redact(json.dumps({"query": query, "people": people}, indent=2, ensure_ascii=False)))
        return
    click.echo(REDACTOR.redact("\n\n".join(_describe(p, config.timezone) for p in people)))


def _describe(p: dict[str, Any], timezone: str) -> str:
    ident = f"source id {p['source_id']}" if p["source_id"] else "no source id"
    lines = [f"{p['name']}" + (f" <{p['email']}>" if p["email"] else "") + f" — {p['connection']}, {ident}"]
    link = p["link"]
    if link:
        how = "created by hrsync" if link["origin"] == "created" else "linked to an existing user by e-mail"
        lines.append(f"  Now: user {link['sink_id']} in the app ({how}, run {link['first_run']}); "
                     + ("active" if link["active"] else "deactivated")
                     + (f"; groups: {', '.join(link['groups'])}" if link["groups"] else ""))
    elif p["create_pending"]:
        lines.append("  Now: a create was sent but its answer was lost; the next run looks for them in the app.")
    elif p["left_uncreated"]:
        lines.append("  Now: not in the app (had already left when hrsync first saw them).")
    else:
        lines.append("  Now: not in the app.")
    if p["attention"]:
        lines.append("  " + red("Needs attention") + ": " + "; ".join(_what(e) for e in p["attention"]))
    lines.append(f"  {len(p['runs'])} run(s) touched them:")
    for run in p["runs"]:
        notes = [n for n in (_STATUS.get(run["status"]), run["mode"] not in ("normal", None) and f"{run['mode']} run")
                 if n]
        head = f"    run {run['id']}, {local_time(run['started_at'], timezone)}"
        head += f" ({', '.join(notes)})" if notes else ""
        lines += [f"{head}: {_what(e)}" for e in run["events"]]
    return "\n".join(lines)


def _what(e: dict[str, Any]) -> str:
    """One event in words: what was done, then the fields (values of sensitive ones never travel)."""
    if e["outcome"] == "failed":
        text = red("FAILED") + f" to {'link' if e['action'] == 'link' else e['action']}"
    elif e["outcome"] == "planned" and e["action"] in ("create", "update", "deactivate"):
        text = f"{e['action']} not applied (the run stopped first)"
    elif e["outcome"] == "resolved":
        text = "a lost create resolved"
    else:
        text = _DONE.get(e["action"], e["action"])
    if e["linked_by_email"]:
        text += " (linked to an existing user by e-mail)"
    fields = _fields(e["action"], e["changes"])
    details = [d for d in (fields, e["reason"], e["message"], *e["notes"]) if d]
    return text + (" — " + "; ".join(details) if details else "")


def _fields(action: str, changes: dict[str, dict[str, Any]]) -> str:
    if action != "update":  # a create or deactivate: which fields, not every value sent
        return ", ".join(_label(name) for name in changes if name != "active")
    return "; ".join(f"{_label(name)} changed" if "changed" in change
                     else f"{_label(name)}: {_value(change.get('old'))} → {_value(change.get('new'))}"
                     for name, change in changes.items())


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _value(value: Any) -> str:
    return "(empty)" if value in (None, "") else str(value)
