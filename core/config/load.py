"""Configuration: hosts.yaml, loaded and validated whole before anything runs.

Data flow: YAML text → generic structure (host, connections) validated with the
schemas of :mod:`hrsync.config.schema` → each connection's source and sink settings
validated against the connector's own ConfigSchema → mapping and scope compiled
against both RecordSchemas → a :class:`Config`.
Every problem of every stage is collected with its dotted path and raised as one
:class:`~hrsync.errors.ConfigError`; unknown keys are errors. Secrets are resolved
here (see :mod:`hrsync.secrets`) and never printed. Every key: docs/configuration.md.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, ValidationError

from ..connectors import MATCH_FIELD
from ..errors import ConfigError, UsageError
from ..printable import printable
from ..registry import Plugins
from .celery import CeleryConfig, CelerySchema
from .groups import NO_GROUPS, GroupsConfig, check_groups
from .mapping import FieldMapping, compile_mapping, flatten_errors
from .schema import (
    ConfigFileSchema,
    ConnectionSchema,
    DaemonConfig,
    DaemonSchema,
    GuardsConfig,
    ReportConfig,
    ScheduleConfig,
    SmtpConfig,
)
from .scope import Scope, check_scope
from .shared_sinks import check_one, check_shared_sinks
from .suggest import explain_unknown
from .yaml_text import AliasBomb, load_yaml, one_connection

CONFIG_ENV = "HRSYNC_CONFIG"
DEFAULT_CONFIG = "hosts.yaml"
DEFAULT_STATE = "hrsync-state.db"
CONNECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


@dataclass
class ConnectorConfig:
    """A connection's ``source:`` or ``sink:`` section: the connector's name (the ``plugin:`` key, which
    names it as installed plugins registered it) and its loaded settings."""

    name: str
    settings: dict[str, Any]


@dataclass
class ConnectionConfig:
    name: str
    enabled: bool
    source: ConnectorConfig
    sink: ConnectorConfig
    mapping: FieldMapping
    scope: Scope
    missing: str
    create_leavers: bool
    guards: GuardsConfig
    sensitive_fields: list[str]
    schedule: ScheduleConfig
    report: ReportConfig
    groups: GroupsConfig = NO_GROUPS
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def wanted_source_fields(self, key_field: str) -> set[str]:
        """The source fields this connection uses: the mapping's, the scope's and the source's key."""
        return (self.mapping.source_fields | set(self.scope.include) | set(self.scope.exclude) | {key_field}
                | set(self.groups.fields))


@dataclass
class Config:
    """A loaded hosts.yaml: the ``host:`` section's settings and the connections."""

    path: Path
    state: Path
    timezone: str
    outbox: Path
    smtp: SmtpConfig | None
    connections: dict[str, ConnectionConfig]
    daemon: DaemonConfig = field(default_factory=lambda: DaemonSchema().load({}))
    keep_days: int = 400
    busy_timeout: float = 10.0
    #: Where Prometheus metrics are written after each run (``host.metrics_file``); None: nowhere.
    metrics_file: Path | None = None
    #: ``host.state_dir``: one state file per connection in this folder; None: every connection in ``state``.
    state_dir: Path | None = None

    def state_file(self, name: str) -> Path:
        """The SQLite file that holds connection ``name``'s state."""
        return self.state_dir / f"{name}.db" if self.state_dir is not None else self.state
    celery: CeleryConfig = field(default_factory=lambda: CelerySchema().load({}))
    #: Loaded for one connection only (``hrsync run NAME``): ``connections`` is not the host's whole list.
    partial: bool = False

    def connection(self, name: str) -> ConnectionConfig:
        try:
            return self.connections[name]
        except KeyError:
            known = ", ".join(sorted(self.connections)) or "none"
            raise UsageError(f"{self.path}: connections.{name}: No such connection (configured: {known}).",
                             connection=name) from None


