"""The snapshot stage: for a sink that takes the whole desired state once per run (``takes_snapshots``).

Data flow: the engine validates, scopes and plans as for any sink, against what the last *delivered*
snapshot held (the state's links and applied values: that diff is the report), and the guards judge
the plan. Then, instead of the applier's per-person writes, :class:`SnapshotStage` builds one
:class:`~hrsync.sink_snapshots.Snapshot` - everyone in the file with their groups - and hands it to
the sink once. Only after the sink confirms the delivery are all the run's outcomes recorded, in one
transaction: a crash before that leaves the state as it was, and the next run delivers again (the
same snapshot: delivery is idempotent). A run with nothing to change delivers nothing (``--full``
delivers anyway). A dry run writes the files into a folder beside the state and uploads nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from ..connectors import RunContext, Sink
from ..errors import GuardError, RunError
from ..plan import APPLIED, CREATE, DEACTIVATE, GROUP_CHANGED, GROUP_CREATED, UNCHANGED, UPDATE, GroupLine, Plan
from ..sink_snapshots import Delivery, Snapshot, SnapshotGroup, SnapshotPerson
from ..state.groups import GroupLink
from ..state.history import now
from ..state.store import Link, LogEntry, State
from .group_applier import gone_lines
from .groups import GroupPlan
from .records import Records

log = logging.getLogger("hrsync.sync.snapshot")

IN_FILE = (CREATE, UPDATE, UNCHANGED)


def keep_for_snapshot(records: Records, sink: Sink, context: RunContext, *, only: str | None) -> Records:
    """Apply the sink's status rules (``keeps``): people it does not hold today are out of scope (present in
    the source, so never "missing"; a linked one leaves the file)."""
    if only:
        raise RunError(f"--only cannot be used with {type(sink).label()}: each delivery is the whole file, "
                       "everyone in it.", connection=context.connection)
    kept = []
    for person in records.people:
        if sink.keeps(person.desired, context.today):
            kept.append(person)
        else:
            records.out_of_scope.add(person.source_id)
    records.people = kept
    return records


class SnapshotStage:
    """Builds the run's snapshot, delivers it (or writes it locally) and records what was delivered."""

    def __init__(self, run_id: int | None, sink: Sink, state: State, context: RunContext, sensitive: set[str],
                 notices: list[str]) -> None:
        self.connection, self.run_id, self.sink, self.state = context.connection, run_id, sink, state
        self.context, self.digests, self.sensitive = context, state.digests, sensitive
        #: The report's lines about the delivery (the caller's list: kept when the delivery fails).
        self.notices = notices

    def run(self, plan: Plan, links: Mapping[str, Link], groups: GroupPlan | None, *, dry_run: bool,
            full: bool, override_guards: bool, unreadable: set[str]) -> None:
        """``unreadable``: sink fields the source could not read this run (the file would hold them blank)."""
        snapshot = self.build(plan, links, groups)
        if not override_guards:
            self._guard(snapshot, links, unreadable)
        if dry_run:
            delivery = self.sink.write_locally(snapshot, self._dry_run_folder())
            self.notices.append(f"Dry run: the files a delivery would send are in {delivery.local_folder} "
                                f"({_sizes(delivery)}); nothing was uploaded. They hold personal data: remove "
                                "them when you have looked.")
            return
        changed = any(a.kind in (CREATE, UPDATE, DEACTIVATE) for a in plan.actions) or (
            groups is not None and bool(groups.writes))
        if not changed and not full:
            self.notices.append("Nothing changed since the last delivery, so no file was sent (--full sends one).")
            return
        delivery = self.sink.deliver(snapshot)
        self.notices.append(f"Delivered {_sizes(delivery)}; the service confirmed each file.")
        self._record(plan, links, groups)

    def _guard(self, snapshot: Snapshot, links: Mapping[str, Link], unreadable: set[str]) -> None:
        """What no per-person guard sees: a file holding nobody, or a column the source could not fill."""
        if not snapshot.people:
            delivered = sum(1 for link in links.values() if not link.deactivated)
            raise GuardError(f"This run's file would hold nobody, so it was not delivered ({delivered} people were "
                             "in the last one). If that is right, re-run with --override-guards.",
                             connection=self.connection, guard="empty_snapshot")
        blank = sorted(unreadable & set(type(self.sink).RecordSchema().fields))
        if blank:
            raise GuardError(f"The source could not be read for {', '.join(blank)} this run, so the file would hold "
                             "it blank for everyone; nothing was delivered. Give the credential access again, or "
                             "leave the column out of the file; to send it blank, re-run with --override-guards.",
                             connection=self.connection, guard="blank_column")

    def build(self, plan: Plan, links: Mapping[str, Link], groups: GroupPlan | None) -> Snapshot:
        in_file = [a for a in plan.actions if a.kind in IN_FILE and a.source_id]
        ids = {a.source_id for a in in_file}
        leaving = {a.source_id for a in plan.actions if a.kind == DEACTIVATE}
        kept = sorted(s for s, link in links.items() if not link.deactivated and s not in ids and s not in leaving)
        snapshot_groups, member_of = self._groups(groups, ids | set(kept))
        people = tuple(SnapshotPerson(a.source_id, dict(a.desired or {}), tuple(member_of.get(a.source_id, ())))
                       for a in sorted(in_file, key=lambda a: a.source_id))
        return Snapshot(self.connection, self.context.today, people, tuple(snapshot_groups),
                        kept_as_delivered=tuple(kept))

    def _groups(self, groups: GroupPlan | None,
                in_file: set[str]) -> tuple[list[SnapshotGroup], dict[str, list[str]]]:
        if groups is None:
            return [], {}
        links = self.state.group_links(self.connection)
        made = self.state.memberships(self.connection)
        wanted = {c.external_id: (c.field, c.name) for c in groups.changes}
        members = dict(groups.desired)
        for external_id, link in links.items():
            wanted.setdefault(external_id, (link.field, link.name))  # never dropped: groups are not deleted
            if link.field in groups.skipped_fields:
                members[external_id] = made.get(external_id, set())  # unreadable this run: as last delivered
        out, member_of = [], {}
        for external_id, (field, name) in sorted(wanted.items()):
            unit_id = external_id.split(":", 1)[-1]
            out.append(SnapshotGroup(external_id, name, field, unit_id))
            for source_id in sorted(members.get(external_id, set()) & in_file):
                member_of.setdefault(source_id, []).append(external_id)
        return out, member_of

    def _record(self, plan: Plan, links: Mapping[str, Link], groups: GroupPlan | None) -> None:
        """Every outcome of a confirmed delivery, in one transaction."""
        at = now()
        with self.state.batch(outermost=True):
            for action in plan.actions:
                if action.kind not in (CREATE, UPDATE, DEACTIVATE) or not action.source_id:
                    continue
                if action.kind == DEACTIVATE:
                    previous = links.get(action.source_id)
                    before = self.state.applied(self.connection, [action.source_id]).get(action.source_id, {})
                    link = Link(action.source_id, action.source_id, previous.email_key if previous else action.email,
                                {**before, "active": False}, deactivated=True)
                else:
                    link = Link(action.source_id, action.source_id, action.email,
                                self.digests.protect(action.desired, self.sensitive, action.source_id))
                entry = LogEntry(self.run_id, action.source_id, action.person, action.kind,
                                 action.public_changes(self.sensitive), APPLIED, "; ".join(action.notes))
                self.state.record_applied(self.connection, entry, link)
                action.outcome = APPLIED
            if groups is not None:
                plan.groups = self._record_groups(groups, at) + gone_lines(groups)

    def _record_groups(self, groups: GroupPlan, at: str) -> list[GroupLine]:
        lines = []
        for change in groups.writes:
            self.state.record_group(self.connection, GroupLink(change.external_id, change.external_id, change.name,
                                                               change.field), self.run_id, at)
            self.state.record_members(self.connection, change.external_id, added=change.add, removed=change.remove,
                                      run_id=self.run_id, at=at)
            lines.append(GroupLine(GROUP_CREATED if change.creates else GROUP_CHANGED, change.name, change.field,
                                   change.renamed_from, len(change.add), change.removals, outcome=APPLIED))
        return lines

    def _dry_run_folder(self) -> Path:
        """A new folder beside the state, readable by its owner only: the files hold birthdays."""
        base = Path(self.state.path).resolve().parent / "dry-runs"
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = base / f"{self.connection}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)
        return folder


def _sizes(delivery: Delivery) -> str:
    return ", ".join(f"{name} ({size:,} bytes)" for name, size in sorted(delivery.files.items()))
