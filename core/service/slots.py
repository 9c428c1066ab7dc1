"""The daemon's daily slot: HH:MM wall-clock time in the host's time zone, once per local day, DST included.

Data flow: :func:`hrsync.service.daemon.build_jobs` puts a :class:`DailySlot` on the daemon's
``schedule.Scheduler`` for each connection with ``daily_at``. The ``schedule`` library (1.2) computes a
zoned daily job's next run by adding a day to the last one and converting back, which the day after the
spring change ran a 02:00 job at 01:00 and again at 02:00. Here each next run is the next local day's
HH:MM, worked out with zoneinfo from the calendar date: a time the spring change skips (02:30) runs once,
an hour later by the clock (03:30); a time the autumn change repeats runs once, at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import schedule


def next_slot(now: dt.datetime, at: str, timezone: str) -> dt.datetime:
    """The first HH:MM ``at`` in ``timezone`` strictly after ``now`` (aware), as an aware datetime."""
    zone = zoneinfo.ZoneInfo(timezone)
    hour, minute = (int(part) for part in at.split(":"))
    day = now.astimezone(zone).date()
    for offset in range(3):
        # fold=0: a skipped time means the offset before the change (02:30 CET is 03:30 CEST), a repeated
        # time its first occurrence; the round trip through UTC settles both.
        slot = dt.datetime.combine(day + dt.timedelta(days=offset), dt.time(hour, minute), zone)
        slot = slot.astimezone(dt.UTC).astimezone(zone)
        if slot > now:
            return slot
    raise AssertionError("unreachable: a later day always has the slot")


class DailySlot(schedule.Job):
    """A ``schedule`` job run daily at ``at`` in ``timezone`` (see the module's docstring)."""

    def __init__(self, scheduler: schedule.Scheduler, at: str, timezone: str) -> None:
        super().__init__(1, scheduler)
        self.unit, self.slot_at, self.slot_timezone = "days", at, timezone

    def _schedule_next_run(self) -> None:
        # ``schedule`` compares next_run with the machine's naive local time.
        now = dt.datetime.now().astimezone()
        self.next_run = next_slot(now, self.slot_at, self.slot_timezone).astimezone().replace(tzinfo=None)

    def __repr__(self) -> str:
        return f"DailySlot(at {self.slot_at} {self.slot_timezone}, next run {self.next_run})"
