"""Starting sandboxes together: ``hrsync sandbox`` and ``hrsync demo`` on one machine, no account needed.

:func:`start_sandboxes` starts one source sandbox, one sink sandbox (as registered by the
installed plugins) and an SMTP capture on free loopback ports; :func:`write_sandbox_config`
writes a ready hosts.yaml whose connection ``sandbox`` points at them, with each secret
in a file beside it (mode 0600) referenced as ``{file: ...}``. Core names no plugin:
when several sandboxes of a kind are installed (not counting those started only when named), the
caller must choose one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import PluginError
from ..fields import field_type
from ..registry import Plugins
from ..sandbox.contract import Sandbox, SinkSandbox, SourceSandbox
from ..sandbox.smtp import SmtpCapture


@dataclass
class Running:
    source: SourceSandbox
    sink: SinkSandbox
    smtp: SmtpCapture


def pick(plugins: Plugins, kind: str, name: str | None) -> type[Sandbox]:
    """The sandbox of ``kind`` named ``name``, or the only one installed; PluginError says how to choose."""
    sandboxes = plugins.sandboxes(kind)
    if name:
        if name not in sandboxes:
            raise PluginError(f"No {kind} sandbox named {name!r} (available: {', '.join(sandboxes) or 'none'}).")
        return sandboxes[name]
    if not sandboxes:
        raise PluginError(f"No installed plugin provides a {kind} sandbox.")
    usual = [cls for cls in sandboxes.values() if not cls.only_when_named]
    if len(usual) == 1:
        return usual[0]
    raise PluginError(f"Several {kind} sandboxes are installed ({', '.join(sandboxes)}); choose one with "
                      f"--{kind} NAME.")


@contextlib.contextmanager
def start_sandboxes(plugins: Plugins, *, source: str | None = None, sink: str | None = None,
                    mail_folder: Path | None = None, **options: Any) -> Iterator[Running]:
    """Start a source sandbox, a sink sandbox and an SMTP capture; ``options`` go to each ``create``."""
    source_cls, sink_cls = pick(plugins, "source", source), pick(plugins, "sink", sink)
    with source_cls.create(**options) as src, sink_cls.create(**options) as snk, \
            SmtpCapture(save_to=mail_folder) as smtp:
        yield Running(src, snk, smtp)


def _secret_file(folder: Path, name: str, value: str) -> dict[str, str]:
    path = folder / "secrets" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return {"file": str(path)}


def sandbox_groups(plugins: Plugins, running: Running) -> list[str]:
    """The org-unit fields the sandbox connection makes groups of: department and team, where the source
    reads them and the sink holds groups (a real connection chooses its own, none by default)."""
    sink = plugins.sink_class(running.sink.name)
    if not (sink.holds_groups or sink.takes_snapshots):
        return []
    declared = plugins.source_class(running.source.name).RecordSchema().fields
    return [name for name in ("department", "team") if name in declared and field_type(declared[name]) == "orgunit"]


def write_sandbox_config(path: Path, running: Running, *, recipients: list[str] | None = None,
                         groups: list[str] | None = None) -> Path:
    """Write a hosts.yaml for connection ``sandbox``; state, outbox and secret files beside it."""
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    source = {"plugin": running.source.name, **running.source.settings()}
    for key, value in running.source.secrets().items():
        source[key] = _secret_file(folder, f"{running.source.name}_{key}", value)
    sink = {"plugin": running.sink.name, **running.sink.settings()}
    for key, value in running.sink.secrets().items():
        sink[key] = _secret_file(folder, f"{running.sink.name}_{key}", value)
    config = {
        "version": 1,
        "host": {"state": "hrsync-state.db", "outbox": "outbox", "timezone": "UTC",
                 "smtp": {"host": "127.0.0.1", "port": running.smtp.port, "security": "none",
                          "sender": "hrsync@sandbox.example"}},
        "connections": {"sandbox": {"source": source, "sink": sink,
                                    "report": {"recipients": recipients or ["hr-admin@sandbox.example"]}}},
    }
    if groups:
        config["connections"]["sandbox"]["groups"] = list(groups)
    header = ("# Written by `hrsync sandbox`: connection `sandbox` points at local sandboxes.\n"
              "# Secrets live in ./secrets (mode 0600). See docs/configuration.md for every key.\n")
    path.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
