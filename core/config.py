"""Configuration: hosts.yaml, loaded and validated whole before anything runs.

Data flow: YAML text → generic structure (host, connections) validated with
marshmallow → each connection's source and sink settings validated against the
plugin's own ConfigSchema → mapping and scope compiled against both RecordSchemas.
Every problem of every stage is collected with its dotted path and raised as one
:class:`~hrsync.errors.ConfigError`; unknown keys are errors. Secrets are resolved
here (see :mod:`hrsync.secrets`) and never printed. Every key: docs/configuration.md.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, post_load, validate, validates

from .errors import ConfigError
from .fields import DEFAULT_SENSITIVE
from .host import Host
from .mapping import FieldMapping, Scope, ScopeSchema, check_scope, compile_mapping, flatten_errors
from .secrets import SecretField

CONFIG_ENV = "HRSYNC_CONFIG"
DEFAULT_CONFIG = "hosts.yaml"
CONNECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class SmtpSchema(StrictSchema):
    host = fields.String(required=True, metadata={"description": "SMTP server name."})
    port = fields.Integer(load_default=None, validate=validate.Range(1, 65535),
                          metadata={"description": "Port; default 587 (starttls), 465 (tls), 25 (none)."})
    security = fields.String(load_default="starttls", validate=validate.OneOf(["starttls", "tls", "none"]),
                             metadata={"description": "starttls, tls (implicit) or none."})
    username = fields.String(load_default=None, metadata={"description": "AUTH user name."})
    password = SecretField(load_default=None, metadata={"description": "AUTH password."})
    sender = fields.Email(required=True, metadata={"description": "From address of reports."})
    timeout = fields.Float(load_default=30.0, validate=validate.Range(min=1),
                           metadata={"description": "Seconds per SMTP operation."})
    ca_file = fields.String(load_default=None, metadata={"description": "CA bundle to trust (self-signed servers)."})

    @post_load
    def _make(self, data, **kwargs):
        if data["port"] is None:
            data["port"] = {"starttls": 587, "tls": 465, "none": 25}[data["security"]]
        return SmtpConfig(**data)


class DaemonSchema(StrictSchema):
    max_concurrent = fields.Integer(load_default=2, validate=validate.Range(1, 64),
                                    metadata={"description": "Connections that may run at the same time."})
    quarantine_after = fields.Integer(load_default=3, validate=validate.Range(1, 100), metadata={
        "description": "Pause a connection after this many run-level failures in a row."})
    shutdown_timeout = fields.Float(load_default=300.0, validate=validate.Range(min=1), metadata={
        "description": "Seconds a stopping daemon waits for running syncs."})


class HostSchema(StrictSchema):
    state = fields.String(load_default="hrsync-state.db",
                          metadata={"description": "SQLite state file (relative to hosts.yaml)."})
    timezone = fields.String(load_default="UTC", metadata={"description": "IANA time zone for schedules and reports."})
    keep_days = fields.Integer(load_default=400, validate=validate.Range(min=0), metadata={
        "description": "Days of run history (reports, change logs) to keep; 0 keeps everything."})
    outbox = fields.String(load_default="outbox",
                           metadata={"description": "Folder for report e-mails when no SMTP is set."})
    smtp = fields.Nested(SmtpSchema, load_default=None, allow_none=True, metadata={"description": "Report e-mail."})
    daemon = fields.Nested(DaemonSchema, load_default=lambda: DaemonSchema().load({}),
                           metadata={"description": "How `hrsync daemon` runs connections."})

    @validates("timezone")
    def _tz(self, value, **kwargs):
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"Unknown time zone {value!r} (use an IANA name such as Europe/Berlin).") from None


class PluginRefSchema(Schema):
    """`plugin:` plus the plugin's own settings, validated in a second pass."""

    class Meta:
        unknown = INCLUDE

    plugin = fields.String(required=True, metadata={"description": "Name of an installed plugin."})


class GuardsSchema(StrictSchema):
    max_deactivations = fields.Integer(load_default=10, validate=validate.Range(min=0),
                                       metadata={"description": "Most people one run may deactivate."})
    max_deactivation_percent = fields.Float(load_default=10.0, validate=validate.Range(0, 100),
                                            metadata={"description": "Most deactivations as % of linked people."})
    max_shrink_percent = fields.Float(load_default=30.0, validate=validate.Range(0, 100),
                                      metadata={"description": "Stop when the source list shrank more than this."})


