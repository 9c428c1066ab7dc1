"""Mapping: turns a validated source record into a sink record, field by field.

By default every sink RecordSchema field takes the same-named source field. A
connection's ``mapping:`` section in hosts.yaml overrides or extends that per sink
field::

    mapping:
      status:   {from: status, map: {onboarding: active}}   # rename + value map
      language: {constant: en}                              # constant
      email:    {transform: [strip, lower]}                 # named transforms, in order
      position: {default: "Employee", apply: create_only}  # default when empty; only on create
      office:   {skip: true}                                # do not carry this field

Rules are compiled once against both RecordSchemas; mistakes (unknown field,
unknown transform, type mismatch, a constant the sink would refuse) are reported by
``hrsync check`` before any run, never mid-run.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from ..fields import field_type


def _parse_date(fmt: str) -> Callable[[Any], Any]:
    def transform(value: Any) -> Any:
        if value in (None, ""):
            return value
        return dt.datetime.strptime(str(value).strip(), fmt).date().isoformat()

    return transform


def _text(fn: Callable[[str], str]) -> Callable[[Any], Any]:
    return lambda value: fn(value) if isinstance(value, str) else value


#: Named transforms; ``name:argument`` passes an argument (``parse_date:%d.%m.%Y``).
TRANSFORMS: dict[str, Callable[..., Callable[[Any], Any]]] = {
    "strip": lambda: _text(str.strip),
    "lower": lambda: _text(str.lower),
    "upper": lambda: _text(str.upper),
    "title": lambda: _text(str.title),
    "collapse_spaces": lambda: _text(lambda s: re.sub(r"\s+", " ", s).strip()),
    "empty_to_none": lambda: lambda v: None if v == "" else v,
    "leading_date": lambda: _text(lambda s: s[:10]),
    "parse_date": _parse_date,
    "unit_name": lambda: lambda v: v.get("name") if isinstance(v, dict) else v,
}


def _build_transform(spec: str) -> Callable[[Any], Any]:
    name, _, arg = spec.partition(":")
    factory = TRANSFORMS.get(name)
    if factory is None:
        raise ValueError(f"Unknown transform {name!r}; known: {', '.join(sorted(TRANSFORMS))}.")
    if name == "parse_date":
        if not arg:
            raise ValueError("parse_date needs a format, e.g. parse_date:%d.%m.%Y.")
        return factory(arg)
    if arg:
        raise ValueError(f"Transform {name!r} takes no argument.")
    return factory()


class RuleSchema(Schema):
    """One sink field's mapping rule in hosts.yaml."""

    class Meta:
        unknown = RAISE

    from_ = fields.String(data_key="from", metadata={"description": "Source field to read (default: same name)."})
    constant = fields.Raw(allow_none=True, metadata={"description": "Always this value."})
    default = fields.Raw(allow_none=True, metadata={"description": "Value when the source is empty."})
    map = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), metadata={"description": "Value map."})
    transform = fields.List(fields.String(), metadata={"description": "Named transforms, in order."})
    apply = fields.String(
        load_default="always",
        validate=validate.OneOf(["always", "create_only"]),
        metadata={"description": "create_only: set on create, never updated."},
    )
    skip = fields.Boolean(load_default=False, metadata={"description": "Do not carry this field."})

    @pre_load
    def _single_transform(self, data, **kwargs):
        # `transform: lower` is accepted as well as a list.
        if isinstance(data, Mapping) and isinstance(data.get("transform"), str):
            data = {**data, "transform": [data["transform"]]}
        return data

    @validates_schema
    def _one_source(self, data, **kwargs):
        if "constant" in data and ("from_" in data or "map" in data):
            raise ValidationError("A constant cannot be combined with from/map.")


@dataclass
class FieldRule:
    target: str
    source: str | None
    constant: Any = None
    has_constant: bool = False
    default: Any = None
    value_map: dict[str, Any] | None = None
    transforms: list[Callable[[Any], Any]] = field(default_factory=list)
    create_only: bool = False
    #: The rule passes the source value on as it is (no constant, transform, map or default).
    copies: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.copies = bool(self.source) and not (self.has_constant or self.transforms or self.value_map is not None
                                                 or self.default is not None)

    def value(self, record: Mapping[str, Any]) -> Any:
        if self.has_constant:
            return self.constant
        value = record.get(self.source) if self.source else None
        for transform in self.transforms:
            value = transform(value)
        if self.value_map is not None and value is not None:
            value = self.value_map.get(str(value), value)
        if value in (None, "") and self.default is not None:
            value = self.default
        return value


@dataclass
class FieldMapping:
    """A compiled mapping: ``apply(record)`` gives the sink record."""

    rules: list[FieldRule]

    def apply(self, record: Mapping[str, Any]) -> dict[str, Any]:
        get = record.get  # it runs per person and field: plain copies skip the rule's method
        return {rule.target: get(rule.source) if rule.copies else rule.value(record) for rule in self.rules}

    @property
    def create_only(self) -> set[str]:
        return {rule.target for rule in self.rules if rule.create_only}

    @property
    def source_fields(self) -> set[str]:
        """The source fields the rules read."""
        return {rule.source for rule in self.rules if rule.source and not rule.has_constant}

    def targets_of(self, source_fields: set[str]) -> set[str]:
        """Sink fields whose value comes from one of ``source_fields`` (with no default to fall back on)."""
        return {rule.target for rule in self.rules
                if rule.source in source_fields and not rule.has_constant and rule.default is None}


