"""The one module that uses marshmallow's private API, and the check that it still means what hrsync assumes.

:class:`~hrsync.sync.loading.RecordLoader` loads records without ``Schema.load``'s machinery, and
:class:`~hrsync.sync.records.RecordValidator` skips sink checks the source schema already made. Both need
what marshmallow offers no public way to ask (docs/architecture.md, "Dependencies"):

- which hooks a schema class has: ``Schema._hooks``, keyed by the decorators' tag names;
- running a schema's ``pre_load`` hooks alone: ``Schema._invoke_load_processors``;
- whether a schema subclass replaced a step of the load path: the methods in :data:`LOAD_PATH`;
- a field's settings, to compare two fields: the field's instance ``__dict__`` (``vars``): every
  setting that decides how a value loads is assumed to be an attribute of the field.

Before any of it is trusted, :func:`usable` runs a small probe (once, at first use) on throwaway
schemas: the names exist, take the arguments hrsync passes and answer as assumed. When a marshmallow
release changed any of it, one warning is logged and every caller takes the slow, plain way:
records load through ``Schema.load``, every schema is treated as hooked, no field as settled by the
source. A marshmallow upgrade can cost speed, never correctness. tests/test_marshmallow_internals.py
runs the probe and fails, naming what changed, on an incompatible marshmallow.
"""

from __future__ import annotations

import functools
import logging
from importlib.metadata import version
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, pre_load, validate, validates, validates_schema

log = logging.getLogger("hrsync.sync.marshmallow_internals")

#: The marshmallow versions this module was checked against (setup.cfg bounds the dependency to < 5).
VERIFIED = ("4.0.0", "4.2.4", "4.3.0", "4.4.0")
#: Hook tags as marshmallow's decorators name them (``marshmallow.decorators.PRE_LOAD`` and so on).
PRE_LOAD, POST_LOAD, VALIDATES, VALIDATES_SCHEMA = "pre_load", "post_load", "validates", "validates_schema"
#: The Schema methods a plain load passes through: a subclass that replaces one of them is loaded by its own code.
LOAD_PATH = ("load", "_do_load", "_deserialize", "_call_and_store", "_invoke_field_validators",
             "_invoke_load_processors", "_invoke_processors")


class Incompatible(Exception):
    """The installed marshmallow's internals are not what this module assumes."""


@functools.cache
def usable() -> bool:
    """Whether the private API below may be used: the probe passed (logged once when it did not)."""
    try:
        probe()
    except Incompatible as exc:
        log.warning("marshmallow %s: %s. hrsync loads records the plain way (Schema.load): correct, but slower. "
                    "hrsync was checked with marshmallow %s.", _installed(), exc, ", ".join(VERIFIED))
        return False
    return True


def hook_tags(schema: type[Schema]) -> frozenset[str] | None:
    """The tags of the hooks a schema class has (``pre_load``, ``validates_schema``, ...); None when unknown."""
    if not usable():
        return None
    return frozenset(tag for tag, hooks in schema._hooks.items() if hooks)


def run_pre_load(schema: Schema, data: dict[str, Any], original: Any) -> Any:
    """``data`` after the schema's ``pre_load`` hooks, run as ``Schema.load`` runs them for one record.
    Only when :func:`usable`; may raise the hooks' ValidationError."""
    return schema._invoke_load_processors(PRE_LOAD, data, many=False, original_data=original,
                                          partial=schema.partial, unknown=schema.unknown)


def replaces_load_path(schema: type[Schema]) -> bool:
    """Whether a schema class replaced a method a plain load passes through (True when unknown)."""
    return not usable() or any(getattr(schema, name, None) is not getattr(Schema, name) for name in LOAD_PATH)


#: Field attributes that do not decide how a present value loads: description, binding, messages,
#: defaults, whether the value may be missing or None.
_NOT_SETTINGS = frozenset({"metadata", "name", "parent", "root", "error_messages", "dump_default", "load_default",
                           "required", "allow_none"})


