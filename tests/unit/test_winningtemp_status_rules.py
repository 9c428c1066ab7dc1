"""The File integration's status rules alone: who is in today's users file, at each boundary day."""

from __future__ import annotations

import datetime as dt

import pytest

from hrsync_plugins.winningtemp.file_settings import FileFormat, FileFormatSchema
from hrsync_plugins.winningtemp.status_rules import is_leaver, keeps

TERMINATION = dt.date(2024, 6, 30)
HIRE = dt.date(2024, 9, 1)
DAY = dt.timedelta(days=1)


def fmt(**settings) -> FileFormat:
    return FileFormatSchema().load(settings)


def leaver(status: str = "active") -> dict:
    return {"status": status, "hire_date": "2019-03-01", "termination_date": TERMINATION.isoformat()}


def hire() -> dict:
    return {"status": "onboarding", "hire_date": HIRE.isoformat(), "termination_date": None}


@pytest.mark.parametrize(("today", "expected"), [(TERMINATION - DAY, False), (TERMINATION, False),
                                                 (TERMINATION + DAY, True)])
def test_a_leaver_by_date_from_the_day_after_their_termination_date(today, expected):
    assert is_leaver(leaver(), today) is expected


def test_inactive_in_the_source_is_a_leaver_before_their_termination_date():
    assert is_leaver(leaver("inactive"), TERMINATION - 10 * DAY)
    assert is_leaver({"status": "inactive"}, TERMINATION)


@pytest.mark.parametrize("status", ["active", "inactive"])
@pytest.mark.parametrize(("today", "expected"), [(TERMINATION - DAY, True), (TERMINATION, True),
                                                 (TERMINATION + 30 * DAY, True), (TERMINATION + 31 * DAY, False)])
def test_leavers_stay_keep_leavers_days_after_their_termination_date(status, today, expected):
    assert keeps(leaver(status), today, fmt()) is expected  # the default: 30 days


@pytest.mark.parametrize(("today", "expected"), [(TERMINATION, True), (TERMINATION + DAY, False)])
def test_with_keep_leavers_days_0_a_leaver_drops_out_the_day_after_their_termination_date(today, expected):
    assert keeps(leaver(), today, fmt(keep_leavers_days=0)) is expected


def test_a_leaver_without_a_termination_date_stays():
    assert keeps({"status": "inactive", "termination_date": None}, dt.date(2099, 1, 1), fmt(keep_leavers_days=0))


@pytest.mark.parametrize(("today", "expected"), [(HIRE - DAY, False), (HIRE, True), (HIRE + DAY, True)])
def test_a_future_hire_appears_on_their_hire_date(today, expected):
    assert keeps(hire(), today, fmt()) is expected


@pytest.mark.parametrize(("today", "expected"), [(HIRE - 15 * DAY, False), (HIRE - 14 * DAY, True),
                                                 (HIRE - 13 * DAY, True)])
def test_a_future_hire_appears_pre_hire_days_before_their_hire_date(today, expected):
    assert keeps(hire(), today, fmt(pre_hire_days=14)) is expected


def test_someone_without_dates_is_kept():
    assert keeps({"status": "active"}, HIRE, fmt(keep_leavers_days=0))
    assert keeps({}, HIRE, fmt())
