"""The memory sink's groups: the smallest complete implementation of the sink's group methods.

Groups live in ``MemoryWorld.groups`` (group id → :class:`MemoryGroup`); every call is recorded in
``MemoryWorld.calls`` like the people writes, so a test can assert "no group write". The world's
``group_conflicts`` switch answers a create as a duplicate name would be (a 409), once per name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConflictError
from ..sink_groups import SinkGroup

GROUP_WRITES = ("create_group", "rename_group", "add_members", "remove_members")


@dataclass
class MemoryGroup:
    name: str
    external_id: str | None = None
    members: set[str] = field(default_factory=set)


class MemoryGroups:
    """Group methods for :class:`~hrsync.testing.memory.MemorySink` (needs ``self.world``)."""

    holds_groups: bool = True
    member_batch: int = 50
    world: Any

    def _group(self, group_id: str, group: MemoryGroup) -> SinkGroup:
        return SinkGroup(group_id, group.external_id, group.name)

    def find_group(self, external_id: str, name: str) -> SinkGroup | None:
        with self.world.lock:
            self.world.calls.append(("find_group", external_id))
            for group_id, group in self.world.groups.items():
                if group.external_id == external_id:
                    return self._group(group_id, group)
            for group_id, group in self.world.groups.items():
                if group.external_id is None and group.name.lower() == name.lower():
                    group.external_id = external_id  # adopted: from now on found by its external id
                    return self._group(group_id, group)
        return None

    def create_group(self, external_id: str, name: str, member_ids: list[str]) -> SinkGroup:
        with self.world.lock:
            self.world.calls.append(("create_group", name))
            if name in self.world.group_conflicts:
                self.world.group_conflicts.discard(name)
                raise ConflictError(f"a group named {name} exists", record=name)
            group_id = f"g{len(self.world.groups) + 1}"
            self.world.groups[group_id] = MemoryGroup(name, external_id, set(member_ids))
            return SinkGroup(group_id, external_id, name)

    def rename_group(self, group_id: str, name: str) -> None:
        with self.world.lock:
            self.world.calls.append(("rename_group", (group_id, name)))
            self.world.groups[group_id].name = name

    def add_members(self, group_id: str, member_ids: list[str]) -> None:
        with self.world.lock:
            self.world.calls.append(("add_members", (group_id, tuple(member_ids))))
            self.world.groups[group_id].members.update(member_ids)

    def remove_members(self, group_id: str, member_ids: list[str]) -> None:
        with self.world.lock:
            self.world.calls.append(("remove_members", (group_id, tuple(member_ids))))
            self.world.groups[group_id].members.difference_update(member_ids)

    def group_members(self, group_id: str) -> list[str]:
        with self.world.lock:
            self.world.calls.append(("group_members", group_id))
            return sorted(self.world.groups[group_id].members)
