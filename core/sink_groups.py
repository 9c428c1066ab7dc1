"""What a sink that holds groups implements: :class:`SinkGroup` and the group methods of :class:`~hrsync.Sink`.

Data flow: after a run's people writes, the sync stage (:mod:`hrsync.sync.group_applier`) finds or
creates one group per org unit of the connection's ``groups:`` fields, renames it when the unit
was renamed, and adds and removes members by their sink ids - in batches, never a whole member
list. A sink says it can with :attr:`GroupMethods.holds_groups` (and, once open, with
:meth:`GroupMethods.groups_available`); a sink that cannot never receives groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class SinkGroup:
    """One group as the sink holds it: its id, the external id hrsync gave it (if any) and its name."""

    group_id: str
    external_id: str | None
    name: str


class GroupMethods:
    """The group half of the sink contract (mixed into :class:`~hrsync.Sink`)."""

    #: True when the sink can hold groups (department and team groups, say); then implement the methods below.
    holds_groups: ClassVar[bool] = False
    #: How many member ids one add or remove call may carry.
    member_batch: ClassVar[int] = 100

    def groups_available(self) -> bool:
        """Whether the service takes groups this run (called after ``open()``). A sink whose service
        turns out not to offer groups warns once (``context.warn``) and returns False."""
        return self.holds_groups

    def find_group(self, external_id: str, name: str) -> SinkGroup | None:
        """The group carrying ``external_id``, else one named ``name`` that carries no external id (an
        admin's group hrsync may adopt); None when there is neither."""
        raise NotImplementedError

    def create_group(self, external_id: str, name: str, member_ids: list[str]) -> SinkGroup:
        """Create a group with these first members (at most :attr:`member_batch`). A
        :class:`~hrsync.errors.ConflictError` means the name is taken: hrsync then looks it up."""
        raise NotImplementedError

    def rename_group(self, group_id: str, name: str) -> None:
        raise NotImplementedError

    def add_members(self, group_id: str, member_ids: list[str]) -> None:
        """Add members (sink ids); adding someone already a member must not fail."""
        raise NotImplementedError

    def remove_members(self, group_id: str, member_ids: list[str]) -> None:
        """Remove members (sink ids); removing someone not a member must not fail."""
        raise NotImplementedError

    def group_members(self, group_id: str) -> Iterable[str]:
        """Every member's sink id (asked only under ``memberships: overwrite``)."""
        raise NotImplementedError
