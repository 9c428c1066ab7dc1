"""``hrsync plugins``: the installed plugins, each with its kind, version and settings, as JSON.

Data flow: the plugins found through entry points (:func:`hrsync.registry.load_plugins`); each connector's
``ConfigSchema`` read for its settings (:func:`describe_schema`), never a secret's default.
"""

from __future__ import annotations

import json

import click
from marshmallow.utils import missing

from ..registry import load_plugins
from .common import user_errors


def describe_schema(schema_cls) -> list[dict]:
    """A plugin's settings as `hrsync plugins` shows them (never a secret's default)."""
    out = []
    for name, fld in schema_cls().fields.items():
        default = fld.load_default() if callable(fld.load_default) else fld.load_default
        if default is missing or fld.metadata.get("secret"):
            default = None
        out.append({
            "name": fld.data_key or name,
            "type": type(fld).__name__,
            "required": bool(fld.required),
            "secret": bool(fld.metadata.get("secret")),
            "default": default,
            "description": fld.metadata.get("description", ""),
        })
    return out


@click.command()
@click.pass_context
@user_errors
def plugins(ctx: click.Context) -> None:
    """List installed plugins as JSON: name, version, kind, config fields."""
    found = load_plugins()
    rows = []
    for kind, classes in (("source", found.sources), ("sink", found.sinks)):
        for name, cls in classes.items():
            info = found.plugin_of(cls)
            rows.append({
                "name": name, "plugin": info.name, "kind": kind, "version": info.version,
                "distribution": info.distribution, "config": describe_schema(cls.ConfigSchema),
            })
    click.echo(json.dumps(rows, indent=2))
