"""What a snapshot sink implements: :class:`Snapshot` in, :class:`Delivery` out.

Data flow: some apps take the complete employee list as files each night and apply it themselves.
A sink that says so (:attr:`SnapshotMethods.takes_snapshots`) is never asked to create, update or
deactivate one person: the sync stage plans per person against what the last *delivered* snapshot
held (that diff is the run's report, judged by the guards before anything leaves), then hands the
sink everyone the file should hold, with their groups, in one :class:`Snapshot`. The sink delivers it
as one unit and answers with a :class:`Delivery`; only then does the state record the snapshot as
delivered. A crash before that answer means the next run delivers again: a snapshot is idempotent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class SnapshotGroup:
    """One group of the snapshot: an org unit of one of the connection's ``groups:`` fields."""

    #: The id the group carries in the app (``department:<unit id>`` by default; the ``groups:`` template).
    external_id: str
    name: str
    #: The org-unit field it comes from: ``department``, ``team``, ``office``…
    field: str
    #: The unit's id in the source.
    unit_id: str


@dataclass(frozen=True)
class SnapshotPerson:
    """One person of the snapshot."""

    #: The source's id for the person (the app's External ID: never the e-mail).
    external_id: str
    #: Sink field name -> value, as the sink's RecordSchema holds them (dates as ``YYYY-MM-DD`` strings).
    record: Mapping[str, Any]
    #: The external ids of the groups the person belongs to, in the order of the ``groups:`` fields.
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """The complete desired state one run hands a snapshot sink."""

    connection: str
    #: The run's day in the host's time zone (status rules such as "leavers stay N days" count from it).
    today: dt.date
    people: tuple[SnapshotPerson, ...]
    groups: tuple[SnapshotGroup, ...] = ()
    #: For each group external id, the external id of the group it sits under (absent: a top-level group).
    #: The source's hierarchy when it gives one; a sink may place groups itself.
    parents: Mapping[str, str] = field(default_factory=dict)
    #: External ids of people the last delivery held whose records this run could not use (skipped with a
    #: reason, or missing from one read and found again): keep their rows exactly as last delivered. hrsync
    #: keeps no clear copy of what it delivered (birthdays), so the sink takes the rows from its last file.
    kept_as_delivered: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """What the sink confirms it delivered: each file's name and size in bytes, as the server holds them."""

    files: Mapping[str, int]
    #: Where the files were written instead of delivered (a dry run); None when delivered.
    local_folder: Path | None = None


class SnapshotMethods:
    """The snapshot half of the sink contract (mixed into :class:`~hrsync.Sink`)."""

    #: True when the sink takes the complete desired state once per run instead of per-person writes.
    takes_snapshots: ClassVar[bool] = False

    def keeps(self, record: Mapping[str, Any], today: dt.date) -> bool:
        """Whether a person in scope belongs in today's snapshot (a sink's status rules: leavers kept
        for N days after their termination date, future hires from N days before they start)."""
        return True

    def deliver(self, snapshot: Snapshot) -> Delivery:
        """Deliver the whole snapshot as one unit, atomically (never a half-written file where the app
        reads), and return only once the server confirms it. Raise a
        :class:`~hrsync.errors.SinkError` (or :class:`~hrsync.errors.RetriableError`) when it did not."""
        raise NotImplementedError

    def write_locally(self, snapshot: Snapshot, folder: Path) -> Delivery:
        """Write the files a delivery would send into ``folder`` (``--dry-run``), sending nothing."""
        raise NotImplementedError
