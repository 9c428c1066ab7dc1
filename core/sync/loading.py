"""Loading records with a plugin's RecordSchema, each distinct value of a field checked once per run.

Data flow: :class:`~hrsync.sync.records.RecordValidator` loads every raw source record with the
source's RecordSchema and every mapped record with the sink's. Within one read most values
repeat - statuses, genders, offices, departments, supervisors' e-mails, first names - and
checking a plain value is a function of the field and the value alone. A :class:`RecordLoader`
therefore asks the field itself (``Field.deserialize``, validators included) once per distinct
value and reuses the answer for the rest of the run.

Everything that is not the plain case is left to ``Schema.load``, so errors and unusual schemas
read exactly as marshmallow says: a value a field refuses (the whole record is then loaded again
by the schema, for its complete error messages), schemas with hooks other than ``pre_load``,
and - for remembering - fields whose checks are not marshmallow's or hrsync's own code.
What this needs of marshmallow beyond its public API comes from :mod:`.marshmallow_internals`
only; when that module finds marshmallow changed, every record goes to ``Schema.load``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing, validate

from . import marshmallow_internals as internals

#: Distinct values remembered per field. Ids and e-mails never repeat: their memos stop growing here.
MEMO_SIZE = 4096
#: Field classes that check one plain value (containers and callables may look at more than the value).
SCALARS = (fields.String, fields.Boolean, fields.Integer, fields.Float, fields.Date)
#: Modules whose field classes are known to depend on nothing but the value.
_KNOWN_CODE = frozenset({"marshmallow.fields", "hrsync.fields", "typing", "builtins"})  # Generic, object
#: marshmallow validators that check the value against their own settings alone (And and Predicate
#: call other code, so they are not among them).
_KNOWN_CHECKS = (validate.Email, validate.URL, validate.Length, validate.Range, validate.Regexp, validate.OneOf,
                 validate.NoneOf, validate.Equal)
#: Values remembered: their equality is their identity to a field (floats are not: 0.0 == -0.0; nor are
#: datetimes: the same instant in two time zones is equal) - up to a length, as the memo keeps them.
_KEYS = frozenset({str, int, bool, type(None)})
_LONGEST = 256
#: Answers that can be handed out again: nobody can change them in place.
_IMMUTABLE = (str, int, float, bool, type(None), dt.date)


def hooked(schema: type[Schema], *, pre_load: bool = False) -> bool:
    """Whether a schema may have hooks that read or change the whole record (all but pre_load, unless
    ``pre_load``); True when marshmallow cannot tell (see :mod:`.marshmallow_internals`)."""
    tags = internals.hook_tags(schema)
    return tags is None or bool(tags if pre_load else tags - {internals.PRE_LOAD})


class RecordLoader:
    """``schema.load`` for one run, remembering what each field answered for each distinct value."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        # The loop below is Schema._deserialize for the one case hrsync builds: one record, unknown
        # keys excluded, nothing partial, results stored under plain names.
        self.plain = (internals.usable() and schema.unknown == EXCLUDE and not schema.many and not schema.partial
                      and schema.dict_class is dict and not hooked(type(schema))
                      and not internals.replaces_load_path(type(schema))
                      and all("." not in (f.attribute or "") for f in schema.load_fields.values()))
        self.pre_load = self.plain and hooked(type(schema), pre_load=True)
        self.fields = [(field.attribute or name, name if field.data_key is None else field.data_key, field,
                        {} if _rememberable(field) else None) for name, field in schema.load_fields.items()]

    def load(self, data: Any) -> dict[str, Any]:
        """The record as ``schema.load(data)`` gives it; raises its ValidationError when it is invalid."""
        if not self.plain or not (type(data) is dict or isinstance(data, Mapping)):  # the ABC check is slow
            return self.schema.load(data)
        given = data
        if self.pre_load:
            try:
                # On a copy: a hook that changes the record in place must not change what a refused
                # record is loaded again from. (Hooks run twice for a refused record: keep them pure.)
                data = internals.run_pre_load(self.schema, dict(data), given)
            except ValidationError:
                return self.schema.load(given)
            if not isinstance(data, Mapping):
                return self.schema.load(given)
        out: dict[str, Any] = {}
        for name, key, field, memo in self.fields:
            value = data.get(key, missing)
            kind = type(value)
            if memo is not None and kind in _KEYS and (kind is not str or len(value) <= _LONGEST):
                slot = (kind, value)  # True and 1 are equal keys, but not the same value to a field
                loaded = memo.get(slot, _MISS)
            else:
                slot, loaded = None, _MISS
            if loaded is _MISS:
                try:
                    loaded = field.deserialize(value, key, data)
                except ValidationError:
                    return self.schema.load(given)  # raises with every message of the record
                if slot is not None and len(memo) < MEMO_SIZE and isinstance(loaded, _IMMUTABLE):
                    memo[slot] = loaded
            if loaded is not missing:
                out[name] = loaded
        return out


_MISS = object()


def _rememberable(field: fields.Field) -> bool:
    """Whether a field's answer depends on the value alone: a scalar field of marshmallow's or hrsync's
    own classes, checked by marshmallow's own validators and no field-level processors (a plugin's
    class, validator or processor may look beyond the value)."""
    return (isinstance(field, SCALARS) and not getattr(field, "pre_load", None)  # field processors: 4.3 on
            and not getattr(field, "post_load", None)
            and all(cls.__module__ in _KNOWN_CODE for cls in type(field).__mro__)
            and all(type(check) in _KNOWN_CHECKS for check in field.validators))
