"""Sandboxes: loopback stand-ins for the services plugins talk to, and ``hrsync sandbox``.

A plugin registers a :class:`Sandbox` subclass through the ``register_sandboxes`` hook
(sources subclass :class:`SourceSandbox`, which can also make HR changes, for the
demo). :func:`start_sandboxes` starts one source sandbox, one sink sandbox and an
SMTP capture on free loopback ports; :func:`write_sandbox_config` writes a ready
hosts.yaml whose connection ``sandbox`` points at them, with each secret in a file
beside it (mode 0600) referenced as ``{file: ...}``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml

from .errors import PluginError
from .mailbox import SmtpCapture

if TYPE_CHECKING:
    from .host import Host


class Sandbox:
    """A loopback server standing in for the service of the plugin named ``name``. A context manager."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""  # "source" or "sink"

    @classmethod
    def create(cls, **options: Any) -> Sandbox:
        """Build from ``hrsync sandbox`` options (``employees``, ``seed``, ``data_file``); unknown ones ignored."""
        return cls()

    def start(self) -> Sandbox:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def secrets(self) -> dict[str, str]:
        """Secret settings of the plugin for this sandbox: setting name → value."""
        return {}

    def settings(self) -> dict[str, Any]:
        """Non-secret settings of the plugin for this sandbox (base_url, ...)."""
        return {}

    def describe(self) -> dict[str, Any]:
        """What ``hrsync sandbox --json`` prints for it (URL and credentials)."""
        return {**self.settings(), **self.secrets()}


class SourceSandbox(Sandbox):
    """A source sandbox can also change its HR data, in standard field names (for the demo)."""

    kind: ClassVar[str] = "source"

    def people(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def add_person(self, **fields: Any) -> str:
        raise NotImplementedError

    def change_person(self, person_id: str, **fields: Any) -> None:
        raise NotImplementedError


@dataclass
class Running:
    source: Sandbox
    sink: Sandbox
    smtp: Any


def pick(host: Host, kind: str, name: str | None) -> type[Sandbox]:
    sandboxes = host.sandboxes(kind)
    if name:
        if name not in sandboxes:
            raise PluginError(f"No {kind} sandbox named {name!r} (available: {', '.join(sandboxes) or 'none'}).")
        return sandboxes[name]
    preferred = {"source": "personio", "sink": "winningtemp"}[kind]
    if preferred in sandboxes:
        return sandboxes[preferred]
    if not sandboxes:
        raise PluginError(f"No installed plugin provides a {kind} sandbox.")
    return next(iter(sandboxes.values()))


@contextlib.contextmanager
def start_sandboxes(host: Host, *, source: str | None = None, sink: str | None = None,
                    mail_folder: Path | None = None, **options: Any) -> Iterator[Running]:
    with pick(host, "source", source).create(**options) as src, pick(host, "sink", sink).create(**options) as snk, \
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


def write_sandbox_config(path: Path, running: Running, *, recipients: list[str] | None = None) -> Path:
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
    header = ("# Written by `hrsync sandbox`: connection `sandbox` points at local sandboxes.\n"
              "# Secrets live in ./secrets (mode 0600). See docs/configuration.md for every key.\n")
    path.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
