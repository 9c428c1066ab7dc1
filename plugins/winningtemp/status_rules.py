"""Who is in the File integration's users file today, and who is written there as a leaver.

Data flow: the file sink's ``keeps`` asks :func:`keeps` about each person in scope before the engine builds the
run's Snapshot (the file holds only those kept); :mod:`.file_format` asks :func:`is_leaver` which of them to
write as inactive. Pure: the day is given (the run's day in the host's time zone), dates are ``YYYY-MM-DD``.

Winningtemp removes users missing from the file (its "user removal" rule), so dropping a person from the file is
what ends them there: leavers are kept for ``keep_leavers_days`` first, written inactive, so their history stays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .file_settings import FileFormat


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def is_leaver(record: Mapping[str, Any], today: dt.date) -> bool:
    """Inactive in the source, or past their termination date (their last day of employment)."""
    termination = _date(record.get("termination_date"))
    return record.get("status") == "inactive" or (termination is not None and termination < today)


def keeps(record: Mapping[str, Any], today: dt.date, fmt: FileFormat) -> bool:
    """Whether the person belongs in today's users file.

    A future hire enters ``pre_hire_days`` before their hire date. A leaver stays ``keep_leavers_days`` after
    their termination date, then drops out; a leaver without a termination date stays, since there is no day to
    count from (a scope filter can exclude them).
    """
    hire = _date(record.get("hire_date"))
    if hire is not None and today < hire - dt.timedelta(days=fmt.pre_hire_days):
        return False
    termination = _date(record.get("termination_date"))
    if termination is not None and is_leaver(record, today):
        return today <= termination + dt.timedelta(days=fmt.keep_leavers_days)
    return True