def _compatible(source_type: str, sink_type: str) -> bool:
    if source_type == sink_type or (sink_type == "string" and source_type != "orgunit"):
        return True
    return {source_type, sink_type} <= {"string", "email"}


def compile_mapping(
    rules: Mapping[str, Any], source_schema: type[Schema], sink_schema: type[Schema]
) -> tuple[FieldMapping, dict[str, list[str]]]:
    """Compile hosts.yaml rules against two RecordSchemas; returns the mapping and errors by path."""
    errors: dict[str, list[str]] = {}
    source_fields = source_schema().fields
    sink_fields = sink_schema().fields
    compiled: list[FieldRule] = []
    loaded_rules: dict[str, dict] = {}
    for target, raw in (rules or {}).items():
        path = f"mapping.{target}"
        if target not in sink_fields:
            close = difflib.get_close_matches(target, sorted(sink_fields), n=1)
            errors.setdefault(path, []).append(
                f"Unknown sink field {target!r}" + (f"; did you mean {close[0]!r}?" if close else ".")
                + f" The sink accepts: {', '.join(sorted(sink_fields))}."
            )
            continue
        try:
            loaded_rules[target] = RuleSchema().load(raw if raw is not None else {"skip": True})
        except ValidationError as exc:
            for sub, msgs in flatten_errors(exc.messages).items():
                errors.setdefault(f"{path}.{sub}" if sub else path, []).extend(msgs)
    for target, sink_field in sink_fields.items():
        rule = loaded_rules.get(target)
        if rule is None:
            if target in source_fields:
                compiled.append(FieldRule(target, target))
            continue
        if rule["skip"]:
            continue
        path = f"mapping.{target}"
        src = rule.get("from_", target if "constant" not in rule else None)
        if src is not None and src not in source_fields:
            errors.setdefault(f"{path}.from", []).append(
                f"Unknown source field {src!r}; the source emits: {', '.join(sorted(source_fields))}."
            )
            continue
        transforms = []
        for spec in rule.get("transform", []):
            try:
                transforms.append(_build_transform(spec))
            except ValueError as exc:
                errors.setdefault(f"{path}.transform", []).append(str(exc))
        if "constant" in rule and rule["constant"] is not None:
            _check_value(sink_field, rule["constant"], f"{path}.constant", errors)
        if rule.get("default") is not None:
            _check_value(sink_field, rule["default"], f"{path}.default", errors)
        if "map" in rule:
            for key, val in rule["map"].items():
                if val is not None:
                    _check_value(sink_field, val, f"{path}.map.{key}", errors)
        elif src is not None and not transforms:
            st, kt = field_type(source_fields[src]), field_type(sink_field)
            if st == "orgunit" and kt == "string":
                transforms.append(TRANSFORMS["unit_name"]())  # a unit copied into a text field: its name
            elif not _compatible(st, kt):
                errors.setdefault(path, []).append(
                    f"Type mismatch: source field {src!r} is {_a(st)}, sink field {target!r} expects {_a(kt)}; "
                    "add a map or a transform."
                )
        compiled.append(
            FieldRule(
                target=target,
                source=src,
                constant=rule.get("constant"),
                has_constant="constant" in rule,
                default=rule.get("default"),
                value_map=rule.get("map"),
                transforms=transforms,
                create_only=rule["apply"] == "create_only",
            )
        )
    return FieldMapping(compiled), errors


def _check_value(sink_field: fields.Field, value: Any, path: str, errors: dict[str, list[str]]) -> None:
    try:
        sink_field.deserialize(value)
    except ValidationError as exc:
        msgs = exc.messages if isinstance(exc.messages, list) else [str(exc.messages)]
        errors.setdefault(path, []).extend(f"The sink would refuse {value!r}: {m}" for m in msgs)


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested error messages into ``{"a.b.c": [messages]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                sub = prefix
            else:
                sub = f"{prefix}.{key}" if prefix else str(key)
            for path, msgs in flatten_errors(value, sub).items():
                out.setdefault(path, []).extend(msgs)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out.setdefault(prefix, []).extend(messages)
    elif isinstance(messages, list):
        for item in messages:
            for path, msgs in flatten_errors(item, prefix).items():
                out.setdefault(path, []).extend(msgs)
    else:
        out.setdefault(prefix, []).append(str(messages))
    return out


__all__ = ["FieldRule", "FieldMapping", "compile_mapping", "flatten_errors"]


def _a(type_name: str) -> str:
    """A field type as a phrase for a message: "a date", "an org unit"."""
    words = "org unit" if type_name == "orgunit" else type_name
    return f"{'an' if words[0] in 'aeiou' else 'a'} {words}"
