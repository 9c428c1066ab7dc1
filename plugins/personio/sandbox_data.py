"""Personio-shaped data for the sandbox: attribute objects, attribute catalogues, generated companies,
list responses.

Employees are held as Personio sends them: ``{key: {"label", "value", "type", "universal_id"}}``.
A company's **attribute catalogue** (key → label, type, universal id) is what
``/company/employees/attributes`` lists: the generated company's (:data:`GENERATED_ATTRIBUTES`,
with the birthday under ``dynamic_1146702``), or the one a data file carries
(:func:`attributes_of`), with the birthday wherever that company keeps its ``date_of_birth``.
:func:`generate_employees` makes a deterministic company with the edge cases real data has;
its e-mail addresses transliterate names letter by letter (:func:`ascii_letters`).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

BIRTHDAY_KEY = "dynamic_1146702"
BIRTHDAY_UNIVERSAL_ID = "date_of_birth"
LABELS = {
    "id": "ID", "first_name": "First name", "last_name": "Last name", "preferred_name": "Name (preferred)",
    "email": "Email", "gender": "Gender", "status": "Status", "position": "Position",
    "supervisor": "Supervisor", "employment_type": "Employment type", "hire_date": "Hire date",
    "termination_date": "Termination date", "created_at": "created_at", "last_modified_at": "Last modified",
    "office": "Office", "department": "Department", "team": "Team", BIRTHDAY_KEY: "Date of birth",
}
TYPES = {"id": "integer", "hire_date": "date", "termination_date": "date", "created_at": "date",
         "last_modified_at": "date", BIRTHDAY_KEY: "date"}
UNIVERSAL = {BIRTHDAY_KEY: BIRTHDAY_UNIVERSAL_ID}
NESTED = {"office": "Office", "department": "Department", "team": "Team"}


def _described(key: str) -> dict[str, Any]:
    """How a key nobody described is listed: its own name, plain, its universal id unless custom."""
    return {"label": key, "type": "standard", "universal_id": None if key.startswith("dynamic_") else key}


#: The generated company's attribute catalogue (``id`` included; the attribute listing leaves it out).
GENERATED_ATTRIBUTES = {key: {"label": label, "type": TYPES.get(key, "standard"),
                              "universal_id": UNIVERSAL.get(key, _described(key)["universal_id"])}
                        for key, label in LABELS.items()}


def attributes_of(employees: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The attribute catalogue Personio-shaped data carries: each key, in the order it first appears, described
    (label, type, universal id) by the first attribute object that holds it."""
    catalogue: dict[str, dict[str, Any]] = {}
    for employee in employees:
        for key, obj in employee.items():
            if key not in catalogue:
                catalogue[key] = described_by(key, obj)
    return catalogue


def described_by(key: str, obj: Any) -> dict[str, Any]:
    """An attribute object's description (label, type, universal id), what it lacks filled as for a bare key."""
    fallback = _described(key)
    if not isinstance(obj, Mapping):
        return fallback
    return {name: obj.get(name, fallback[name]) for name in ("label", "type", "universal_id")}


