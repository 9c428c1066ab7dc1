"""Loading records with a plugin's RecordSchema, each distinct value of a field checked once per run.

Data flow: :class:`~hrsync.records.RecordValidator` loads every raw source record with the
source's RecordSchema and every mapped record with the sink's. Within one read most values
repeat - statuses, genders, offices, departments, supervisors' e-mails, first names - and
checking a plain value is a function of the field and the value alone. A :class:`RecordLoader`
therefore asks the field itself (``Field.deserialize``, validators included) once per distinct
value and reuses the answer for the rest of the run.

Everything that is not the plain case is left to ``Schema.load``, so errors and unusual schemas
read exactly as marshmallow says: a value a field refuses (the whole record is then loaded again
by the schema, for its complete error messages), schemas with hooks other than ``pre_load``,
and - for remembering - fields whose checks are not marshmallow's or hrsync's own code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing
from marshmallow.decorators import PRE_LOAD

#: Distinct values remembered per field. Ids and e-mails never repeat: their memos stop growing here.
MEMO_SIZE = 4096
#: Field classes that check one plain value (containers and callables may look at more than the value).
SCALARS = (fields.String, fields.Boolean, fields.Integer, fields.Float, fields.Date)
#: Modules whose field and validator code is known to depend on nothing but the value.
_KNOWN_CODE = frozenset({"marshmallow.fields", "marshmallow.validate", "hrsync.fields"})
#: Answers that can be handed out again: nobody can change them in place.
_IMMUTABLE = (str, int, float, bool, type(None), dt.date)


def hooked(schema: type[Schema]) -> bool:
    """Whether a schema has hooks that may read or change the whole record (all but pre_load)."""
    return any(hooks for tag, hooks in schema._hooks.items() if tag != PRE_LOAD)


class RecordLoader:
    """``schema.load`` for one run, remembering what each field answered for each distinct value."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        # The loop below is Schema._deserialize for the one case hrsync builds: one record, unknown
        # keys excluded, nothing partial, results stored under plain names.
        self.plain = (schema.unknown == EXCLUDE and not schema.many and not schema.partial
                      and not hooked(type(schema))
                      and all("." not in (f.attribute or "") for f in schema.load_fields.values()))
        self.pre_load = bool(schema._hooks[PRE_LOAD])
        self.fields = [(field.attribute or name, field.data_key or name, field, {} if _rememberable(field) else None)
                       for name, field in schema.load_fields.items()]

    def load(self, data: Any) -> dict[str, Any]:
        """The record as ``schema.load(data)`` gives it; raises its ValidationError when it is invalid."""
        if not self.plain or not isinstance(data, Mapping):
            return self.schema.load(data)
        given = data
        if self.pre_load:
            try:
                data = self.schema._invoke_load_processors(PRE_LOAD, data, many=False, original_data=data,
                                                           partial=None, unknown=EXCLUDE)
            except ValidationError:
                return self.schema.load(given)
        out: dict[str, Any] = {}
        for name, key, field, memo in self.fields:
            value = data.get(key, missing)
            try:
                loaded = _MISS if memo is None or value is missing else memo.get((type(value), value), _MISS)
            except TypeError:  # an unhashable value (a list where a string belongs): not remembered
                loaded, memo = _MISS, None
            if loaded is _MISS:
                try:
                    loaded = field.deserialize(value, key, data)
                except ValidationError:
                    return self.schema.load(given)  # raises with every message of the record
                # (type, value): True and 1 are equal keys, but not the same value to a field.
                if memo is not None and value is not missing and len(memo) < MEMO_SIZE \
                        and isinstance(loaded, _IMMUTABLE):
                    memo[(type(value), value)] = loaded
            if loaded is not missing:
                out[name] = loaded
        return out


_MISS = object()


def _rememberable(field: fields.Field) -> bool:
    """Whether a field's answer depends on the value alone: a scalar field whose code and validators
    are marshmallow's or hrsync's own (a plugin's field class or validator function may look elsewhere)."""
    cls = type(field)
    return (isinstance(field, SCALARS)
            and all(getattr(cls, name).__module__ in _KNOWN_CODE for name in ("deserialize", "_deserialize",
                                                                                "_validate"))
            and all(type(check).__module__ in _KNOWN_CODE for check in field.validators))