def config_path(explicit: str | os.PathLike | None = None) -> Path:
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike | None, plugins: Plugins, *, only: str | None = None) -> Config:
    """Read and validate a hosts.yaml; raise ConfigError with every problem found.

    ``only``: validate the host section and that one connection (``hrsync run NAME``), so another
    connection's mistake does not stop it, and a host of thousands of connections starts a run cheaply.
    """
    path = config_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError({"(file)": [
            f"There is no {path.resolve()}. hrsync reads ./{DEFAULT_CONFIG} unless --config PATH or the environment "
            f"variable {CONFIG_ENV} names another file. `hrsync sandbox --write-config {DEFAULT_CONFIG}` writes one "
            "that works with local sandboxes; docs/configuration.md describes every key."]},
            source=str(path)) from None
    except OSError as exc:
        raise ConfigError({"(file)": [f"Cannot read {path}: {exc.strerror}."]}, source=str(path)) from None
    try:
        data, cut = _read_yaml(text, only)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        kind = "Refused" if isinstance(exc, AliasBomb) else "Not valid YAML"
        raise ConfigError({where: [f"{kind}: {getattr(exc, 'problem', exc)}."]}, source=str(path)) from None
    return parse_config(data, plugins, path=path, only=only, text=text if cut else None)


def _read_yaml(text: str, only: str | None) -> tuple[Any, bool]:
    """hosts.yaml's data (with ``only``: the host section and that connection, if they can be cut out); cut or not."""
    cut = one_connection(text, only) if only is not None else None
    if cut is not None:
        try:
            return load_yaml(cut), True
        except yaml.YAMLError:  # e.g. an alias to an anchor in a connection cut out: the whole file says
            pass
    return load_yaml(text), False


def parse_config(data: Any, plugins: Plugins, *, path: Path = Path(DEFAULT_CONFIG), only: str | None = None,
                 text: str | None = None) -> Config:
    """``data`` as a :class:`Config`. With ``only``, that connection is loaded alone, the others' sinks read
    as written (:mod:`.neighbours`): from ``text``, hosts.yaml's, when ``data`` holds only that one."""
    errors: dict[str, list[str]] = {}

    def add(prefix: str, messages: Any) -> None:
        for sub, msgs in flatten_errors(messages).items():
            errors.setdefault(f"{prefix}.{sub}" if prefix and sub else prefix or sub, []).extend(msgs)

    if not isinstance(data, dict):
        raise ConfigError({"(file)": ["Expected a mapping with host: and connections:."]}, source=str(path))
    top: dict[str, Any] = {}
    try:
        top = ConfigFileSchema().load(data)
    except ValidationError as exc:
        add("", exc.messages)
        top = {k: v for k, v in (exc.valid_data or {}).items()}
    raw_connections = data.get("connections")
    if raw_connections is not None and not isinstance(raw_connections, dict):
        errors.setdefault("connections", []).append("Expected a mapping of connection name to settings.")
        raw_connections = {}
    connections: dict[str, ConnectionConfig] = {}
    chosen = (raw_connections or {}).items() if only is None else \
        [(name, raw) for name, raw in (raw_connections or {}).items() if str(name) == only]
    if only is not None and not chosen:  # a name nobody configured is the caller's mistake, not the file's
        known = ", ".join(sorted(map(str, raw_connections or {}))) or "none"
        raise UsageError(f"{path}: connections.{printable(only)}: No such connection (configured: {known}).",
                         connection=only)
    for name, raw in chosen:
        prefix = f"connections.{printable(str(name))}"  # a line break in a name must not forge a line of the error
        if not CONNECTION_NAME.match(str(name)):
            errors.setdefault(prefix, []).append("Connection names use letters, digits, '.', '_' and '-'.")
        conn = _load_connection(str(name), raw, plugins, prefix, add, errors)
        if conn is not None:
            connections[str(name)] = conn
    shared = check_shared_sinks(connections, plugins) if only is None else \
        check_one(connections[only], plugins, data, text) if only in connections else {}
    for where, messages in shared.items():
        errors.setdefault(where, []).extend(messages)
    if errors:
        explain_unknown(errors, data, plugins)
        raise ConfigError(errors, source=str(path))
    host_cfg = top.get("host") or {}
    given = data.get("host") if isinstance(data.get("host"), dict) else {}
    return Config(
        path=path,
        state=_place(path, given.get("state"), DEFAULT_STATE),
        timezone=host_cfg.get("timezone", "UTC"),
        outbox=_place(path, given.get("outbox"), "outbox"),
        smtp=host_cfg.get("smtp"),
        connections=connections,
        daemon=host_cfg.get("daemon") or DaemonSchema().load({}),
        keep_days=host_cfg.get("keep_days", 400),
        busy_timeout=host_cfg.get("busy_timeout", 10.0),
        metrics_file=path.parent / host_cfg["metrics_file"] if host_cfg.get("metrics_file") else None,
        state_dir=path.parent / given["state_dir"] if isinstance(given.get("state_dir"), str) else None,
        celery=host_cfg.get("celery") or CelerySchema().load({}),
        partial=only is not None,
    )