class ScheduleSchema(StrictSchema):
    daily_at = fields.String(load_default=None, validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$"),
                             metadata={"description": "HH:MM in the host's time zone (default 02:00)."})
    every_hours = fields.Integer(load_default=None, validate=validate.Range(1, 168),
                                 metadata={"description": "Run every N hours instead."})

    @post_load
    def _make(self, data, **kwargs):
        if data["daily_at"] and data["every_hours"]:
            raise ValidationError("Set daily_at or every_hours, not both.")
        if not data["daily_at"] and not data["every_hours"]:
            data["daily_at"] = "02:00"
        return ScheduleConfig(**data)


class ReportSchema(StrictSchema):
    recipients = fields.List(fields.Email(), load_default=list, metadata={"description": "Who receives the report."})
    send = fields.String(load_default="always", validate=validate.OneOf(["always", "changes", "attention"]),
                         metadata={"description": "always; changes (something changed or needs attention); "
                                                  "attention (only problems)."})


class ConnectionSchema(StrictSchema):
    enabled = fields.Boolean(load_default=True, metadata={"description": "false: keep config and state, never run."})
    source = fields.Nested(PluginRefSchema, required=True, metadata={"description": "The HR system."})
    sink = fields.Nested(PluginRefSchema, required=True, metadata={"description": "The app."})
    mapping = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), load_default=dict,
                          metadata={"description": "Per sink field overrides; see docs."})
    scope = fields.Nested(ScopeSchema, load_default=lambda: ScopeSchema().load({}),
                           metadata={"description": "include/exclude filters."})
    missing = fields.String(load_default="ignore", validate=validate.OneOf(["ignore", "deactivate"]),
                            metadata={"description": "What to do with linked people gone from the source."})
    guards = fields.Nested(GuardsSchema, load_default=lambda: GuardsSchema().load({}),
                           metadata={"description": "Circuit breakers."})
    sensitive_fields = fields.List(fields.String(), load_default=lambda: list(DEFAULT_SENSITIVE),
                                   metadata={"description": "Fields never shown or stored as values."})
    schedule = fields.Nested(ScheduleSchema, load_default=lambda: ScheduleSchema().load({}),
                           metadata={"description": "When the daemon runs it."})
    report = fields.Nested(ReportSchema, load_default=lambda: ReportSchema().load({}),
                           metadata={"description": "Report e-mail."})


class HostsSchema(StrictSchema):
    version = fields.Integer(load_default=1, validate=validate.Equal(1), metadata={"description": "Format version: 1."})
    host = fields.Nested(HostSchema, load_default=lambda: HostSchema().load({}),
                           metadata={"description": "Settings of this host."})
    connections = fields.Raw(required=True, metadata={"description": "Connections by name."})


@dataclass
class SmtpConfig:
    host: str
    port: int
    security: str
    sender: str
    timeout: float
    username: str | None = None
    password: Any = None
    ca_file: str | None = None


@dataclass
class ScheduleConfig:
    daily_at: str | None
    every_hours: int | None


@dataclass
class PluginConfig:
    plugin: str
    settings: dict[str, Any]


@dataclass
class ConnectionConfig:
    name: str
    enabled: bool
    source: PluginConfig
    sink: PluginConfig
    mapping: FieldMapping
    scope: Scope
    missing: str
    guards: dict[str, Any]
    sensitive_fields: list[str]
    schedule: ScheduleConfig
    report: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass
class HostsConfig:
    path: Path
    state: Path
    timezone: str
    outbox: Path
    smtp: SmtpConfig | None
    connections: dict[str, ConnectionConfig]
    daemon: dict[str, Any] = field(default_factory=lambda: DaemonSchema().load({}))
    keep_days: int = 400

    def connection(self, name: str) -> ConnectionConfig:
        try:
            return self.connections[name]
        except KeyError:
            known = ", ".join(sorted(self.connections)) or "none"
            raise ConfigError({f"connections.{name}": [f"No such connection (configured: {known})."]},
                              source=str(self.path)) from None


