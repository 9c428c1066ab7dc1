"""The hosts.yaml schema: every key, its type, default and description, as marshmallow schemas.

Data flow: :mod:`hrsync.config.load` loads hosts.yaml with :class:`ConfigFileSchema`; each
connection's ``source:``/``sink:`` settings are then validated by the connector's own
ConfigSchema. docs/configuration.md documents every field here (a test checks it).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from typing import Any

from marshmallow import (
    INCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from ..fields import DEFAULT_SENSITIVE
from ..secrets import SecretField
from .celery import CelerySchema
from .groups import NO_GROUPS, GroupsSchema
from .scope import ScopeSchema

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


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
    allow_plaintext_auth = fields.Boolean(load_default=False, metadata={
        "description": "Allow AUTH without TLS (security: none) - only for a server on this machine."})

    @validates_schema
    def _no_password_in_clear(self, data, **kwargs):
        if data.get("security") == "none" and data.get("username") and not data.get("allow_plaintext_auth"):
            raise ValidationError("Sending the SMTP login unencrypted is refused: use security starttls or tls "
                                  "(or, only for a server on this machine, allow_plaintext_auth: true).", "security")
        if data.get("allow_plaintext_auth") and data.get("host") not in LOOPBACK:
            raise ValidationError(f"allow_plaintext_auth is accepted only for a server on this machine "
                                  f"({', '.join(sorted(LOOPBACK))}).", "allow_plaintext_auth")

    @post_load
    def _make(self, data, **kwargs):
        if data["port"] is None:
            data["port"] = {"starttls": 587, "tls": 465, "none": 25}[data["security"]]
        return SmtpConfig(**data)


class DaemonSchema(StrictSchema):
    max_concurrent = fields.Integer(load_default=2, validate=validate.Range(1, 64),
                                    metadata={"description": "Connections that may run at the same time."})
    processes = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 256), metadata={
        "description": "Worker processes the runs are spread over (default: the host's cores)."})
    quarantine_after = fields.Integer(load_default=3, validate=validate.Range(1, 100), metadata={
        "description": "Pause a connection after this many run-level failures in a row."})
    shutdown_timeout = fields.Float(load_default=300.0, validate=validate.Range(min=1), metadata={
        "description": "Seconds a stopping daemon waits for running syncs."})

    @post_load
    def _make(self, data, **kwargs):
        return DaemonConfig(**data)


class HostSchema(StrictSchema):
    state = fields.String(load_default="hrsync-state.db", metadata={
        "description": "SQLite state file (relative to hosts.yaml); beside `state_dir`, the file the connections' "
                       "state was split from, never written."})
    state_dir = fields.String(load_default=None, metadata={
        "description": "Folder of one SQLite state file per connection (instead of `state`)."})
    timezone = fields.String(load_default="UTC", metadata={"description": "IANA time zone for schedules and reports."})
    busy_timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0), metadata={
        "description": "Seconds to wait when another program holds the state database."})
    keep_days = fields.Integer(load_default=400, validate=validate.Range(min=0), metadata={
        "description": "Days of run history (reports, change logs) to keep; 0 keeps everything."})
    outbox = fields.String(load_default="outbox",
                           metadata={"description": "Folder for report e-mails when no SMTP is set."})
    smtp = fields.Nested(SmtpSchema, load_default=None, allow_none=True, metadata={"description": "Report e-mail."})
    metrics_file = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        r".+\.prom\Z", error="Name a file ending in .prom (node_exporter's textfile collector reads only those)."),
        metadata={"description": "Prometheus metrics file written after each run (relative to hosts.yaml)."})
    daemon = fields.Nested(DaemonSchema, load_default=lambda: DaemonSchema().load({}),
                           metadata={"description": "How `hrsync daemon` runs connections."})
    celery = fields.Nested(CelerySchema, load_default=lambda: CelerySchema().load({}),
                           metadata={"description": "How `hrsync worker` and `hrsync schedule` run connections."})

    @validates("timezone")
    def _tz(self, value, **kwargs):
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"Unknown time zone {value!r} (use an IANA name such as Europe/Berlin).") from None


class ConnectorRefSchema(Schema):
    """`plugin:` (the source's or sink's name) plus its own settings, validated in a second pass."""

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
    max_failures_in_a_row = fields.Integer(load_default=5, validate=validate.Range(min=1), metadata={
        "description": "Stop the run as an outage after this many writes in a row failed for a passing reason."})
    max_reactivations = fields.Integer(load_default=10, validate=validate.Range(min=0),
                                       metadata={"description": "Most linked people one run may reactivate."})
    max_reactivation_percent = fields.Float(load_default=10.0, validate=validate.Range(0, 100),
                                            metadata={"description": "Most reactivations as % of linked people."})
    max_membership_removals = fields.Integer(load_default=10, validate=validate.Range(min=0), metadata={
        "description": "Most group memberships one run may remove."})
    max_membership_removal_percent = fields.Float(load_default=10.0, validate=validate.Range(0, 100), metadata={
        "description": "Most membership removals as % of the memberships hrsync keeps."})

    @post_load
    def _make(self, data, **kwargs):
        return GuardsConfig(**data)


class ScheduleSchema(StrictSchema):
    daily_at = fields.String(load_default=None, validate=validate.Regexp(
        r"^([01]\d|2[0-3]):[0-5]\d\Z", error="Give HH:MM on a 24-hour clock, e.g. 02:00, and nothing after it."),
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

    @post_load
    def _make(self, data, **kwargs):
        return ReportConfig(recipients=tuple(data["recipients"]), send=data["send"])


class ConnectionSchema(StrictSchema):
    enabled = fields.Boolean(load_default=True, metadata={"description": "false: keep config and state, never run."})
    source = fields.Nested(ConnectorRefSchema, required=True, metadata={"description": "The HR system."})
    sink = fields.Nested(ConnectorRefSchema, required=True, metadata={"description": "The app."})
    mapping = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), load_default=dict,
                          metadata={"description": "Per sink field overrides; see docs."})
    scope = fields.Nested(ScopeSchema, load_default=lambda: ScopeSchema().load({}),
                           metadata={"description": "include/exclude filters."})
    missing = fields.String(load_default="ignore", validate=validate.OneOf(["ignore", "deactivate"]),
                            metadata={"description": "What to do with linked people gone from the source."})
    create_leavers = fields.Boolean(load_default=False, metadata={
        "description": "Also create people who have already left (their desired state is inactive)."})
    guards = fields.Nested(GuardsSchema, load_default=lambda: GuardsSchema().load({}),
                           metadata={"description": "Circuit breakers."})
    sensitive_fields = fields.List(fields.String(), load_default=lambda: list(DEFAULT_SENSITIVE),
                                   metadata={"description": "Fields never shown or stored as values."})
    schedule = fields.Nested(ScheduleSchema, load_default=lambda: ScheduleSchema().load({}),
                           metadata={"description": "When the daemon runs it."})
    report = fields.Nested(ReportSchema, load_default=lambda: ReportSchema().load({}),
                           metadata={"description": "Report e-mail."})
    groups = fields.Nested(GroupsSchema, load_default=lambda: NO_GROUPS, metadata={
        "description": "Org units that become groups in the sink (none by default); see docs."})


class ConfigFileSchema(StrictSchema):
    version = fields.Integer(load_default=1, validate=validate.Equal(1), metadata={"description": "Format version: 1."})
    host = fields.Nested(HostSchema, load_default=lambda: HostSchema().load({}),
                           metadata={"description": "Settings of this host."})
    connections = fields.Raw(required=True, metadata={"description": "Connections by name."})


# The typed sections: what the schemas above load (their post_load), read by attribute
# (``conn.guards.max_deactivations``). Defaults live in the schemas only.


@dataclass(frozen=True)
class SmtpConfig:
    """``host.smtp``: where and how report e-mails are sent."""

    host: str
    port: int
    security: str
    sender: str
    timeout: float
    username: str | None = None
    password: Any = None
    ca_file: str | None = None
    allow_plaintext_auth: bool = False


@dataclass(frozen=True)
class ScheduleConfig:
    """A connection's ``schedule:``: daily at HH:MM, or every N hours."""

    daily_at: str | None
    every_hours: int | None


@dataclass(frozen=True)
class DaemonConfig:
    """``host.daemon``: how ``hrsync daemon`` runs connections."""

    max_concurrent: int
    processes: int | None
    quarantine_after: int
    shutdown_timeout: float


@dataclass(frozen=True)
class GuardsConfig:
    """A connection's ``guards:``: the circuit breakers' limits (see :mod:`hrsync.sync.guards`)."""

    max_deactivations: int
    max_deactivation_percent: float
    max_shrink_percent: float
    max_failures_in_a_row: int
    max_reactivations: int
    max_reactivation_percent: float
    max_membership_removals: int
    max_membership_removal_percent: float


@dataclass(frozen=True)
class ReportConfig:
    """A connection's ``report:``: who receives the run's report, and when (``send``)."""

    recipients: tuple[str, ...]
    send: str
