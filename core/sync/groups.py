"""Group planning: from the people of one read to the group changes the sink needs. Pure.

Data flow: after the people are planned, :func:`plan_groups` takes each person's org units (the
connection's ``groups:`` fields, on :class:`~hrsync.sync.records.Person`), the group links and
memberships the state remembers, and - under ``memberships: overwrite`` only - the members each
linked group has in the sink, and returns a :class:`GroupPlan`: groups to create, to rename,
members to add and remove, and groups whose unit is gone from the source (reported, never
deleted). The guards judge its removals before any write; :mod:`.group_applier` carries it out
after the people writes, when every member has a sink id.

Who is considered: only people of this read that are valid and in scope. People skipped,
deferred or gone from the source keep the memberships they have; a field the source could not
read this run (or that came back empty for everyone while groups exist) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..config.groups import OVERWRITE, GroupsConfig
from ..state.groups import GroupLink
from .records import Person


@dataclass
class GroupChange:
    """What one org unit's group needs this run."""

    external_id: str
    field: str
    name: str
    link: GroupLink | None
    #: Source ids to add; source ids to remove; sink ids to remove that belong to nobody hrsync knows.
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    remove_unknown: list[str] = field(default_factory=list)

    @property
    def creates(self) -> bool:
        return self.link is None

    @property
    def renamed_from(self) -> str | None:
        return self.link.name if self.link is not None and self.link.name != self.name else None

    @property
    def removals(self) -> int:
        return len(self.remove) + len(self.remove_unknown)

    @property
    def writes(self) -> bool:
        return self.creates or self.renamed_from is not None or bool(self.add) or bool(self.removals)


@dataclass
class GroupPlan:
    changes: list[GroupChange] = field(default_factory=list)
    #: Linked groups whose unit no one in the source belongs to any more (left in place).
    gone: list[GroupLink] = field(default_factory=list)
    #: Fields whose groups were left alone this run, with why.
    skipped_fields: dict[str, str] = field(default_factory=dict)
    #: How many memberships hrsync keeps (the base of the removal guard's percentage).
    managed_count: int = 0
    #: The source's label, for "no longer in Personio".
    source: str = "the source"
    #: Every group this run wants (external id → member source ids), changed or not: a snapshot's groups.
    desired: dict[str, set[str]] = field(default_factory=dict)

    @property
    def removals(self) -> int:
        return sum(c.removals for c in self.changes)

    @property
    def writes(self) -> list[GroupChange]:
        return [c for c in self.changes if c.writes]


def plan_groups(config: GroupsConfig, people: Iterable[Person], *, links: Mapping[str, GroupLink],
                memberships: Mapping[str, set[str]], unreadable: set[str], source: str,
                person_of_sink_id: Mapping[str, str],
                sink_members: Callable[[str], Iterable[str]] | None = None) -> GroupPlan:
    """The group changes of one run (see the module's docstring). ``sink_members(group_id)`` is asked
    only under ``memberships: overwrite``; ``person_of_sink_id`` maps the state's links back."""
    people = list(people)
    plan = GroupPlan(managed_count=sum(len(m) for m in memberships.values()), source=source)
    fields_ = [f for f in config.fields if not _skipped(f, config, people, links, unreadable, source, plan)]
    desired: dict[str, set[str]] = {}
    names: dict[str, tuple[str, str]] = {}
    for person in people:
        for name in fields_:
            unit = person.units.get(name)
            if not unit:
                continue
            external_id = config.external_id(name, unit)
            names.setdefault(external_id, (name, config.group_name(name, unit)))
            members = desired.setdefault(external_id, set())
            if not (person.left and config.leavers == "remove"):
                members.add(person.source_id)
    plan.desired = desired
    present = {p.source_id for p in people}
    for external_id, (name, group_name) in names.items():
        link = links.get(external_id)
        made = memberships.get(external_id, set())
        want = desired[external_id]
        change = GroupChange(external_id, name, group_name, link)
        if link is not None and config.memberships == OVERWRITE and sink_members is not None:
            held = set(sink_members(link.sink_id))
            known = {person_of_sink_id[s] for s in held if s in person_of_sink_id}
            change.add = sorted(want - known)
            change.remove = sorted((known & present) - want)
            change.remove_unknown = sorted(s for s in held if s not in person_of_sink_id)
        else:
            change.add = sorted(want - made)
            change.remove = sorted((made & present) - want)
        plan.changes.append(change)
    # A unit nobody belongs to any more: its group stays, and who moved out of it is taken out.
    for external_id, link in links.items():
        if external_id in names or link.field not in fields_:
            continue
        plan.gone.append(link)
        leaving = sorted(memberships.get(external_id, set()) & present)
        if leaving:
            plan.changes.append(GroupChange(external_id, link.field, link.name, link, remove=leaving))
    return plan


def _skipped(name: str, config: GroupsConfig, people: list[Person], links: Mapping[str, GroupLink],
             unreadable: set[str], source: str, plan: GroupPlan) -> bool:
    """Whether ``name``'s groups are left alone this run (recorded with the reason in ``plan``)."""
    if name in unreadable:
        plan.skipped_fields[name] = (f"{source} could not be read for {name} this run, so {name} groups were left "
                                     "as they are.")
    elif people and not any(p.units.get(name) for p in people) and any(g.field == name for g in links.values()):
        plan.skipped_fields[name] = (f"Nobody has a {name} in {source} this run, though {name} groups exist: "
                                     f"{name} groups were left as they are. If the API credential lost the {name} "
                                     "attribute, allow it again.")
    return name in plan.skipped_fields
