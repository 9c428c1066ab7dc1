"""Where each group of the File integration sits: the rows of the groups file, parents before children.

Data flow: :mod:`.file_format` asks :func:`group_rows` for the groups file's rows of a Snapshot. The hierarchy
(``hierarchy`` and ``root_group`` in :class:`~.file_settings.FileFormat`):

* ``nested``: a parent the source gave (``Snapshot.parents``) wins when that parent is in the file. Otherwise a
  team sits under a department when every member of the team in the snapshot belongs to exactly that one
  department; a team whose members span departments, or have none, or that has no members, is top-level.
  Departments and every other group are top-level.
* ``flat``: every group is top-level.

Top-level groups sit under ``root_group`` when one is set, which is written first. Pure, and stable: siblings
are ordered by External ID, so the same snapshot always gives the same rows.
"""

from __future__ import annotations

from typing import NamedTuple

from hrsync import SinkError
from hrsync.sink_snapshots import Snapshot, SnapshotGroup

from .file_settings import FLAT, FileFormat

DEPARTMENT, TEAM = "department", "team"


class GroupRow(NamedTuple):
    external_id: str
    name: str
    #: The External ID of the group it sits under; None for the top of the file.
    parent_external_id: str | None


def group_rows(snapshot: Snapshot, fmt: FileFormat) -> list[GroupRow]:
    """Every group of the file (the root group first, when set), each after the group it sits under."""
    known = {group.external_id: group for group in snapshot.groups}
    root = fmt.root_group
    if root is not None and root.external_id in known:
        raise SinkError(f"root_group's External ID {root.external_id!r} is also a group of the source's: give the "
                        "root group an External ID of its own.", connection=snapshot.connection)
    parents = {} if fmt.hierarchy == FLAT else _parents(snapshot, known)
    children: dict[str | None, list[str]] = {}
    for external_id in sorted(known):
        children.setdefault(parents.get(external_id), []).append(external_id)
    rows = [GroupRow(root.external_id, root.name, None)] if root is not None else []
    top = root.external_id if root is not None else None
    # Depth first, without recursion: a group's row, then its children's subtrees, in External ID order.
    stack = [(external_id, top) for external_id in reversed(children.get(None, []))]
    while stack:
        external_id, parent = stack.pop()
        rows.append(GroupRow(external_id, known[external_id].name, parent))
        stack.extend((child, external_id) for child in reversed(children.get(external_id, [])))
    placed = {row.external_id for row in rows}
    if len(placed) < len(known) + (root is not None):
        stuck = sorted(set(known) - placed)
        raise SinkError(f"The source's group hierarchy has a cycle: {', '.join(stuck)} never reach the top, so no "
                        "order puts each parent first. Fix the parents in the source.", connection=snapshot.connection)
    return rows


def _parents(snapshot: Snapshot, known: dict[str, SnapshotGroup]) -> dict[str, str]:
    """Group external id -> the external id of the group it sits under, for the groups that are not top-level."""
    departments_of: dict[str, set[str | None]] = {}
    for person in snapshot.people:
        departments = {g for g in person.groups if g in known and known[g].field == DEPARTMENT}
        department = departments.pop() if len(departments) == 1 else None
        for group in person.groups:
            if group in known and known[group].field == TEAM:
                departments_of.setdefault(group, set()).add(department)
    parents = {team: next(iter(departments)) for team, departments in departments_of.items()
               if len(departments) == 1 and None not in departments}
    # The source's own hierarchy wins; a parent missing from the file cannot be referred to, so it is not used.
    parents.update({child: parent for child, parent in snapshot.parents.items()
                    if child in known and parent in known})
    return parents
