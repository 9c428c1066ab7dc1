"""The sink contract's group scenarios: for a sink that holds groups (``holds_groups``), run by default.

Each scenario places the reference source's people in departments and teams, runs the real engine
with ``groups: [department, team]`` and compares what the sandbox holds
(:meth:`hrsync.sandbox.SinkSandbox.held_groups`) with what the source says: one group per unit,
found by its external id, with exactly its members. Two scenarios wrap the sink under test so
that a create goes wrong at the worst moment: the service made the group but answered 409 (a retry
after a lost answer), and the process died after the service made it and before hrsync recorded it.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConflictError
from ..sink_groups import SinkGroup
from .scenarios import Scenario

GROUPS = {"fields": ["department", "team"]}
#: A handful of people: one move is a large share of the memberships, which the guard would stop.
GUARDS = {"max_membership_removal_percent": 100}
DEPARTMENTS = {"d1": "Sales", "d2": "Support"}


class _Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the engine catches it and nothing is recorded."""


def _place(h: Any) -> None:
    """Everyone in a department (alternating), the first three also in team Alpha."""
    for i, person in enumerate(h.world.people):
        unit = f"d{i % 2 + 1}"
        person["department"] = {"id": unit, "name": DEPARTMENTS[unit]}
        person["team"] = {"id": "t1", "name": "Alpha"} if i < 3 else None


def _expected(h: Any) -> dict[str, tuple[str, list[str]]]:
    out: dict[str, tuple[str, list[str]]] = {}
    for person in h.world.people:
        for field in GROUPS["fields"]:
            unit = person.get(field)
            if unit:
                name, members = out.setdefault(f"{field}:{unit['id']}", (unit["name"], []))
                members.append(person["email"].lower())
    return {key: (name, sorted(members)) for key, (name, members) in out.items()}


def _held(h: Any) -> dict[str, tuple[str, list[str]]]:
    groups = h.sandbox.held_groups()
    ids = [g["external_id"] for g in groups]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    assert not twice, f"the sink holds two groups with the same external id: {twice}"
    return {g["external_id"]: (g["name"], list(g["members"])) for g in groups}


def _run(h: Any, what: str) -> Any:
    result = h.run(groups=GROUPS, guards=GUARDS)
    failed = [f"{g.name}: {g.message}" for g in result.report.groups if g.outcome == "failed"]
    assert result.status == "ok", f"{what}: run {result.status}: {result.message or failed}"
    return result


def _groups_created(h: Any) -> None:
    _place(h)
    _run(h, "first run with groups")
    assert _held(h) == _expected(h), "the groups or their members are not what the source says"
    _run(h, "second run")
    assert _held(h) == _expected(h)


def _group_renamed(h: Any) -> None:
    _place(h)
    _run(h, "first run with groups")
    for person in h.world.people:
        if person["department"]["id"] == "d1":
            person["department"] = {"id": "d1", "name": "Revenue"}
    _run(h, "run after the rename")
    held = _held(h)
    assert held == _expected(h) and held["department:d1"][0] == "Revenue", \
        f"the renamed department's group was not renamed in place: {held}"


def _person_moved(h: Any) -> None:
    _place(h)
    _run(h, "first run with groups")
    h.world.people[0]["department"] = {"id": "d2", "name": "Support"}
    _run(h, "run after the move")
    held = _held(h)
    assert held == _expected(h), f"after a move the members are wrong: {held}"


def _wrapped(h: Any, create_group: Any) -> None:
    """Run once with the sink's ``create_group`` replaced for its first call."""
    base = h.connector
    calls = []

    def first_call(self: Any, external_id: str, name: str, member_ids: list[str]) -> SinkGroup:
        real = base.create_group(self, external_id, name, member_ids)
        if calls:
            return real
        calls.append(name)
        return create_group(real)

    h.connector = type(base.__name__, (base,), {"create_group": first_call})
    try:
        h.run(groups=GROUPS, guards=GUARDS)
    except _Killed:
        pass
    finally:
        h.connector = base
    assert calls, "the sink was never asked to create a group"


def _conflict_on_group_create(h: Any) -> None:
    _place(h)

    def answered_409(made: SinkGroup) -> SinkGroup:
        raise ConflictError(f"a group named {made.name} exists", record=made.name)

    _wrapped(h, answered_409)
    _run(h, "run after the 409")
    assert _held(h) == _expected(h), "after a 409 on create the group was not linked (or made twice)"


def _killed_between_create_and_record(h: Any) -> None:
    _place(h)

    def killed(made: SinkGroup) -> SinkGroup:
        raise _Killed

    _wrapped(h, killed)
    _run(h, "run after the kill")
    assert _held(h) == _expected(h), "a group made before a kill was made again (or its members are wrong)"


GROUP_SCENARIOS: list[Scenario] = [
    Scenario("groups_created", "Each department and team becomes one group with exactly its people.",
             _groups_created),
    Scenario("group_renamed", "A renamed department renames its group, found by its external id.", _group_renamed),
    Scenario("person_moved", "A person who moves leaves the old group and joins the new one.", _person_moved),
    Scenario("conflict_on_group_create", "A 409 on a group create links the group instead of making another.",
             _conflict_on_group_create),
    Scenario("killed_between_create_and_record", "A group made just before a crash is found, not made again.",
             _killed_between_create_and_record),
]
