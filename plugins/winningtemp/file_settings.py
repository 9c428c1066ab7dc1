"""The Winningtemp File integration's format: which columns the two files hold, under which headers, and its rules.

Data flow: the file sink's settings load these keys with :class:`FileFormatSchema` into a :class:`FileFormat`;
:mod:`.status_rules` reads it to decide who is in today's file, :mod:`.file_hierarchy` where each group sits, and
:mod:`.file_format` how each cell is written. Column names are agreed with Winningtemp per customer: the
defaults are named after the values synced, and the config renames any column and drops any optional one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

#: The users file's columns in their default order: our key -> default header.
USER_COLUMNS = {
    "external_id": "External ID", "first_name": "First name", "last_name": "Last name", "username": "Username",
    "email": "E-mail", "gender": "Gender", "birthday": "Birthday", "hire_date": "Employed since",
    "termination_date": "Employed until", "status": "Status", "groups": "Groups",
}
#: Winningtemp refuses a users file without these.
MANDATORY_USER_COLUMNS = ("external_id", "first_name", "last_name", "username")
GROUP_COLUMNS = {"external_id": "External ID", "name": "Name", "parent_external_id": "Parent External ID"}
MANDATORY_GROUP_COLUMNS = ("external_id", "name")

#: Winningtemp knows a user as active or inactive; people on leave or still onboarding take part.
STATUS_VALUES = {"active": "Active", "onboarding": "Active", "leave": "Active", "inactive": "Inactive"}
#: Capitalised like the statuses; "diverse" (Personio's word, a German legal category) reads "Other".
GENDER_VALUES = {"male": "Male", "female": "Female", "diverse": "Other"}

NESTED, FLAT = "nested", "flat"
USERNAME_SOURCES = ("email", "external_id")
#: Characters that would break the memberships cell: the column delimiter, the quote and line ends.
SEPARATOR_FORBIDDEN = (";", '"', "\r", "\n")
FILE_NAME = r"^\w[\w.-]*\Z"


class Column(NamedTuple):
    key: str
    header: str


@dataclass(frozen=True)
class RootGroup:
    """The group written first in the groups file, above every top-level group."""

    external_id: str
    name: str


@dataclass(frozen=True)
class FileFormat:
    """The loaded format settings; :class:`FileFormatSchema` documents each one and holds its default."""

    user_columns: tuple[Column, ...]
    group_columns: tuple[Column, ...]
    username: str
    group_separator: str
    hierarchy: str
    root_group: RootGroup | None
    status_values: Mapping[str, str]
    gender_values: Mapping[str, str]
    keep_leavers_days: int
    pre_hire_days: int
    users_file: str
    groups_file: str


class ValueMap(fields.Field):
    """A partial mapping over defaults: the keys it names override theirs, the rest keep their default."""

    def __init__(self, defaults: Mapping[str, str], **kwargs: Any) -> None:
        self.defaults = dict(defaults)
        super().__init__(load_default=self._complete({}), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValidationError(f"Give a mapping with some of these keys: {', '.join(self.defaults)}.")
        errors = {}
        for key, text in value.items():
            known = key in self.defaults
            message = self._refusal(key, text) if known else f"Unknown key: use {', '.join(self.defaults)}."
            if message:
                errors[key] = [message]
        if errors:
            raise ValidationError(errors)
        return self._complete(value)

    def _refusal(self, key: str, text: Any) -> str | None:
        """Why ``text`` cannot stand for ``key``, or None."""
        if not isinstance(text, str) or not text.strip():
            return "Give a non-empty text."
        return None

    def _complete(self, value: Mapping[str, Any]) -> Any:
        return MappingProxyType({**self.defaults, **value})


class ColumnMap(ValueMap):
    """Column key -> header, or false/null to drop an optional column. The file keeps the default column order,
    unless the mapping names every key: then its order is the file's."""

    def __init__(self, defaults: Mapping[str, str], mandatory: tuple[str, ...], **kwargs: Any) -> None:
        self.mandatory = mandatory
        super().__init__(defaults, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[Column, ...]:
        columns = super()._deserialize(value, attr, data, **kwargs)
        seen: dict[str, str] = {}
        for key, header in columns:
            # Compared as Winningtemp may compare them: two headers differing only in case or spaces would clash.
            other = seen.setdefault(header.strip().casefold(), key)
            if other != key:
                raise ValidationError({key: [f"Same header as {other} ({header!r}): each column needs its own."]})
        return columns

    def _refusal(self, key: str, text: Any) -> str | None:
        if text is False or text is None:
            if key in self.mandatory:
                *others, last = self.mandatory
                return f"Cannot be dropped: Winningtemp requires {', '.join(others)} and {last} on every row."
            return None
        if not isinstance(text, str) or not text.strip():
            return "Give the column's header, or false to drop the column."
        return None

    def _complete(self, value: Mapping[str, Any]) -> tuple[Column, ...]:
        headers = {**self.defaults, **value}
        order = list(value) if set(value) == set(self.defaults) else list(self.defaults)
        return tuple(Column(key, headers[key]) for key in order if headers[key] not in (False, None))


class RootGroupSchema(Schema):
    class Meta:
        unknown = RAISE

    external_id = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "The root group's External ID in Winningtemp."})
    name = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "The root group's name."})

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> RootGroup:
        return RootGroup(**data)


