"""Scope: which source people a connection carries (``scope:`` in hosts.yaml).

Data flow: config.py loads the filters (:class:`ScopeSchema`) and checks their field names
against the source's RecordSchema (:func:`check_scope`); records.py drops each record
:meth:`Scope.reason_out` names a reason for. People out of scope are never created;
linked ones fall to the connection's ``missing`` policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, fields


class ScopeSchema(Schema):
    """Which source people a connection carries."""

    class Meta:
        unknown = RAISE

    include = fields.Dict(
        keys=fields.String(), values=fields.List(fields.Raw()), load_default=dict,
        metadata={"description": "Source field → allowed values; a person must match every entry."},
    )
    exclude = fields.Dict(
        keys=fields.String(), values=fields.List(fields.Raw()), load_default=dict,
        metadata={"description": "Source field → values that put a person out of scope."},
    )


@dataclass
class Scope:
    include: dict[str, list[Any]] = field(default_factory=dict)
    exclude: dict[str, list[Any]] = field(default_factory=dict)

    def reason_out(self, record: Mapping[str, Any]) -> str | None:
        """Why this record is out of scope, or None when it is in."""
        for name, allowed in self.include.items():
            if not _forms(record.get(name)) & {_norm(v) for v in allowed}:
                return f"{name} is not one of the included values"
        for name, banned in self.exclude.items():
            if _forms(record.get(name)) & {_norm(v) for v in banned}:
                return f"{name} is excluded"
        return None


def _norm(value: Any) -> Any:
    return value.strip().casefold() if isinstance(value, str) else value


def _forms(value: Any) -> set[Any]:
    """What a value is matched by: itself, or an org unit ({id, name}) by its name or its id."""
    if isinstance(value, dict):
        return {_norm(value.get("name")), _norm(value.get("id"))}
    return {_norm(value)}


def check_scope(scope: Scope, source_schema: type[Schema]) -> dict[str, list[str]]:
    source_fields = source_schema().fields
    errors: dict[str, list[str]] = {}
    for part in ("include", "exclude"):
        for name in getattr(scope, part):
            if name not in source_fields:
                errors.setdefault(f"scope.{part}.{name}", []).append(f"Unknown source field {name!r}.")
    return errors
