"""A connection's ``groups:`` section: which org units of the source become groups in the sink.

Data flow: :mod:`hrsync.config.load` loads the section with :class:`GroupsSchema` into a
:class:`GroupsConfig` and checks its fields against the source's RecordSchema
(:func:`check_groups`); the sync stage (:mod:`hrsync.sync.groups`) names each unit's group and
its external id with :meth:`GroupsConfig.group_name` and :meth:`GroupsConfig.external_id`.
Nothing is configured by default: a connection without ``groups:`` never touches the sink's groups.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, pre_load, validate, validates

from ..fields import OrgUnit

#: What a name or external-id template may use.
PLACEHOLDERS = {"name", "field", "id"}
MANAGED, OVERWRITE = "managed", "overwrite"


def _placeholders(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValidationError(f"Not a valid template ({exc}): use {{name}}, {{field}} and {{id}}.") from None


class GroupsSchema(Schema):
    class Meta:
        unknown = RAISE

    fields_ = fields.List(fields.String(), data_key="fields", required=True, validate=validate.Length(min=1),
                          metadata={"description": "Org-unit fields of the source that become groups, e.g. "
                                                   "[department, team]."})
    name = fields.String(load_default="{name}", metadata={
        "description": "A group's name: {name} (the unit's), {field}, {id}; e.g. \"{name} ({field})\"."})
    external_id = fields.String(load_default="{field}:{id}", metadata={
        "description": "A group's stable id in the sink; must use {id} (a renamed unit stays the same group)."})
    memberships = fields.String(load_default=MANAGED, validate=validate.OneOf([MANAGED, OVERWRITE]), metadata={
        "description": "managed: remove only memberships hrsync made; overwrite: the source is the only truth."})
    leavers = fields.String(load_default="keep", validate=validate.OneOf(["keep", "remove"]), metadata={
        "description": "keep: people who left stay in their groups (history per group); remove: taken out."})

    @pre_load
    def _short_form(self, data: Any, **kwargs: Any) -> Any:
        return {"fields": data} if isinstance(data, list) else data

    @validates("name")
    def _name(self, value: str, **kwargs: Any) -> None:
        unknown = _placeholders(value) - PLACEHOLDERS
        if unknown:
            raise ValidationError(f"Unknown placeholder(s) {', '.join(sorted(unknown))}: use {{name}}, {{field}}, "
                                  "{id}.")

    @validates("external_id")
    def _external_id(self, value: str, **kwargs: Any) -> None:
        used = _placeholders(value)
        if used - PLACEHOLDERS:
            raise ValidationError(f"Unknown placeholder(s) {', '.join(sorted(used - PLACEHOLDERS))}: use {{field}} "
                                  "and {id}.")
        if "id" not in used or "name" in used:
            raise ValidationError("Must use {id} and not {name}: a renamed unit must stay the same group.")

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> GroupsConfig:
        if len(data["fields_"]) > 1 and "field" not in _placeholders(data["external_id"]):
            raise ValidationError("With several fields, external_id must use {field}: two kinds of unit may share "
                                  "an id.", "external_id")
        return GroupsConfig(fields=tuple(dict.fromkeys(data["fields_"])), name=data["name"],
                            external_id_template=data["external_id"], memberships=data["memberships"],
                            leavers=data["leavers"])


@dataclass(frozen=True)
class GroupsConfig:
    """Which org-unit fields become groups, how groups are named and identified, and the membership rule."""

    fields: tuple[str, ...] = ()
    name: str = "{name}"
    external_id_template: str = "{field}:{id}"
    memberships: str = MANAGED
    leavers: str = "keep"

    def group_name(self, field: str, unit: dict[str, str]) -> str:
        return self.name.format(name=unit["name"], field=field, id=unit["id"])

    def external_id(self, field: str, unit: dict[str, str]) -> str:
        return self.external_id_template.format(field=field, id=unit["id"])


#: A connection without ``groups:``.
NO_GROUPS = GroupsConfig()


def check_groups(groups: GroupsConfig, source_schema: type[Schema], *, sink_holds_groups: bool,
                 sink_name: str) -> dict[str, list[str]]:
    """Errors by path: each field must be an org-unit field of the source; the sink must hold groups."""
    errors: dict[str, list[str]] = {}
    if groups.fields and not sink_holds_groups:
        errors.setdefault("groups", []).append(f"Sink {sink_name!r} does not hold groups; remove groups: from "
                                               "this connection.")
    declared = source_schema().fields
    units = sorted(name for name, f in declared.items() if isinstance(f, OrgUnit))
    for name in groups.fields:
        if name not in declared or not isinstance(declared[name], OrgUnit):
            errors.setdefault("groups.fields", []).append(
                f"{name!r} is not an org-unit field of the source; it has: {', '.join(units) or 'none'}.")
    return errors
