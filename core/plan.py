"""The plan of a run: one :class:`Action` per person, what will change and why.

Data flow: the planner (:mod:`hrsync.sync.planner`) builds a :class:`Plan` before any write;
``--dry-run`` prints it; the applier (:mod:`hrsync.sync.applier`) fills in each action's
outcome; the run report (:mod:`hrsync.results`) is the same plan after execution.
Values of sensitive fields never leave a plan as values: :meth:`Action.public_changes`
shows them only as "changed".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

CREATE, UPDATE, DEACTIVATE, UNCHANGED, SKIP, DEFER = "create", "update", "deactivate", "unchanged", "skip", "defer"
#: Not created because they had already left (connection setting ``create_leavers: false``).
LEFT = "left"
#: A linked person missing from the source whom the connection's ``missing: ignore`` leaves as they are.
KEPT = "kept"
#: Outcome of an action after apply.
PLANNED, APPLIED, FAILED = "planned", "applied", "failed"
WRITES = (CREATE, UPDATE, DEACTIVATE)
COUNT_KEYS = ("created", "updated", "deactivated", "unchanged", "skipped", "failed", "not_applied", "deferred",
              "not_created", "invited")


def needs_attention(kind: str, outcome: str) -> bool:
    """The one definition: a person must act when their write failed or their record was skipped."""
    return outcome == FAILED or kind == SKIP


class Change(NamedTuple):
    """One field's change: the value the sink holds (``None`` on create or when unknown) and the new one."""

    old: Any
    new: Any


Changes = dict[str, Change]


@dataclass(slots=True)
class Action:
    """What happens to one person in this run."""

    kind: str
    person: str
    source_id: str | None = None
    email: str | None = None
    sink_id: str | None = None
    changes: Changes = field(default_factory=dict)
    #: The person's whole desired state in sink fields (what a create sends, what is remembered).
    desired: dict[str, Any] = field(default_factory=dict, repr=False)
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    #: True when this run matched an existing sink user by e-mail (rather than by a stored link).
    matched: bool = False
    #: True when the user matched carried no source id: this run writes ours (and the names) onto it - adopts it.
    adopted: bool = False
    outcome: str = PLANNED
    message: str = ""
    invited: bool = False

    def new_values(self) -> dict[str, Any]:
        """The changed fields' new values: what :meth:`hrsync.Sink.update` receives."""
        return {name: change.new for name, change in self.changes.items()}

    def public_changes(self, sensitive: set[str]) -> dict[str, dict[str, Any]]:
        """Changes as reports and logs may show them: sensitive fields only as ``{"changed": True}``."""
        return {name: {"changed": True} if name in sensitive else {"old": change.old, "new": change.new}
                for name, change in sorted(self.changes.items())}

    @property
    def needs_attention(self) -> bool:
        return needs_attention(self.kind, self.outcome)


@dataclass
class Plan:
    connection: str
    actions: list[Action] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sensitive: set[str] = field(default_factory=set)
    #: Why the run stopped before writing, when a guard or a run-level fault stopped it.
    stopped: str = ""
    #: Sink users no source person matched, as (name, e-mail), when this run listed the sink.
    unmatched: list[tuple[str, str | None]] = field(default_factory=list)
    #: The group changes of the run (connections with ``groups:``), one line per group.
    groups: list[GroupLine] = field(default_factory=list)
    #: Linked people the source no longer has (or holds out of scope), left active by ``missing: ignore``:
    #: actions of kind :data:`KEPT`, never applied (the report lists them so that someone decides).
    left_alone: list[Action] = field(default_factory=list)

    def of(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]

    @property
    def writes(self) -> list[Action]:
        return [a for a in self.actions if a.kind in WRITES]

    def counts(self, *, planned: bool = False) -> dict[str, int]:
        """People per outcome: writes count as created/updated/deactivated only once the sink confirmed
        them (``planned``: as planned, for a dry run); writes never attempted count as ``not_applied``."""
        counter: Counter[str] = Counter()
        for a in self.actions:
            if a.outcome == FAILED:
                counter["failed"] += 1
            elif a.kind in WRITES and a.outcome == PLANNED and not planned:
                counter["not_applied"] += 1
            else:
                counter[{CREATE: "created", UPDATE: "updated", DEACTIVATE: "deactivated", UNCHANGED: "unchanged",
                         SKIP: "skipped", DEFER: "deferred", LEFT: "not_created"}[a.kind]] += 1
            if a.invited and a.outcome == APPLIED:
                counter["invited"] += 1
        return {k: counter.get(k, 0) for k in COUNT_KEYS}

    @property
    def groups_failed(self) -> bool:
        return any(g.outcome == FAILED for g in self.groups)

    @property
    def attention(self) -> list[Action]:
        """The people someone must act on (see :func:`needs_attention`)."""
        return [a for a in self.actions if a.needs_attention]


#: What happened to a group: created, linked (an existing group adopted), changed (renamed and/or members),
#: gone (its unit is no longer in the source; left in place).
GROUP_CREATED, GROUP_LINKED, GROUP_CHANGED, GROUP_GONE = "created", "linked", "changed", "gone"


@dataclass
class GroupLine:
    """One group in a plan or report: names and counts only (never who, by value, beyond names)."""

    kind: str
    name: str
    field: str = ""
    renamed_from: str | None = None
    added: int = 0
    removed: int = 0
    outcome: str = PLANNED
    message: str = ""

    def describe(self) -> str:
        """The line a person reads, e.g. "Sales: 3 members added, 1 member removed" or "New group: Support (4
        members)"."""
        if self.kind == GROUP_GONE:
            return f"{self.name}: {self.message or 'no longer in the source'}; the group was left in place"
        members = ", ".join(f"{n} member{'s' if n != 1 else ''} {what}" for n, what in
                            ((self.added, "added"), (self.removed, "removed")) if n)
        if self.kind == GROUP_CREATED:
            text = f"New group: {self.name} ({self.added} member{'s' if self.added != 1 else ''})"
        elif self.kind == GROUP_LINKED:
            text = f"Linked to the existing group {self.name}" + (f": {members}" if members else "")
        else:
            text = f"{self.name}: {members}" if members else self.name
            if self.renamed_from:
                text = f"{self.field.capitalize() or 'Group'} '{self.renamed_from}' renamed to '{self.name}'" + (
                    f"; {members}" if members else "")
        if self.outcome == FAILED:
            text += f" — could not be written: {self.message}"
        return text
