"""The ``winningtemp-file`` sink's sandbox: the SFTP sandbox, seen as the files Winningtemp would import.

It runs an :class:`~.sftp_sandbox.SftpSandbox` and reads back what arrived: ``held()`` is the people of
the users file now on the server (standard field names), ``writes()`` one ``deliver`` per users file
that replaced the last one. ``hrsync sandbox --sink winningtemp-file`` serves it (the client key is in a
file beside the server's folder, mode 0600) and ``hrsync demo`` prints :meth:`preview`, birthdays masked.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from hrsync import Secret
from hrsync.sandbox import SnapshotSinkSandbox, Write

from .file_settings import USER_COLUMNS
from .sftp_sandbox import SftpSandbox

USERS, GROUPS = "wt_users.csv", "wt_groups.csv"
#: The users file's columns a preview masks: personal data a screen must not show.
MASKED = (USER_COLUMNS["birthday"], USER_COLUMNS["gender"])


class WinningtempFileSandbox(SnapshotSinkSandbox):
    name = "winningtemp-file"
    only_when_named = True  # the SCIM sandbox is the plugin's usual one

    def __init__(self) -> None:
        self.server = SftpSandbox()
        self._seen = 0

    def start(self) -> WinningtempFileSandbox:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return f"sftp://{self.server.username}@127.0.0.1:{self.server.port}{self.server.folder}"

    def _key_file(self) -> str:
        path = self.server.root.parent / f"{self.server.root.name}-client-key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(self.server.client_key_text)
        return str(path)

    def settings(self) -> dict[str, Any]:
        sftp = {key: value for key, value in self.server.settings().items() if key != "private_key"}
        return {"sftp": {**sftp, "private_key": {"file": self._key_file()}}}

    def connector_settings(self) -> dict[str, Any]:
        sftp = {**self.server.settings(), "private_key": Secret(self.server.client_key_text, "sandbox"),
                "max_retries": 0}
        return {"sftp": sftp}

    def describe(self) -> dict[str, Any]:
        return {"url": self.url, "host_key_fingerprint": self.server.host_key_fingerprint,
                "client_key_file": self._key_file()}

    def _file(self, name: str) -> bytes | None:
        return self.server.files().get(f"{self.server.folder.strip('/')}/{name}")

    def held(self) -> list[dict[str, Any]]:
        data = self._file(USERS)
        if data is None:
            return []
        rows = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=";")
        return [{"email": row[USER_COLUMNS["email"]], "first_name": row[USER_COLUMNS["first_name"]],
                 "last_name": row[USER_COLUMNS["last_name"]], "active": row[USER_COLUMNS["status"]] != "Inactive"}
                for row in rows]

    def writes(self) -> list[Write]:
        renames = [op for op in self.server.operations[self._seen:]
                   if op["op"] in ("rename", "posix_rename") and op.get("ok", True)
                   and str(op.get("to", "")).endswith("/" + USERS)]
        return [Write("deliver") for _ in renames]

    def clear(self) -> None:
        self._seen = len(self.server.operations)

    def refuse_deliveries(self, refuse: bool) -> None:
        self.server.set_faults(read_only=refuse)

    def preview(self, lines: int = 5) -> list[str]:
        out = []
        for name in (USERS, GROUPS):
            data = self._file(name)
            if data is None:
                continue
            rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=";"))
            masked = [i for i, header in enumerate(rows[0]) if header in MASKED] if rows else []
            out.append(f"{name} ({len(rows) - 1} rows):")
            for row in rows[:lines + 1]:
                out.append("  " + ";".join("***" if i in masked and row is not rows[0] and cell else cell
                                           for i, cell in enumerate(row)))
        return out

    def files_folder(self) -> Path:
        """Where the server keeps the files it received."""
        return self.server.root / self.server.folder.strip("/")
