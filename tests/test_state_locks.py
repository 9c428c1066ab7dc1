"""SQLite's locks on the state survive another open of the same state in the process: the daemon's worker
processes run several connections each, and a run in another process must never write under them."""

from __future__ import annotations

import subprocess
import sys

from hrsync.state.store import open_state

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
