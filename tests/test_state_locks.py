"""SQLite's own locks on the state survive a second open of the state in the same process.

A daemon's or a worker's threads each open the state. POSIX locks belong to the process, and closing any
descriptor of a file drops all of them: the open that checks the state's files are private (mode 0600) must
not open and close a file that is private already, or the first connection's locks are gone - another
process then resets the shared memory under it (it dies of SIGBUS) or writes beside it.
"""

from __future__ import annotations

import subprocess
import sys

from hrsync.state.store import open_state

#: Run in another process (POSIX locks never conflict within one): may the shared memory be reset now? SQLite
#: does so when it gets this byte exclusively ("DMS": UNIX_SHM_BASE 120 + SQLITE_SHM_NLOCK 8).
PROBE = """
import fcntl, sys
with open(sys.argv[1], "r+b") as fh:
    try:
        fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
    except OSError:
        print("held")
    else:
        print("free")
"""


def test_a_second_open_in_the_same_process_keeps_the_first_ones_locks(tmp_path):
    path = tmp_path / "state.db"
    with open_state(path) as first:
        first.runs("acme")  # a read maps the shared memory and takes its shared lock
        open_state(path).close()  # another thread's run, opened and finished
        probe = subprocess.run([sys.executable, "-c", PROBE, f"{path}-shm"], capture_output=True, text=True,
                               timeout=60)
        assert probe.stdout.strip() == "held", probe.stderr
        first.runs("acme")


WRITE_NOW = "import sqlite3, sys; sqlite3.connect(sys.argv[1], timeout=0).execute('BEGIN IMMEDIATE')"


def test_opening_the_state_again_keeps_the_write_lock_another_connection_holds(tmp_path):
    path = tmp_path / "state.db"
    holder = open_state(path)
    holder.db.execute("BEGIN IMMEDIATE")  # a run's write transaction, as in another thread of a worker
    try:
        open_state(path).close()  # another run of the same worker opens the state meanwhile
        other = subprocess.run([sys.executable, "-c", WRITE_NOW, str(path)], capture_output=True, text=True,
                               timeout=60)
        assert other.returncode != 0 and "database is locked" in other.stderr
    finally:
        holder.db.execute("ROLLBACK")
        holder.close()