def config_path(explicit: str | os.PathLike | None = None) -> Path:
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike | None, host: Host) -> HostsConfig:
    """Read and validate a hosts.yaml; raise ConfigError with every problem found."""
    path = config_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError({"(file)": [f"Cannot read {path}: {exc.strerror}."]}, source=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError({where: [f"Not valid YAML: {getattr(exc, 'problem', exc)}."]}, source=str(path)) from None
    return parse_config(data, host, path=path)


def parse_config(data: Any, host: Host, *, path: Path = Path(DEFAULT_CONFIG)) -> HostsConfig:
    errors: dict[str, list[str]] = {}

    def add(prefix: str, messages: Any) -> None:
        for sub, msgs in flatten_errors(messages).items():
            errors.setdefault(f"{prefix}.{sub}" if prefix and sub else prefix or sub, []).extend(msgs)

    if not isinstance(data, dict):
        raise ConfigError({"(file)": ["Expected a mapping with host: and connections:."]}, source=str(path))
    top: dict[str, Any] = {}
    try:
        top = HostsSchema().load(data)
    except ValidationError as exc:
        add("", exc.messages)
        top = {k: v for k, v in (exc.valid_data or {}).items()}
    raw_connections = data.get("connections")
    if raw_connections is not None and not isinstance(raw_connections, dict):
        errors.setdefault("connections", []).append("Expected a mapping of connection name to settings.")
        raw_connections = {}
    connections: dict[str, ConnectionConfig] = {}
    for name, raw in (raw_connections or {}).items():
        prefix = f"connections.{name}"
        if not CONNECTION_NAME.match(str(name)):
            errors.setdefault(prefix, []).append("Connection names use letters, digits, '.', '_' and '-'.")
        conn = _load_connection(str(name), raw, host, prefix, add, errors)
        if conn is not None:
            connections[str(name)] = conn
    if errors:
        raise ConfigError(errors, source=str(path))
    base = path.parent
    host_cfg = top.get("host") or {}
    return HostsConfig(
        path=path,
        state=base / host_cfg.get("state", "hrsync-state.db"),
        timezone=host_cfg.get("timezone", "UTC"),
        outbox=base / host_cfg.get("outbox", "outbox"),
        smtp=host_cfg.get("smtp"),
        connections=connections,
        daemon=host_cfg.get("daemon") or DaemonSchema().load({}),
        keep_days=host_cfg.get("keep_days", 400),
    )


def _load_connection(name, raw, host: Host, prefix, add, errors) -> ConnectionConfig | None:
    try:
        loaded = ConnectionSchema().load(raw if raw is not None else {})
        ok = True
    except ValidationError as exc:
        add(prefix, exc.messages)
        loaded, ok = exc.valid_data or {}, False
    classes = {}
    for role in ("source", "sink"):
        ref = (raw or {}).get(role) if isinstance(raw, dict) else None
        if not isinstance(ref, dict) or not isinstance(ref.get("plugin"), str):
            continue
        try:
            cls = host.source_class(ref["plugin"]) if role == "source" else host.sink_class(ref["plugin"])
        except Exception as exc:
            errors.setdefault(f"{prefix}.{role}.plugin", []).append(str(exc))
            ok = False
            continue
        settings = {k: v for k, v in ref.items() if k != "plugin"}
        try:
            loaded_settings = cls.ConfigSchema(unknown=RAISE).load(settings)
        except ValidationError as exc:
            add(f"{prefix}.{role}", exc.messages)
            ok = False
            continue
        classes[role] = (cls, PluginConfig(ref["plugin"], loaded_settings))
    if not ok or len(classes) != 2:
        return None
    source_cls, source_cfg = classes["source"]
    sink_cls, sink_cfg = classes["sink"]
    mapping, mapping_errors = compile_mapping(loaded["mapping"], source_cls.RecordSchema, sink_cls.RecordSchema)
    scope = Scope(**loaded["scope"])
    mapping_errors.update(check_scope(scope, source_cls.RecordSchema))
    for path, msgs in mapping_errors.items():
        errors.setdefault(f"{prefix}.{path}", []).extend(msgs)
    if mapping_errors:
        return None
    return ConnectionConfig(
        name=name,
        enabled=loaded["enabled"],
        source=source_cfg,
        sink=sink_cfg,
        mapping=mapping,
        scope=scope,
        missing=loaded["missing"],
        guards=loaded["guards"],
        sensitive_fields=loaded["sensitive_fields"],
        schedule=loaded["schedule"],
        report=loaded["report"],
        raw=raw,
    )
