"""What hrsync remembers between runs, in one SQLite file: links, outcomes, run history, locks.

:mod:`.store` is the :class:`State` the sync stage writes through, :mod:`.history` its run
history, :mod:`.migrations` the schema's versions, :mod:`.digests` the keyed digests that keep
personal values out of the file, :mod:`.locking` the per-connection lock.
"""

from .store import Link, LogEntry, State, open_state

__all__ = ["Link", "LogEntry", "State", "open_state"]
