"""hrsync: keep the people records of downstream apps in step with the HR system of record.

The public surface a plugin imports: connector and sandbox base classes, errors, the
field vocabulary, secrets and ``hookimpl``. Nothing here loads plugins: see
:func:`hrsync.registry.load_plugins`. The test harness is :mod:`hrsync.testing`.
"""

import pluggy

from .connectors import MATCH_FIELD, Connector, Defer, RunContext, Sink, SinkPerson, Source
from .errors import (
    AuthError,
    ConfigError,
    ConflictError,
    DeliveryError,
    GuardError,
    HrsyncError,
    ListingRefused,
    LockedError,
    PluginError,
    RecordError,
    RetriableError,
    RunError,
    SinkAuthError,
    SinkError,
    SourceAuthError,
    SourceError,
)
from .fields import GENDERS, STANDARD_FIELDS, STATUSES, IsoDate, standard_field
from .network import describe_network_error, network_cause
from .sandbox import LoopbackServer, Sandbox, SinkSandbox, SourceSandbox, Write, admin_answer
from .sandbox_server import InFlight, KeepAliveHandler, KeepAliveServer
from .secrets import Secret, SecretField

__version__ = "0.3.0"

hookimpl = pluggy.HookimplMarker("hrsync")

__all__ = [
    "AuthError",
    "ConfigError",
    "ConflictError",
    "Connector",
    "Defer",
    "DeliveryError",
    "GENDERS",
    "GuardError",
    "HrsyncError",
    "InFlight",
    "IsoDate",
    "KeepAliveHandler",
    "KeepAliveServer",
    "ListingRefused",
    "LockedError",
    "LoopbackServer",
    "MATCH_FIELD",
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
    "SinkAuthError",
    "SinkError",
    "SinkPerson",
    "SinkSandbox",
    "Source",
    "SourceAuthError",
    "SourceError",
    "SourceSandbox",
    "Write",
    "admin_answer",
    "describe_network_error",
    "hookimpl",
    "network_cause",
    "standard_field",
]
