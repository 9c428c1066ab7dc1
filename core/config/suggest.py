"""Help with a mistyped key in hosts.yaml: "did you mean …", and the keys that are valid at that place.

Data flow: config.py collects every problem with its dotted path; :func:`explain_unknown`
then rewrites marshmallow's bare "Unknown field." by finding the schema at that path -
hosts.yaml's own (:mod:`hrsync.config.schema`), a connector's settings, or a mapping rule.
"""

from __future__ import annotations

import difflib
from typing import Any

from marshmallow import Schema, fields

from ..errors import HrsyncError
from ..registry import Plugins
from .mapping import RuleSchema
from .schema import ConfigFileSchema, ConnectionSchema

UNKNOWN = "Unknown field."


def _keys(schema: type[Schema] | Schema) -> set[str]:
    instance = schema() if isinstance(schema, type) else schema
    return {f.data_key or name for name, f in instance.fields.items()}


def _connector_keys(ref: Any, role: str, plugins: Plugins) -> set[str] | None:
    name = ref.get("plugin") if isinstance(ref, dict) else None
    if not isinstance(name, str):
        return None
    try:
        cls = plugins.source_class(name) if role == "source" else plugins.sink_class(name)
    except HrsyncError:
        return None
    return _keys(cls.ConfigSchema) | {"plugin"}


def valid_keys(path: list[str], data: Any, plugins: Plugins) -> set[str] | None:
    """The keys allowed at ``path`` (a list of keys from the top of hosts.yaml), or None if unknown."""
    schema: type[Schema] | Schema = ConfigFileSchema
    node = data
    i = 0
    while i < len(path):
        part = path[i]
        if schema is ConfigFileSchema and part == "connections":
            if i + 1 >= len(path):
                return None  # connection names are the user's own
            node = (node.get("connections") or {}).get(path[i + 1]) if isinstance(node, dict) else None
            schema, i = ConnectionSchema, i + 2
            continue
        if schema is ConnectionSchema and part in ("source", "sink"):
            ref = node.get(part) if isinstance(node, dict) else None
            return _connector_keys(ref, part, plugins) if i == len(path) - 1 else None
        if schema is ConnectionSchema and part == "mapping":
            return _keys(RuleSchema) if i == len(path) - 2 else None
        instance = schema() if isinstance(schema, type) else schema
        field = next((f for name, f in instance.fields.items() if (f.data_key or name) == part), None)
        if not isinstance(field, fields.Nested):
            return None
        schema, node = field.nested, node.get(part) if isinstance(node, dict) else None
        i += 1
    return _keys(schema)


def suggestion(key: str, keys: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(keys), n=1)
    return (f"Unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close else ".")
            + f" Valid keys here: {', '.join(sorted(keys))}.")


def explain_unknown(errors: dict[str, list[str]], data: Any, plugins: Plugins) -> None:
    """Replace each bare "Unknown field." in ``errors`` with a suggestion and the valid keys (in place)."""
    for path, messages in errors.items():
        if UNKNOWN not in messages:
            continue
        *parent, key = path.split(".")
        keys = valid_keys(parent, data, plugins)
        if keys:
            errors[path] = [suggestion(key, keys) if m == UNKNOWN else m for m in messages]
