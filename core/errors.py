"""The exceptions of hrsync: one root, and one branch per place a fault can come from.

Every error carries the data needed to act on it (the plugin, the connection, the
record at fault) and a message written for the person who has to fix it. The CLI
prints ``str(error)`` as one line; ``--debug`` adds the traceback.

Three questions decide what the engine does with an error, as in singer-sdk:

* fatal (``RunError`` and its children): the run stops before its next write;
* retriable (``RetriableError``): the operation may succeed if tried again later;
* skippable (``RecordError``): one person is skipped or failed, the run goes on.
"""

from __future__ import annotations


class HrsyncError(Exception):
    """Root of every error hrsync raises on purpose."""

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class ConfigError(HrsyncError):
    """The configuration is invalid. ``errors`` maps each path to its messages."""

    def __init__(self, errors: dict[str, list[str]], source: str = "hosts.yaml") -> None:
        self.errors = errors
        self.source = source
        lines = [f"{path}: {msg}" for path, msgs in sorted(errors.items()) for msg in msgs]
        count = len(lines)
        header = f"{source}: {count} problem{'s' if count != 1 else ''} found"
        super().__init__(header + "\n" + "\n".join(f"  {line}" for line in lines))

    @property
    def lines(self) -> list[str]:
        return [f"{path}: {msg}" for path, msgs in sorted(self.errors.items()) for msg in msgs]


class PluginError(HrsyncError):
    """A plugin could not be loaded or registered, or misbehaved. Names the plugin."""

    def __init__(self, message: str, *, plugin: str | None = None, **context: object) -> None:
        super().__init__(message, plugin=plugin, **context)
        self.plugin = plugin


class RunError(HrsyncError):
    """A run-level fault: the run stops before any further write. Names the connection."""

    #: The ``hrsync`` command's exit code when this error stops it.
    exit_code: int = 2

    def __init__(self, message: str, *, connection: str | None = None, **context: object) -> None:
        super().__init__(message, connection=connection, **context)
        self.connection = connection


class StorageError(RunError):
    """The state or a file beside it cannot be written (a full disk, a read-only file system, a symlink where
    hrsync creates a file). Names the path and what to do; nothing was half-written."""


class SourceError(RunError):
    """The source could not be read completely (network, server faults)."""


class SinkError(RunError):
    """The sink failed as a whole (unreachable, refusing everything): no further write is attempted."""


class ListingRefused(SinkError):
    """The sink will not list everyone it holds (it only answers lookups). The engine then looks
    people up one by one; raised elsewhere, it stops the run like any SinkError."""


class AuthError(RunError):
    """Credentials were refused. The message names the settings to check. Raise a variant below."""


class SourceAuthError(AuthError, SourceError):
    """The source refused its credentials."""


class SinkAuthError(AuthError, SinkError):
    """The sink refused its credentials (token)."""


class GuardError(RunError):
    """A circuit breaker stopped the run before any write; the message says why and how to allow it."""


class LockedError(RunError):
    """Another run of the same connection (or another daemon on the same state) holds the lock."""


class UsageError(HrsyncError):
    """The command asked for what is not there (``run --only`` with an e-mail nobody in the source has): no
    run is recorded and no report sent - a typo is not a stopped run for HR to act on."""

    #: The ``hrsync`` command's exit code (a usage error, like click's own).
    exit_code: int = 2

    def __init__(self, message: str, *, connection: str | None = None, **context: object) -> None:
        super().__init__(message, connection=connection, **context)
        self.connection = connection


class DeliveryError(HrsyncError):
    """A report could not be sent; the run itself is unaffected."""


class RecordError(HrsyncError):
    """One person could not be processed. The run goes on; the person is retried next run."""

    def __init__(self, message: str, *, record: str | None = None, **context: object) -> None:
        super().__init__(message, record=record, **context)
        self.record = record


class RetriableError(RecordError):
    """A write failed for a reason that may pass (rate limits, server faults) after retries ran out.

    ``ambiguous`` says the write may have happened anyway (a timeout after sending):
    the engine then keeps the create intent, so the next run looks before creating.
    """

    def __init__(self, message: str, *, record: str | None = None, ambiguous: bool = False,
                 **context: object) -> None:
        super().__init__(message, record=record, **context)
        self.ambiguous = ambiguous


class ConflictError(RecordError):
    """The sink already holds a person with this key; the engine looks them up and links them."""
