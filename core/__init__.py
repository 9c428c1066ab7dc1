"""hrsync: keep the people records of downstream apps in step with the HR system of record.

The public surface a plugin imports. Nothing here loads plugins: see :func:`make_host`.
"""

import pluggy

from .connectors import Defer, RunContext, Sink, SinkPerson, Source
from .errors import (
    AuthError,
    ConfigError,
    ConflictError,
    GuardError,
    HrsyncError,
    PluginError,
    RecordError,
    RetriableError,
    RunError,
    SinkError,
    SourceError,
)
from .fields import GENDERS, STANDARD_FIELDS, STATUSES, IsoDate, standard_field
from .sandbox import Sandbox, SourceSandbox
from .secrets import Secret, SecretField

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("hrsync")

__all__ = [
    "AuthError",
    "ConfigError",
    "ConflictError",
    "Defer",
    "GENDERS",
    "GuardError",
    "HrsyncError",
    "IsoDate",
    "PluginError",
    "RecordError",
    "RetriableError",
    "RunContext",
    "RunError",
    "STANDARD_FIELDS",
    "STATUSES",
    "Sandbox",
    "Secret",
    "SecretField",
    "Sink",
    "SinkError",
    "SinkPerson",
    "Source",
    "SourceError",
    "SourceSandbox",
    "hookimpl",
    "standard_field",
]
