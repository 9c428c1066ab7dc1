"""The standard employee field vocabulary shared by every source and sink.

Plugins name their record fields after this vocabulary where a field applies, so a
new source works with an existing sink without a hand mapping: the default mapping
is "same name to same name". Build RecordSchema fields with :func:`standard_field`;
the field then carries the vocabulary's type, allowed values and description.

Inside the engine, record values are JSON-shaped: dates are ``YYYY-MM-DD`` strings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields, validate

from .emails import email_problem, nfc

GENDERS = ("male", "female", "diverse")
STATUSES = ("onboarding", "active", "leave", "inactive")


@dataclass(frozen=True)
class StandardField:
    name: str
    type: str  # string | email | date | datetime | boolean | enum | orgunit
    description: str
    allowed: tuple[str, ...] | None = None
    sensitive: bool = False


STANDARD_FIELDS: dict[str, StandardField] = {
    f.name: f
    for f in [
        StandardField("id", "string", "The person's id in the system that holds the record."),
        StandardField("email", "email", "Work e-mail; the matching key between source and sink."),
        StandardField("first_name", "string", "Given name."),
        StandardField("last_name", "string", "Family name."),
        StandardField("preferred_name", "string", "Name the person goes by."),
        StandardField("gender", "enum", "Gender.", GENDERS, sensitive=True),
        StandardField("birthday", "date", "Date of birth.", sensitive=True),
        StandardField("hire_date", "date", "First day of employment."),
        StandardField("termination_date", "date", "Last day of employment."),
        StandardField("status", "enum", "Employment status.", STATUSES),
        StandardField("position", "string", "Job title."),
        StandardField("department", "orgunit", "Department: {id, name} in the source."),
        StandardField("office", "orgunit", "Office: {id, name} in the source."),
        StandardField("team", "orgunit", "Team: {id, name} in the source."),
        StandardField("supervisor", "string", "E-mail of the person's supervisor."),
        StandardField("supervisor_id", "string", "The supervisor's id in the source."),
        StandardField("employment_type", "string", "internal or external."),
        StandardField("last_modified_at", "datetime", "When the source last changed the record."),
    ]
}

#: The standard fields that are org-unit references (they can become groups in a sink).
ORG_UNIT_FIELDS = tuple(name for name, f in STANDARD_FIELDS.items() if f.type == "orgunit")

#: Fields whose values are personal data never shown in reports or logs, by default.
DEFAULT_SENSITIVE = tuple(name for name, f in STANDARD_FIELDS.items() if f.sensitive)


class IsoDate(fields.Date):
    """A date that loads from ``YYYY-MM-DD`` (or a date) and stays an ISO string inside hrsync."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if isinstance(value, dt.date):
            return value.isoformat()[:10]
        return super()._deserialize(value, attr, data, **kwargs).isoformat()


class TrimmedEmail(fields.Email):
    """An e-mail address; surrounding whitespace (as typed into HR systems) is removed and the address brought
    to NFC first (a decomposed ``É`` looks like the composed one and must load like it). A refusal says what
    is wrong with the address."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = nfc(value)
            if not value:
                return None
        return super()._deserialize(value, attr, data, **kwargs)

    def _validate(self, value) -> None:
        # Words for a refused address only once it is refused: checking each address twice (ours, then the
        # field's validator) was 6-8 % of a no-change run's work on valid ones.
        try:
            super()._validate(value)
        except ValidationError:
            problem = email_problem(value) if isinstance(value, str) else None
            if problem is None:
                raise
            raise ValidationError(f"Not a valid email address: {problem}.") from None


class OrgUnit(fields.Field):
    """An org-unit reference (a department, team, office…): loads to ``{"id": str, "name": str}``.

    Sources give ``{"id": …, "name": …}``; a plain string stands for a unit whose id is its name
    (a CSV export without ids). An empty value is None (the person belongs to no such unit).
    """

    default_error_messages = {"invalid": "Not an org unit: give {{id, name}} or a name."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, str] | None:
        if isinstance(value, str):
            value = {"id": value, "name": value}
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        unit_id, name = value.get("id"), value.get("name")
        if isinstance(unit_id, bool) or not isinstance(unit_id, (str, int)) or not str(unit_id).strip():
            if name in (None, "") and unit_id in (None, ""):
                return None
            raise self.make_error("invalid")
        if name is not None and not isinstance(name, str):
            raise self.make_error("invalid")
        unit_id = str(unit_id).strip()
        return {"id": unit_id, "name": (name or "").strip() or unit_id}


def standard_field(name: str, *, required: bool = False, **kwargs: Any) -> fields.Field:
    """A marshmallow field for the standard field ``name``, with its type and allowed values."""
    spec = STANDARD_FIELDS[name]
    metadata = {"description": spec.description, "standard": name, **kwargs.pop("metadata", {})}
    common = {"required": required, "allow_none": not required, "metadata": metadata, **kwargs}
    if spec.type == "email":
        return TrimmedEmail(**common)
    if spec.type == "date":
        return IsoDate(**common)
    if spec.type == "datetime":
        return fields.String(**common)
    if spec.type == "boolean":
        return fields.Boolean(**common)
    if spec.type == "enum":
        return fields.String(validate=validate.OneOf(spec.allowed), **common)
    if spec.type == "orgunit":
        return OrgUnit(**common)
    return fields.String(**common)


def field_type(field: fields.Field) -> str:
    """The vocabulary type of a marshmallow field, used to check mappings before a run."""
    if isinstance(field, fields.Email):
        return "email"
    if isinstance(field, OrgUnit):
        return "orgunit"
    if isinstance(field, (fields.Date,)) and not isinstance(field, fields.DateTime):
        return "date"
    if isinstance(field, fields.DateTime):
        return "datetime"
    if isinstance(field, fields.Boolean):
        return "boolean"
    if isinstance(field, (fields.Integer, fields.Float)):
        return "number"
    return "string"