def _separator(value: str) -> None:
    if not value or any(char in value for char in SEPARATOR_FORBIDDEN):
        raise ValidationError("Give a character other than ';' (it separates the columns), '\"' or a line end.")


class FileFormatSchema(Schema):
    class Meta:
        unknown = RAISE

    user_columns = ColumnMap(USER_COLUMNS, MANDATORY_USER_COLUMNS, metadata={
        "description": "Header of each users-file column, or false to drop it; keys not named keep their default "
                       "(external_id, first_name, last_name, username cannot be dropped). Name every key to set "
                       "the column order too."})
    group_columns = ColumnMap(GROUP_COLUMNS, MANDATORY_GROUP_COLUMNS, metadata={
        "description": "Header of each groups-file column (external_id, name, parent_external_id), or false to "
                       "drop parent_external_id."})
    username = fields.String(load_default="email", validate=validate.OneOf(USERNAME_SOURCES), metadata={
        "description": "What the Username column holds: email or external_id (the source's id)."})
    group_separator = fields.String(load_default=",", validate=_separator, metadata={
        "description": "Separates the External IDs of a user's groups in the groups column; not ';'."})
    hierarchy = fields.String(load_default=NESTED, validate=validate.OneOf([NESTED, FLAT]), metadata={
        "description": "nested: teams under their department where all their members share one; flat: every "
                       "group top-level. Either way under root_group, when set."})
    root_group = fields.Nested(RootGroupSchema, load_default=None, allow_none=True, metadata={
        "description": "{external_id, name}: a group written first that every top-level group sits under."})
    status_values = ValueMap(STATUS_VALUES, metadata={
        "description": "How each status (active, onboarding, leave, inactive) is written in the Status column."})
    gender_values = ValueMap(GENDER_VALUES, metadata={
        "description": "How each gender (male, female, diverse) is written in the Gender column."})
    keep_leavers_days = fields.Integer(load_default=30, validate=validate.Range(0, 3650), metadata={
        "description": "Days a leaver stays in the file, as inactive, after their termination date; 0 = gone "
                       "the day after it."})
    pre_hire_days = fields.Integer(load_default=0, validate=validate.Range(0, 3650), metadata={
        "description": "Days before their hire date a future hire enters the file; 0 = on the hire date."})
    users_file = fields.String(load_default="wt_users.csv", validate=validate.Regexp(FILE_NAME), metadata={
        "description": "Name of the users file."})
    groups_file = fields.String(load_default="wt_groups.csv", validate=validate.Regexp(FILE_NAME), metadata={
        "description": "Name of the groups file."})

    @validates_schema
    def _two_files(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("users_file") is not None and data.get("users_file") == data.get("groups_file"):
            raise ValidationError("Must differ from users_file: each data object has its own file.", "groups_file")

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> FileFormat:
        return FileFormat(**data)
