"""Where each connection's state lives: the host's one state file (``host.state``), or a file per connection in
``host.state_dir`` - and the commands that read across connections (runs, report, status, pauses, prune).

Data flow: the engine opens its connection's file (:func:`open_connection_state`); ``hrsync runs``, ``report``,
``status`` and the daemon read every connection through one :class:`StateFiles`, which opens each file once and
treats a connection that has never run as an empty state. With a file per connection, runs never wait for
another connection's commits, and a connection's state moves to another host with its two files
(``NAME.db`` and ``NAME.db.key``). Run ids are numbered per file: two connections' runs may share an id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..config.load import Config, default_state
from ..errors import RunError, UsageError
from .store import State, open_state

#: The suffix of a connection's state file in ``host.state_dir``.
SUFFIX = ".db"


def open_connection_state(config: Config, name: str, *, read_only: bool = False) -> State:
    """The state of connection ``name``: its own file in ``host.state_dir``, else the host's one file."""
    path = config.state_file(name)
    if config.state_dir is not None and not path.exists():  # a dry run too: its plan would be a first run's
        _refuse_unsplit(config, name)
    return open_state(path, read_only=read_only, busy_timeout=config.busy_timeout)


def _refuse_unsplit(config: Config, name: str) -> None:
    """A connection's first file in ``state_dir`` while a shared file still holds its links would start it
    afresh (every person matched again, its history elsewhere): refused until that file is split. The shared
    files are the one ``host.state`` names beside ``state_dir`` and the default one."""
    for shared in dict.fromkeys([config.state, default_state(config.path)]):
        if _holds(shared, name):
            raise RunError(f"{shared} holds the state of connection {name!r}, but host.state_dir points to "
                           f"{config.state_dir}. Move it there first: hrsync state split --from {shared} --into "
                           f"{config.state_dir} (every connection's links and history are kept).", connection=name)


def _holds(shared: Path, name: str) -> bool:
    """Whether the state file ``shared`` holds links or runs of connection ``name``."""
    if not shared.is_file():
        return False
    try:
        conn = sqlite3.connect(f"file:{shared}?mode=ro", uri=True)
        try:
            return conn.execute("select 1 from people where connection = ? union all select 1 from runs where "
                                "connection = ? limit 1", [name, name]).fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return False  # not a state file hrsync can read: nothing of this connection to lose


def daemon_lock(config: Config) -> Path:
    """The file whose lock says a daemon serves this host's state (one daemon per state file or folder)."""
    if config.state_dir is not None:
        return config.state_dir / "daemon.lock"
    return config.state.with_name(config.state.name + ".daemon.lock")


def connection_files(folder: Path) -> dict[str, Path]:
    """The connections' state files in a ``state_dir``, by connection name."""
    return {path.name[:-len(SUFFIX)]: path for path in sorted(folder.glob(f"*{SUFFIX}")) if path.is_file()}


class StateFiles:
    """Every state file of a host, each opened once (read-only unless told), for commands that read or change
    several connections' state; a connection without a file yet reads as an empty state."""

    def __init__(self, config: Config, *, read_only: bool = True) -> None:
        self.config, self.read_only = config, read_only
        self._open: dict[Path, State] = {}

    def of(self, name: str) -> State:
        """The state holding connection ``name``."""
        path = self.config.state_file(name)
        if path not in self._open:
            if self.read_only and self.config.state_dir is not None and not path.exists():
                path = Path(":empty:")  # one in-memory state stands for every connection that never ran
                if path not in self._open:
                    self._open[path] = open_state(self.config.state_dir / f"{name}{SUFFIX}", read_only=True)
                return self._open[path]
            self._open[path] = open_connection_state(self.config, name, read_only=self.read_only)
        return self._open[path]

    def every(self) -> Iterator[tuple[str | None, State]]:
        """Each state file of the host with the connection it is read for: the one file (None: every
        connection in it), or every connection's file in ``state_dir`` (also of connections since removed from
        hosts.yaml: their history is still there), read for that connection only - a stray file there, such as
        the shared file kept as a backup after a split, never passes its other connections' rows off as one's."""
        if self.config.state_dir is None:
            yield None, self.of(next(iter(self.config.connections), ""))
            return
        folder = self.config.state_dir
        for name, path in (connection_files(folder) if folder.is_dir() else {}).items():
            if path.resolve() != self.config.state.resolve():
                yield name, self.of(name)

    def runs(self, connection: str | None = None, limit: int = 50) -> list[dict]:
        """Run summaries of one connection or of all, newest first."""
        if connection is not None:
            return self.of(connection).runs(connection, limit)
        states = list(self.every())
        if len(states) == 1:
            return states[0][1].runs(states[0][0], limit)
        rows = [row for name, state in states for row in state.runs(name, limit)]
        return sorted(rows, key=lambda r: (r["started_at"] or "", r["id"]), reverse=True)[:limit]

    def run(self, run_id: int, connection: str | None = None) -> dict | None:
        """Run ``run_id`` (of ``connection``); refused when connections' files each hold a run of that id."""
        if connection is not None:
            found = [row for row in [self.of(connection).run(run_id)] if row and row["connection"] == connection]
        else:
            found = [row for name, state in self.every()
                     if (row := state.run(run_id)) is not None and name in (None, row["connection"])]
        if len(found) > 1:
            names = ", ".join(sorted(row["connection"] for row in found))
            raise UsageError(f"Run {run_id} is a run of each of {names} (each connection's state file numbers its "
                           "own runs); say which with --connection NAME.")
        return found[0] if found else None

    def pauses(self) -> list[dict]:
        """Every paused connection (a pause is kept in the connection's own state)."""
        return [pause for name, state in self.every() for pause in state.pauses()
                if name in (None, pause["connection"])]

    def close(self) -> None:
        for state in self._open.values():
            state.close()
        self._open.clear()

    def __enter__(self) -> StateFiles:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
