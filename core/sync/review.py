"""What a run's report says beyond its own writes: who is fine now, who stays though gone, what was said before.

Data flow: the engine hands over the executed (or, in a dry run, planned) plan and the state; this module
reads what earlier reports said (:class:`~hrsync.state.reported.ReportedState`) and returns the report's review
fields for :func:`hrsync.results.build_report`: ``resolved`` - people who needed attention in the previous run
and no longer do - and ``standing`` - warnings an earlier report said in full. :func:`left_alone` names the
linked people ``missing: ignore`` leaves active. Nothing is written here: the runner records what was said.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..plan import APPLIED, CREATE, DEACTIVATE, DEFER, LEFT, UNCHANGED, UPDATE, WRITES, Action, Plan
from ..results import PersonLine
from ..state.store import State

#: What happened now to someone who needed attention last time, in the words of the report.
NOW = {CREATE: "created", UPDATE: "updated", DEACTIVATE: "deactivated", UNCHANGED: "in sync now",
       DEFER: "waiting for their start date", LEFT: "not created: had already left"}


def left_alone(actions: list[Action], out_of_scope: set[str], names: Callable[[list[str]], dict[str, str]],
               source: str) -> list[Action]:
    """The planner's linked people missing from the read, with the name they were last written under and why,
    by name."""
    named = names([a.source_id for a in actions if a.source_id]) if actions else {}
    for a in actions:
        a.person = named.get(a.source_id or "", a.person)
        a.reason = (f"in {source}, but outside this connection's scope" if a.source_id in out_of_scope
                    else f"no longer in {source}")
    return sorted(actions, key=lambda a: a.person.casefold())


def review(state: State, plan: Plan, run_id: int | None, mode: str, source: str) -> dict[str, Any]:
    """The review fields of the report of run ``run_id`` (None: a dry run): ``standing`` and ``resolved``."""
    said = state.said(plan.connection)
    previous = state.previous_attention(plan.connection, run_id)
    return {"standing": [w for w in plan.warnings if w in said],
            "resolved": resolved(previous, plan, everyone=mode in ("normal", "full") and not plan.stopped,
                                 dry_run=mode == "dry-run", source=source)}


def resolved(previous: list[PersonLine], plan: Plan, *, everyone: bool, dry_run: bool,
             source: str) -> list[PersonLine]:
    """Who of ``previous`` (the last run's attention items) needs nothing now: planned without a problem and, but
    in a dry run, written; or, when this run read ``everyone``, no longer among the people the connection syncs."""
    if not previous:
        return []
    now: dict[str, Action] = {}
    for action in plan.actions:
        now.setdefault(action.source_id or action.person, action)
    out = []
    for before in previous:
        was = before.reason or before.message
        action = now.get(before.source_id or before.person)
        if action is None:
            if everyone and before.source_id:
                out.append(PersonLine("gone", before.person, before.source_id, before.email, reason=was,
                                      message=f"no longer among the people this connection takes from {source}"))
            continue
        if action.needs_attention or (action.kind in WRITES and action.outcome != APPLIED and not dry_run):
            continue
        out.append(PersonLine(action.kind, action.person, action.source_id, action.email, reason=was,
                              message=NOW.get(action.kind, action.kind)))
    return out