def birthday_key(catalogue: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The key of the company's date of birth (``universal_id`` ``date_of_birth``), or None."""
    return next((k for k, a in catalogue.items() if a.get("universal_id") == BIRTHDAY_UNIVERSAL_ID), None)


def attribute(key: str, value: Any, catalogue: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """One attribute object as Personio sends it, described by ``catalogue`` (default: the generated company's)."""
    if key in NESTED and isinstance(value, str):
        value = {"type": NESTED[key], "attributes": {"id": _stable_id(value), "name": value}}
    described = (GENERATED_ATTRIBUTES if catalogue is None else catalogue).get(key) or _described(key)
    return {"label": described["label"], "value": value, "type": described["type"],
            "universal_id": described["universal_id"]}


def _stable_id(name: str) -> int:
    return 100000 + sum(ord(c) * (i + 1) for i, c in enumerate(name)) % 900000


def employee_of(values: Mapping[str, Any], catalogue: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """An employee's attribute objects from plain values, described by the company's ``catalogue``;
    ``birthday`` names its date-of-birth attribute (a ValueError when the company has none)."""
    values = dict(values)
    if "birthday" in values:
        key = birthday_key(catalogue)
        if key is None:
            raise ValueError("this company has no date-of-birth attribute (universal_id date_of_birth)")
        values[key] = values.pop("birthday")
    return {key: attribute(key, value, catalogue) for key, value in values.items()}


def make_employee(**values: Any) -> dict[str, dict[str, Any]]:
    """An employee of the generated company from plain values; ``birthday`` goes to the dynamic key."""
    return employee_of(values, GENERATED_ATTRIBUTES)


FIRST = ["Anna", "Åsa", "Björn", "Zoë", "José", "Łukasz", "Chloé", "Jürgen", "Søren", "Aino", "Małgorzata",
         "Oğuz", "Nils", "Sofia", "Lars", "Émile", "Ingrid", "Mateo", "Yuki", "Fatima", "Henrik", "Leonie",
         "Paul", "Noor", "Olga", "Tomás", "Katarzyna", "Mika", "Elin", "Jonas"]
LAST = ["Berg", "Öberg", "Müller", "Nowak", "García", "Lindqvist", "Dubois", "Østergaard", "Virtanen",
        "Yılmaz", "Schmidt", "Andersson", "Kowalski", "Rossi", "Sato", "Haddad", "Johansson", "Fischer",
        "Novák", "Eriksson", "Nieminen", "Åkesson", "Weiß", "O'Brien", "van der Berg", "Karlsson"]
OFFICES = ["Stockholm", "Munich", "Madrid", "Berlin", "Malmö"]
DEPARTMENTS = ["Engineering", "Sales", "Customer Support", "People", "Finance", "Marketing"]
POSITIONS = ["Engineer", "Account Executive", "Support Specialist", "HR Partner", "Controller", "Designer"]
OFFSETS = ["+01:00", "+0100", "+02:00", "+00:53", "+00:00"]


#: Latin letters that NFKD does not split into an ASCII letter and a mark, in their usual ASCII spelling
#: (Ø → O, Æ → Ae, ß → ss, Ł → L); every other accented letter (é, ö, å, ğ, ñ, …) becomes NFKD's base letter.
#: A small table rather than a transliteration library: this is sandbox data, and anyascii (ISC) would be a
#: runtime dependency for it (Unidecode is GPL). :func:`ascii_letters` refuses a letter it cannot spell.
LETTERS = str.maketrans({"Ø": "O", "ø": "o", "Æ": "Ae", "æ": "ae", "Œ": "Oe", "œ": "oe", "ß": "ss", "ẞ": "SS",
                         "Ł": "L", "ł": "l", "ı": "i", "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Þ": "Th",
                         "þ": "th", "Ħ": "H", "ħ": "h", "Ŧ": "T", "ŧ": "t", "Ŀ": "L", "ŀ": "l"})


def ascii_letters(text: str) -> str:
    """A name's letters and digits in lower-case ASCII for an e-mail address, every letter kept (``Søren
    Østergaard`` → ``sorenostergaard``, ``Weiß`` → ``weiss``); other characters (spaces, apostrophes) are left out.
    A ValueError names a letter that has no ASCII form here, rather than drop it."""
    out = []
    for char in text.translate(LETTERS):
        ascii_form = "".join(c for c in unicodedata.normalize("NFKD", char) if c.isascii() and c.isalnum())
        if char.isalnum() and not ascii_form:
            raise ValueError(f"no ASCII form for {char!r} in {text!r}: add it to sandbox_data.LETTERS")
        out.append(ascii_form)
    return "".join(out).lower()


def generate_employees(count: int, seed: int = 1, *, today: dt.date | None = None,
                       duplicate_emails: int = 0, domain: str = "example.com") -> list[dict[str, Any]]:
    """A deterministic company of ``count`` people with the edge cases real data has.

    Non-ASCII names, every status, future hires, past terminations, missing birthdays,
    mixed-case e-mails, dates with ``+01:00``/``+0100``/``+00:53`` offsets, and
    ``duplicate_emails`` pairs sharing one address.
    """
    rng = random.Random(seed)
    today = today or dt.date.today()
    people = []
    used: set[str] = set()
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{ascii_letters(first)}.{ascii_letters(last)}"
        while local in used:
            local = f"{ascii_letters(first)}.{ascii_letters(last)}{rng.randint(2, 9999)}"
        used.add(local)
        email = f"{local}@{domain}"
        if i % 7 == 3:
            email = email.title()  # mixed case, as HR types it
        roll = rng.random()
        hire = today - dt.timedelta(days=rng.randint(30, 4000))
        termination = None
        status = "active"
        if roll < 0.06:
            status, hire = "onboarding", today + dt.timedelta(days=rng.randint(1, 60))
        elif roll < 0.10:
            status = "leave"
        elif roll < 0.16:
            status = "inactive"
            termination = today - dt.timedelta(days=rng.randint(1, 400))
        offset = rng.choice(OFFSETS)
        birthday = None if rng.random() < 0.1 else (
            dt.date(1960, 1, 1) + dt.timedelta(days=rng.randint(0, 15000))).isoformat()
        people.append(make_employee(
            id=1000 + i,
            first_name=first,
            last_name=last,
            preferred_name=f"{first} {last}",
            email=email,
            gender=rng.choice(["male", "female", "diverse", ""]),
            status=status,
            position=rng.choice(POSITIONS),
            employment_type="external" if rng.random() < 0.05 else "internal",
            hire_date=f"{hire.isoformat()}T00:00:00{offset}",
            termination_date=None if termination is None else f"{termination.isoformat()}T00:00:00{offset}",
            created_at=f"{(hire - dt.timedelta(days=20)).isoformat()}T09:49:03+02:00",
            last_modified_at=f"{today.isoformat()}T03:00:00+01:00",
            office=rng.choice(OFFICES),
            department=rng.choice(DEPARTMENTS),
            team=f"Team {rng.randint(1, 12)}",
            birthday=birthday,
        ))
    for k in range(min(duplicate_emails, count // 2)):
        people[2 * k + 1]["email"] = copy.deepcopy(people[2 * k]["email"])
    return people


def load_list_response(path) -> list[dict[str, Any]]:
    """Employees from a file holding what ``GET /v1/company/employees`` returns."""
    with open(path, encoding="utf-8") as fh:
        body = json.load(fh)
    return [item["attributes"] for item in body["data"]]


def list_response(employees: list[dict[str, Any]], offset: int = 0, limit: int | None = None) -> dict[str, Any]:
    limit = limit or len(employees) or 1
    return {
        "success": True,
        "metadata": {"total_elements": len(employees), "current_page": offset // limit,
                     "total_pages": max(1, -(-len(employees) // limit))},
        "offset": offset, "limit": limit,
        "data": [{"type": "Employee", "attributes": e} for e in employees[offset:offset + limit]],
    }
