"""The exceptions of hrsync: one root, and one branch per place a fault can come from.

Every error carries the data needed to act on it (the plugin, the connection, the
record at fault) and a message written for the person who has to fix it. The CLI
prints ``str(error)`` as one line; ``--debug`` adds the traceback.

Three questions decide what the engine does with an error, as in singer-sdk:

* fatal (``RunError`` and its children): the run stops before its next write;
* retriable (``RetriableError``): the operation may succeed if tried again later;
* skippable (``RecordError``): one person is skipped or failed, the run goes on.

Each error that ends a command names its exit code (``exit_code``); :data:`EXIT_CODES` is the one table of
them, which ``hrsync --help``, ``hrsync run --help`` and README.md show.
"""

from __future__ import annotations

import sysconfig
import traceback
from pathlib import Path

EXIT_OK, EXIT_RECORDS, EXIT_STOPPED, EXIT_REPORT = 0, 1, 2, 3
EXIT_CONFIG, EXIT_LOCKED, EXIT_USAGE = 4, 5, 6
EXIT_ABORTED = 130

#: Every exit code of the ``hrsync`` command and what it means. 4, 5 and 6 end a command before it runs
#: anything; a run's own outcome is the worst of 1 and 2, and an undelivered report (3) outranks both, since
#: the report is how HR learns of the rest (:func:`hrsync.service.runner.run_exit_code`).
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done: every change applied (check: the file is valid and every service answered)",
    EXIT_RECORDS: "some people need attention (a record skipped, a write failed); the rest was applied",
    EXIT_STOPPED: "the run stopped before (more) writes: a guard, a service down or refusing us, a stop request, "
                  "the state unwritable, a broken plugin (check: a connection or SMTP failed its test)",
    EXIT_REPORT: "the run's report was not delivered (it is in the outbox, or lost): `hrsync status` lists it; "
                 "this outranks 1 and 2",
    EXIT_CONFIG: "hosts.yaml is invalid (every problem is listed); nothing ran",
    EXIT_LOCKED: "locked: another run of the connection, another daemon or another program holds the state; "
                 "nothing ran",
    EXIT_USAGE: "usage error: an unknown command, option, connection, run id or person; nothing ran",
    EXIT_ABORTED: "aborted by a second Ctrl-C; the next run repairs the writes that were in flight",
}


class HrsyncError(Exception):
    """Root of every error hrsync raises on purpose."""

    #: The ``hrsync`` command's exit code when this error ends it (:data:`EXIT_CODES`).
    exit_code: int = EXIT_STOPPED

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class ConfigError(HrsyncError):
    """The configuration is invalid. ``errors`` maps each path to its messages."""

    exit_code = EXIT_CONFIG

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

    exit_code = EXIT_LOCKED


class UsageError(HrsyncError):
    """The command asked for what is not there (``run --only`` with an e-mail nobody in the source has): no
    run is recorded and no report sent - a typo is not a stopped run for HR to act on."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, connection: str | None = None, **context: object) -> None:
        super().__init__(message, connection=connection, **context)
        self.connection = connection


class DeliveryError(HrsyncError):
    """A report could not be sent; the run itself is unaffected."""

    exit_code = EXIT_REPORT


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


def crash_site(exc: BaseException) -> str:
    """An exception no code expected (a plugin's bug), told without its text, which may quote a record (a
    birthday, a gender): its type and the line of hrsync's or the plugin's code it came through last."""
    frames = traceback.extract_tb(exc.__traceback__)
    paths = sysconfig.get_paths()
    libraries = (paths["stdlib"], paths["purelib"], paths["platlib"])
    ours = [frame for frame in frames if not frame.filename.startswith(libraries)] or frames
    where = f" in {Path(ours[-1].filename).name}:{ours[-1].lineno}, {ours[-1].name}()" if ours else ""
    return f"{type(exc).__name__}{where}"


def unexpected_error(exc: BaseException) -> str:
    """What a report, the state and the log say of a run that an unexpected exception ended (``--debug`` logs
    the exception's text and traceback)."""
    return (f"Unexpected error ({crash_site(exc)}). Nothing further was written; run again with --debug for its "
            "message and traceback, and report them to the plugin's authors.")
