"""hrsync: keep the people records of downstream apps in step with the HR system of record.

The public surface a plugin imports: ``hookimpl``, the connector base classes, the errors, the
field vocabulary and secrets. Sandbox building blocks are in :mod:`hrsync.sandbox`, the test
harness in :mod:`hrsync.testing`; every other module is internal and may change in any release.
Nothing here loads plugins: see :func:`hrsync.registry.load_plugins`.

The promise (docs/plugins.md, "Stability"): a name listed in ``__all__`` (here, in
:mod:`hrsync.sandbox` and in :mod:`hrsync.testing`) keeps working through every 0.x minor
release; one that is renamed or moved stays importable under its old name, with a
:class:`DeprecationWarning`, for at least one minor release before it goes.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import pluggy

from .connectors import Connector, Defer, RunContext, Sink, SinkPerson, Source
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
from .fields import STANDARD_FIELDS, STATUSES, standard_field
from .http_bounds import BoundedAdapter, RequestAborted, RequestClock, ResponseTooLarge, bounded_request
from .network import describe_network_error, network_cause
from .secrets import LocalFileField, Secret, SecretField
from .sink_groups import SinkGroup
from .sink_snapshots import Delivery, Snapshot, SnapshotGroup, SnapshotPerson

__version__ = "0.4.0"

hookimpl = pluggy.HookimplMarker("hrsync")

__all__ = [
    "AuthError",
    "BoundedAdapter",
    "ConfigError",
    "ConflictError",
    "Connector",
    "Defer",
    "Delivery",
    "DeliveryError",
    "GuardError",
    "HrsyncError",
    "ListingRefused",
    "LocalFileField",
    "LockedError",
    "PluginError",
    "RecordError",
    "RequestAborted",
    "RequestClock",
    "ResponseTooLarge",
    "RetriableError",
    "RunContext",
    "RunError",
    "STANDARD_FIELDS",
    "STATUSES",
    "Secret",
    "SecretField",
    "Sink",
    "SinkAuthError",
    "SinkError",
    "SinkGroup",
    "Snapshot",
    "SnapshotGroup",
    "SnapshotPerson",
    "SinkPerson",
    "Source",
    "SourceAuthError",
    "SourceError",
    "bounded_request",
    "describe_network_error",
    "hookimpl",
    "network_cause",
    "standard_field",
]

#: Names that 0.3 exported here, and where they live now (module, name). Importing one still works,
#: with a DeprecationWarning, through the 0.4 releases; 0.5 removes them.
MOVED = {
    "InFlight": ("hrsync.sandbox", "RequestCounter"),
    "KeepAliveHandler": ("hrsync.sandbox", "KeepAliveHandler"),
    "KeepAliveServer": ("hrsync.sandbox", "KeepAliveServer"),
    "LoopbackServer": ("hrsync.sandbox", "LoopbackServer"),
    "Sandbox": ("hrsync.sandbox", "Sandbox"),
    "SinkSandbox": ("hrsync.sandbox", "SinkSandbox"),
    "SourceSandbox": ("hrsync.sandbox", "SourceSandbox"),
    "Write": ("hrsync.sandbox", "Write"),
    "admin_answer": ("hrsync.sandbox", "admin_answer"),
    "GENDERS": ("hrsync.fields", "GENDERS"),
    "IsoDate": ("hrsync.fields", "IsoDate"),
    "MATCH_FIELD": ("hrsync.connectors", "MATCH_FIELD"),
}


def __getattr__(name: str) -> Any:
    if name in MOVED:
        module, new = MOVED[name]
        warnings.warn(f"hrsync.{name} moved to {module}.{new}; the old name goes in hrsync 0.5",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), new)
    raise AttributeError(f"module 'hrsync' has no attribute {name!r}")
