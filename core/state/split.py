"""``hrsync state split``: the host's one state file moved into a folder of one file per connection.

Data flow: the shared file (upgraded to the current schema first) → for each connection it holds, a new
``NAME.db`` in the folder with every row of that connection - links and applied digests, create intents, the
change log and run history (run ids kept), group links and memberships, leavers left uncreated, dropped
fields, pauses - and a copy of the key file, so the digests stay valid. Each connection is copied under its
run lock, the whole split under the daemon's lock, and every table's rows are counted on both sides before a
file is kept. The shared file is left as it was: it is the backup until hosts.yaml points at the folder.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

from ..config.load import CONNECTION_NAME
from ..errors import RunError
from .locking import BUSY_TIMEOUT, hold_lock
from .places import SUFFIX
from .storage import open_private
from .store import State, open_state

#: Tables of the schema's bookkeeping, not of any connection.
_BOOKKEEPING = {"_sqlite_migrations", "sqlite_sequence"}


def split_state(shared_path: Path, into: Path, *, busy_timeout: float = BUSY_TIMEOUT) -> dict[str, dict[str, int]]:
    """Copy each connection of ``shared_path`` into ``into/NAME.db``; returns the rows copied per connection
    and table. Refuses when a target file exists already, or a daemon or a run holds the shared file."""
    if not shared_path.is_file():
        raise RunError(f"There is no state file {shared_path} to split.")
    with ExitStack() as stack:
        stack.enter_context(hold_lock(shared_path.with_name(shared_path.name + ".daemon.lock"),
                                      f"A daemon is running on {shared_path} ({{holder}}); stop it before "
                                      "splitting its state."))
        shared = stack.enter_context(open_state(shared_path, busy_timeout=busy_timeout))
        tables = _tables(shared)
        names = sorted({row[0] for table in tables for row in shared.db.execute(
            f"select distinct connection from [{table}] where connection is not null")})
        strange = [name for name in names if not CONNECTION_NAME.match(name)]
        if strange:
            raise RunError(f"{shared_path} holds connections whose names cannot be file names: {strange!r}.")
        into.mkdir(mode=0o700, parents=True, exist_ok=True)
        taken = [name for name in names if any((into / f"{name}{SUFFIX}{end}").exists() for end in ("", ".key"))]
        if taken:
            raise RunError(f"{into} already holds the state of {', '.join(taken)}; nothing was split. Move those "
                           "files away (or split into an empty folder).")
        copied: dict[str, dict[str, int]] = {}
        try:
            for name in names:
                with shared.lock(name):
                    copied[name] = _copy(shared, tables, name, into / f"{name}{SUFFIX}")
        except BaseException:
            for name in [*copied, *names[len(copied):len(copied) + 1]]:  # the kept ones and the one that failed
                _remove(into / f"{name}{SUFFIX}")
            raise
        return copied


def _tables(state: State) -> list[str]:
    """The tables holding connections' rows; a table of no connection would be lost, so it is refused."""
    names = [row[0] for row in state.db.execute("select name from sqlite_master where type = 'table'")]
    tables = [name for name in names if name not in _BOOKKEEPING]
    without = [name for name in tables if "connection" not in state.db[name].columns_dict]
    if without:
        raise RunError(f"{state.path} has tables of no connection ({', '.join(without)}); this hrsync cannot "
                       "split it.")
    return tables


def _copy(shared: State, tables: list[str], name: str, target_path: Path) -> dict[str, int]:
    key = shared.path.with_name(shared.path.name + ".key")
    if key.exists():  # the same key: every digest in the rows copied stays valid
        fd = open_private(target_path.with_name(target_path.name + ".key"), os.O_WRONLY | os.O_EXCL)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.read_text())
    counts = {}
    with open_state(target_path, busy_timeout=shared.busy_timeout) as target:
        target.db.execute("attach database ? as shared", [str(shared.path)])
        try:
            with target.batch():
                for table in tables:
                    columns = ", ".join(f"[{c}]" for c in target.db[table].columns_dict)
                    target.db.execute(f"insert into main.[{table}] ({columns}) select {columns} from "
                                      f"shared.[{table}] where connection = ?", [name])
                # New runs are numbered past every run of the shared file: a run id never names two runs of it.
                target.db.execute("delete from main.sqlite_sequence where name = 'runs'")
                target.db.execute("insert into main.sqlite_sequence (name, seq) select name, seq from "
                                  "shared.sqlite_sequence where name = 'runs'")
            for table in tables:
                there, here = (target.db.execute(f"select count(*) from {db}.[{table}] where connection = ?",
                                                 [name]).fetchone()[0] for db in ("shared", "main"))
                if there != here:
                    raise RunError(f"Splitting {shared.path}: {table} of {name!r} has {there} rows there but {here} "
                                   f"in {target_path}; nothing of {name!r} was kept.")
                counts[table] = here
        finally:
            target.db.execute("detach database shared")
    return counts


def _remove(path: Path) -> None:
    for suffix in ("", ".key", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