def default_state(config: Path) -> Path:
    """Where the host's one state file is when ``host.state`` does not say."""
    return _place(config, None, DEFAULT_STATE)


def _place(config: Path, given: Any, default: str) -> Path:
    """Where a file of the host lives: as written (relative to hosts.yaml), else under systemd's
    ``$STATE_DIRECTORY`` when the service has one (StateDirectory=), else beside hosts.yaml."""
    if isinstance(given, str):
        return config.parent / given
    state_directory = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(state_directory) / default if state_directory else config.parent / default


def _load_connection(name, raw, plugins: Plugins, prefix, add, errors) -> ConnectionConfig | None:
    try:
        loaded = ConnectionSchema().load(raw if raw is not None else {})
        ok = True
    except ValidationError as exc:
        add(prefix, exc.messages)
        loaded, ok = exc.valid_data or {}, False
    classes, connectors = {}, {}
    for role in ("source", "sink"):
        ref = (raw or {}).get(role) if isinstance(raw, dict) else None
        if not isinstance(ref, dict) or not isinstance(ref.get("plugin"), str):
            continue
        try:
            cls = plugins.source_class(ref["plugin"]) if role == "source" else plugins.sink_class(ref["plugin"])
        except Exception as exc:
            errors.setdefault(f"{prefix}.{role}.plugin", []).append(str(exc))
            ok = False
            continue
        if role == "sink" and MATCH_FIELD not in cls.RecordSchema().fields:
            errors.setdefault(f"{prefix}.sink.plugin", []).append(
                f"Sink {cls.name!r} has no {MATCH_FIELD!r} field to match people on; it cannot be used.")
            ok = False
            continue
        classes[role] = cls
        settings = {k: v for k, v in ref.items() if k != "plugin"}
        try:
            connectors[role] = ConnectorConfig(ref["plugin"], cls.ConfigSchema(unknown=RAISE).load(settings))
        except ValidationError as exc:
            add(f"{prefix}.{role}", exc.messages)
            ok = False
    if len(classes) != 2:
        return None
    # The mapping is checked even when other keys are wrong, so every problem is reported at once.
    rules = raw.get("mapping") if isinstance(raw, dict) else None
    mapping, mapping_errors = compile_mapping(rules if isinstance(rules, dict) else {},
                                              classes["source"].RecordSchema, classes["sink"].RecordSchema)
    scope = Scope(**loaded["scope"]) if "scope" in loaded else None
    if scope is not None:
        mapping_errors.update(check_scope(scope, classes["source"].RecordSchema))
    groups = loaded.get("groups", NO_GROUPS)
    sink_cls = classes["sink"]
    mapping_errors.update(check_groups(groups, classes["source"].RecordSchema, sink_name=sink_cls.name,
                                       sink_holds_groups=sink_cls.holds_groups or sink_cls.takes_snapshots))
    for path, msgs in mapping_errors.items():
        errors.setdefault(f"{prefix}.{path}", []).extend(msgs)
    if not ok or mapping_errors:
        return None
    return ConnectionConfig(
        name=name,
        enabled=loaded["enabled"],
        source=connectors["source"],
        sink=connectors["sink"],
        mapping=mapping,
        scope=scope,
        missing=loaded["missing"],
        create_leavers=loaded["create_leavers"],
        guards=loaded["guards"],
        sensitive_fields=loaded["sensitive_fields"],
        schedule=loaded["schedule"],
        report=loaded["report"],
        groups=groups,
        raw=raw,
    )
