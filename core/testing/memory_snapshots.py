"""The in-memory snapshot sink: the smallest complete sink that takes the whole desired state once per run.

It "uploads" a snapshot into ``MemoryWorld.delivered`` (the rows the app would read, by external id) and
appends it to ``MemoryWorld.deliveries``; rows the snapshot asks to keep as last delivered are copied
from the previous delivery, as a file sink copies them from the file on its server. Switches:
``fail_delivery`` (deliveries fail while it is set, nothing changes) and ``keep_only`` (status rules: the
source ids the sink keeps; None keeps everyone). Its sandbox, :class:`MemorySnapshotSandbox`, is
what the harness's snapshot suite drives.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from marshmallow import EXCLUDE, Schema, fields

from ..connectors import Sink
from ..errors import SinkError
from ..fields import standard_field
from ..sandbox.contract import Write
from ..sandbox.snapshots import SnapshotSinkSandbox
from ..sink_snapshots import Delivery, Snapshot
from .memory import MemoryConfig, MemoryWorld


class MemorySnapshotRecord(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(allow_none=True, metadata={"standard": "id", "description": "The source's id."})
    email = standard_field("email", required=True)
    first_name = standard_field("first_name")
    last_name = standard_field("last_name")
    gender = standard_field("gender")
    birthday = standard_field("birthday")
    status = standard_field("status")
    termination_date = standard_field("termination_date")


def rows_of(snapshot: Snapshot, previous: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows a delivery of ``snapshot`` holds: its people, and the kept ones as ``previous`` held them."""
    rows = {p.external_id: {**p.record, "groups": list(p.groups)} for p in snapshot.people}
    rows.update({i: previous[i] for i in snapshot.kept_as_delivered if i in previous})
    return rows


class MemorySnapshotSink(Sink):
    name: ClassVar[str] = "memory-snapshot"
    ConfigSchema = MemoryConfig
    RecordSchema = MemorySnapshotRecord
    takes_snapshots: ClassVar[bool] = True

    @property
    def world(self) -> MemoryWorld:
        return self.settings["world"]

    def keeps(self, record: Mapping[str, Any], today: dt.date) -> bool:
        return self.world.keep_only is None or record.get("id") in self.world.keep_only

    def deliver(self, snapshot: Snapshot) -> Delivery:
        world = self.world
        with world.lock:
            world.calls.append(("deliver", len(snapshot.people)))
            if world.fail_delivery:
                raise SinkError("memory snapshot sink: the delivery failed (fail_delivery switch)")
            world.delivered = rows_of(snapshot, world.delivered)
            world.delivered_groups = {g.external_id: g.name for g in snapshot.groups}
            world.deliveries.append(snapshot)
            return Delivery({"people.json": len(world.delivered)})

    def write_locally(self, snapshot: Snapshot, folder: Path) -> Delivery:
        path = folder / "people.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(rows_of(snapshot, self.world.delivered), fh, sort_keys=True)
        return Delivery({path.name: path.stat().st_size}, local_folder=folder)


class MemorySnapshotSandbox(SnapshotSinkSandbox):
    """The memory snapshot sink's "server": what its last delivery held."""

    name = "memory-snapshot"

    def __init__(self, **settings: Any) -> None:
        self.world = MemoryWorld()
        self.extra = settings
        self._seen = 0

    def settings(self) -> dict[str, Any]:
        return {"world": self.world, **self.extra}

    def held(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.world.delivered.values()]

    def writes(self) -> list[Write]:
        return [Write("deliver") for kind, _ in self.world.calls[self._seen:] if kind == "deliver"]

    def clear(self) -> None:
        self._seen = len(self.world.calls)

    def refuse_deliveries(self, refuse: bool) -> None:
        self.world.fail_delivery = refuse

    def preview(self, lines: int = 5) -> list[str]:
        rows = sorted(self.world.delivered.items())[:lines]
        return [f"{i}: {row.get('first_name')} {row.get('last_name')} <{row.get('email')}>" for i, row in rows]