def same_settings(one: fields.Field, other: fields.Field) -> bool:
    """Whether two fields load a value that is there the same way: every attribute alike but description,
    binding, messages, defaults and whether the value may be missing or None (False when unknown)."""
    return usable() and _settings(one) == _settings(other)


def _settings(field: fields.Field) -> str:
    return repr({k: v for k, v in vars(field).items() if k not in _NOT_SETTINGS})


def _installed() -> str:
    try:
        return version("marshmallow")
    except Exception:  # an unusual install: the version only decorates the message
        return "(version unknown)"


def probe() -> None:
    """Check every assumption above on throwaway schemas; raise Incompatible naming the first that fails."""
    try:
        _probe()
    except Incompatible:
        raise
    except Exception as exc:  # a renamed method, a changed signature or structure
        raise Incompatible(f"its private API changed ({type(exc).__name__}: {exc})") from exc


def _probe() -> None:
    missing = [name for name in LOAD_PATH if not callable(getattr(Schema, name, None))]
    if missing:
        raise Incompatible(f"Schema has no {', '.join(missing)}")
    if not isinstance(getattr(Schema, "_hooks", None), dict):
        raise Incompatible("Schema._hooks is not a dict of hooks by tag")

    class Plain(Schema):
        class Meta:
            register = False  # throwaway: kept out of marshmallow's class registry

        name = fields.String()

    class Hooked(Plain):
        @pre_load
        def trim(self, data, **kwargs):
            return {**data, "name": data["name"].strip(), "order": [*data.get("order", []), "trim"], "seen": kwargs}

        @pre_load(pass_collection=True)
        def whole(self, data, **kwargs):  # runs first: marshmallow runs pass_collection processors first
            return {**data, "order": [*data.get("order", []), "whole"]}

        @post_load
        def made(self, data, **kwargs):
            return data

        @validates("name")
        def named(self, value, **kwargs):
            return None

        @validates_schema
        def checked(self, data, **kwargs):
            return None

    class Inherits(Hooked):
        pass

    plain_tags = frozenset(tag for tag, hooks in Plain._hooks.items() if hooks)
    if plain_tags:
        raise Incompatible(f"Schema._hooks reports hooks {sorted(plain_tags)} on a schema without any")
    expected = {PRE_LOAD: 2, POST_LOAD: 1, VALIDATES: 1, VALIDATES_SCHEMA: 1}
    for cls in (Hooked, Inherits):
        counts = {tag: len(cls._hooks.get(tag) or ()) for tag in expected}
        if counts != expected:
            raise Incompatible(f"Schema._hooks no longer lists hooks by tag name (expected {expected}, got {counts})")
    given = {"name": " Ada "}
    schema = Hooked(unknown=EXCLUDE)
    out = schema._invoke_load_processors(PRE_LOAD, dict(given), many=False, original_data=given,
                                         partial=schema.partial, unknown=schema.unknown)
    if (not isinstance(out, dict) or out.get("name") != "Ada" or out.get("order") != ["whole", "trim"]
            or out["seen"].get("many") is not False or out["seen"].get("unknown") != EXCLUDE):
        raise Incompatible(f"Schema._invoke_load_processors did not run the pre_load hooks as Schema.load does "
                           f"(got {out!r})")
    if schema.load(given) != {"name": "Ada"}:
        raise Incompatible("Schema.load does not run pre_load hooks as this probe expects")
    same = _settings(fields.String(validate=validate.Length(max=3), load_default="x", metadata={"a": 1}))
    if same != _settings(fields.String(validate=validate.Length(max=3), required=True, allow_none=True)):
        raise Incompatible("two fields with the same settings compare as different")
    for other in (fields.String(validate=validate.Length(max=4)), fields.String(validate=validate.Length(max=3),
                                                                                 data_key="other")):
        if _settings(other) == same:
            raise Incompatible("a field's settings are no longer all in its attributes (vars)")
    if _settings(fields.Date(format="%d.%m.%Y")) == _settings(fields.Date()):
        raise Incompatible("a Date field's format is no longer among its attributes (vars)")
