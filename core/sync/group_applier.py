"""Group writes: the :class:`~hrsync.sync.groups.GroupPlan`, carried out through the sink after the people writes.

Data flow: the engine hands the group plan over once every person's write is done, so every member
has a sink id (read from the state's links). Per group: link it (the state's link, else the sink's
group carrying its external id - so a run killed between "created" and "recorded" never makes a
second group - else create it, and on a conflict look it up), rename it, then add and remove
members in batches of ``Sink.member_batch``. Each confirmed write is committed to the state at
once (:class:`~hrsync.state.groups.GroupState`). A group whose write fails is reported with the
service's message and retried next run; only run-level faults stop the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..connectors import Sink
from ..errors import ConflictError, RecordError
from ..plan import APPLIED, FAILED, GROUP_CHANGED, GROUP_CREATED, GROUP_GONE, GROUP_LINKED, GroupLine
from ..sink_groups import SinkGroup
from ..state.groups import GroupLink
from ..state.history import now
from ..state.store import State
from .groups import GroupChange, GroupPlan

log = logging.getLogger("hrsync.sync.group_applier")


def planned_lines(plan: GroupPlan) -> list[GroupLine]:
    """The report lines of a group plan before (or without) apply: what a dry run shows."""
    lines = [GroupLine(GROUP_CREATED if c.creates else GROUP_CHANGED, c.name, c.field, c.renamed_from,
                       len(c.add), c.removals) for c in plan.writes]
    return lines + gone_lines(plan)


def gone_lines(plan: GroupPlan) -> list[GroupLine]:
    return [GroupLine(GROUP_GONE, g.name, g.field, message=f"no longer in {plan.source}") for g in plan.gone]


class GroupApplier:
    def __init__(self, *, connection: str, run_id: int, sink: Sink, state: State) -> None:
        self.connection, self.run_id, self.sink, self.state = connection, run_id, sink, state

    def apply(self, plan: GroupPlan, *, should_stop: Callable[[], bool] = lambda: False) -> list[GroupLine]:
        links = self.state.links(self.connection, with_applied=False)
        sink_ids = {source_id: link.sink_id for source_id, link in links.items() if link.sink_id}
        lines = []
        for change in plan.writes:
            if should_stop():
                lines.append(GroupLine(GROUP_CREATED if change.creates else GROUP_CHANGED, change.name, change.field,
                                       change.renamed_from, len(change.add), change.removals))
                continue
            line = GroupLine(GROUP_CHANGED, change.name, change.field, change.renamed_from)
            try:
                self._apply(change, line, sink_ids)
                line.outcome = APPLIED
            except RecordError as exc:
                line.outcome, line.message = FAILED, str(exc)
                log.warning("%s: group %s: %s", self.connection, change.name, exc)
            lines.append(line)
        return lines + gone_lines(plan)

    def _apply(self, change: GroupChange, line: GroupLine, sink_ids: dict[str, str]) -> None:
        add = [(s, sink_ids[s]) for s in change.add if s in sink_ids]  # a person whose create failed waits
        batch = self.sink.member_batch
        group_id = change.link.sink_id if change.link is not None else None
        if group_id is None:
            group, first = self._find_or_create(change, add[:batch])
            group_id, line.kind = group.group_id, GROUP_CREATED if first is not None else GROUP_LINKED
            if first:
                line.added += len(first)
                add = add[batch:]
        elif change.renamed_from is not None:
            self.sink.rename_group(group_id, change.name)
            self._record(change, group_id)
        for start in range(0, len(add), batch):
            chunk = add[start:start + batch]
            self.sink.add_members(group_id, [sink_id for _, sink_id in chunk])
            self.state.record_members(self.connection, change.external_id, added=[s for s, _ in chunk],
                                      run_id=self.run_id, at=now())
            line.added += len(chunk)
        remove = [(s, sink_ids[s]) for s in change.remove if s in sink_ids]
        for start in range(0, len(remove), batch):
            chunk = remove[start:start + batch]
            self.sink.remove_members(group_id, [sink_id for _, sink_id in chunk])
            self.state.record_members(self.connection, change.external_id, removed=[s for s, _ in chunk],
                                      run_id=self.run_id, at=now())
            line.removed += len(chunk)
        for start in range(0, len(change.remove_unknown), batch):
            chunk = change.remove_unknown[start:start + batch]
            self.sink.remove_members(group_id, chunk)
            line.removed += len(chunk)

    def _find_or_create(self, change: GroupChange,
                        first: list[tuple[str, str]]) -> tuple[SinkGroup, list[tuple[str, str]] | None]:
        """The unit's group and the first members it was created with (None when an existing one was linked)."""
        found = self.sink.find_group(change.external_id, change.name)
        created: list[tuple[str, str]] | None = None
        if found is None:
            try:
                found, created = self.sink.create_group(change.external_id, change.name,
                                                        [sink_id for _, sink_id in first]), first
            except ConflictError:
                found = self.sink.find_group(change.external_id, change.name)
                if found is None:
                    raise
        self._record(change, found.group_id)
        if created:
            self.state.record_members(self.connection, change.external_id, added=[s for s, _ in created],
                                      run_id=self.run_id, at=now())
        elif found.name != change.name:
            self.sink.rename_group(found.group_id, change.name)
        return found, created

    def _record(self, change: GroupChange, group_id: str) -> None:
        self.state.record_group(self.connection, GroupLink(change.external_id, group_id, change.name, change.field),
                                self.run_id, now())
