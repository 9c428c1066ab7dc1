"""The people the benchmarks sync: Personio companies for the sandboxes, standard records for the engine.

:func:`company` is the Personio sandbox's own generated company (every status, non-ASCII
names, mixed-case e-mails); :func:`expected_creates` and :func:`change_some` give the
figures the exact request minimum is computed from, from the data alone (not from what
hrsync planned). :class:`GeneratedPeople` feeds the in-memory source records made on the
fly, so the source's data - a service elsewhere - does not count in hrsync's memory.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

from hrsync_plugins.personio.sandbox_data import attribute, generate_employees

SEED = 1


def company(count: int) -> list[dict[str, Any]]:
    return generate_employees(count, seed=SEED)


def _value(employee: dict[str, Any], key: str) -> Any:
    return (employee.get(key) or {}).get("value")


def held_by_sink(employee: dict[str, Any], today: dt.date | None = None) -> bool:
    """Whether the sink should hold this employee: not a leaver (status inactive or terminated before today),
    since leavers are not created (``create_leavers`` is off by default), nor a future hire (created on the hire
    date: ``pre_hire_days`` is 0 by default)."""
    today = today or dt.date.today()
    termination, hire = _value(employee, "termination_date"), _value(employee, "hire_date")
    return _value(employee, "status") != "inactive" and not (termination and termination[:10] < today.isoformat()) \
        and not (hire and hire[:10] > today.isoformat())


def expected_creates(employees: list[dict[str, Any]]) -> int:
    return sum(1 for e in employees if held_by_sink(e))


def change_some(employees: list[dict[str, Any]], share: float = 0.01) -> tuple[list[dict[str, Any]], int]:
    """A copy with ``share`` of the people (at least one) renamed, all among those the sink holds;
    returns it and how many changed (each needs exactly one PATCH)."""
    changed = copy.deepcopy(employees)
    wanted = max(1, round(len(employees) * share))
    held = [e for e in changed if held_by_sink(e)]
    step = max(1, len(held) // wanted)
    for employee in held[::step][:wanted]:
        employee["last_name"] = attribute("last_name", f"{_value(employee, 'last_name')}-Renamed")
    return changed, min(wanted, len(held))


FIRST = ["Anna", "Björn", "Zoë", "José", "Łukasz", "Chloé", "Søren", "Aino", "Oğuz", "Ingrid", "Mateo", "Yuki"]
LAST = ["Berg", "Müller", "Nowak", "García", "Lindqvist", "Dubois", "Virtanen", "Yılmaz", "Rossi", "Sato", "Weiß"]
# Made once: the source stands for a service elsewhere, so making a record should cost hrsync's clock little.
BIRTHDAYS = [(dt.date(1960, 1, 1) + dt.timedelta(days=d)).isoformat() for d in range(15000)]
HIRE_DATES = [(dt.date(2015, 1, 1) + dt.timedelta(days=d)).isoformat() for d in range(3000)]


class GeneratedPeople:
    """``count`` people in standard field names (the memory source's input), made while they are read.

    About 6 % are leavers (inactive, terminated). With ``changed_every`` every such person has a new
    last name, as if renamed since the previous run.
    """

    def __init__(self, count: int, *, prefix: str = "p", changed_every: int = 0) -> None:
        self.count, self.prefix, self.changed_every = count, prefix, changed_every

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self.person(i) for i in range(self.count))

    def leaver(self, i: int) -> bool:
        return i % 17 == 5

    def changed(self, i: int) -> bool:
        return bool(self.changed_every) and i % self.changed_every == 0 and not self.leaver(i)

    def person(self, i: int) -> dict[str, Any]:
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        if self.changed(i):
            last += "-Renamed"
        leaver = self.leaver(i)
        return {
            "id": f"{self.prefix}{i}", "email": f"{self.prefix}.{i}@example.com", "first_name": first,
            "last_name": last, "gender": ("female", "male", "diverse")[i % 3],
            "birthday": BIRTHDAYS[(i * 37) % 15000], "hire_date": HIRE_DATES[i % 3000],
            "termination_date": "2024-06-30" if leaver else None, "status": "inactive" if leaver else "active",
            "office": ("Stockholm", "Munich", "Madrid")[i % 3], "employment_type": "internal",
        }
