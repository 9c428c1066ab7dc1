"""The plan of a run: one :class:`Action` per person, what will change and why.

Data flow: the engine builds a :class:`Plan` before any write; ``--dry-run`` prints it;
applying fills in each action's outcome; the report is the same plan after execution.
Values of sensitive fields never enter a plan as values: :meth:`Action.public_changes`
shows them only as "changed".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

CREATE, UPDATE, DEACTIVATE, UNCHANGED, SKIP, DEFER = "create", "update", "deactivate", "unchanged", "skip", "defer"
#: Outcome of an action after apply.
PLANNED, APPLIED, FAILED = "planned", "applied", "failed"


@dataclass
class Action:
    """What happens to one person in this run."""

    kind: str
    person: str
    source_id: str | None = None
    email: str | None = None
    sink_id: str | None = None
    #: field → (old, new); old is None on create.
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    desired: dict[str, Any] = field(default_factory=dict, repr=False)
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    #: "linked" when this run matched an existing sink user by e-mail.
    link: str = ""
    outcome: str = PLANNED
    message: str = ""
    invited: bool = False
    #: True when a skip is a data error a person must fix (counts toward exit code 1).
    is_error: bool = False

    def public_changes(self, sensitive: set[str]) -> dict[str, dict[str, Any]]:
        out = {}
        for name, (old, new) in sorted(self.changes.items()):
            if name in sensitive:
                out[name] = {"changed": True}
            else:
                out[name] = {"old": old, "new": new}
        return out

    def to_dict(self, sensitive: set[str]) -> dict[str, Any]:
        return {
            "action": self.kind, "person": self.person, "source_id": self.source_id, "email": self.email,
            "sink_id": self.sink_id, "changes": self.public_changes(sensitive), "reason": self.reason,
            "notes": self.notes, "link": self.link, "outcome": self.outcome, "message": self.message,
            "invited": self.invited,
        }


@dataclass
class Plan:
    connection: str
    actions: list[Action] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sensitive: set[str] = field(default_factory=set)
    #: Why the run stopped before writing, when a guard or a run-level fault stopped it.
    stopped: str = ""

    def of(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]

    @property
    def writes(self) -> list[Action]:
        return [a for a in self.actions if a.kind in (CREATE, UPDATE, DEACTIVATE)]

    def counts(self) -> dict[str, int]:
        counter = Counter()
        for a in self.actions:
            if a.outcome == FAILED:
                counter["failed"] += 1
            elif a.kind == CREATE:
                counter["created"] += 1
            elif a.kind == UPDATE:
                counter["updated"] += 1
            elif a.kind == DEACTIVATE:
                counter["deactivated"] += 1
            elif a.kind == UNCHANGED:
                counter["unchanged"] += 1
            elif a.kind == SKIP:
                counter["skipped"] += 1
            elif a.kind == DEFER:
                counter["deferred"] += 1
            if a.invited and a.outcome == APPLIED:
                counter["invited"] += 1
        keys = ["created", "updated", "deactivated", "unchanged", "skipped", "failed", "deferred", "invited"]
        return {k: counter.get(k, 0) for k in keys}

    @property
    def needs_attention(self) -> list[Action]:
        return [a for a in self.actions if a.outcome == FAILED or (a.kind == SKIP and a.is_error)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "counts": self.counts(),
            "warnings": self.warnings,
            "stopped": self.stopped,
            "actions": [a.to_dict(self.sensitive) for a in self.actions if a.kind != UNCHANGED],
        }
