"""The outbox once a report has gone: ``hrsync report N --send`` sent run N's report, so its ``.eml`` leaves.

Data flow: :func:`hrsync.report.mail.deliver` files a report SMTP would not take (or every report, without
``host.smtp``) as ``<connection>-<run>-<time>.eml``; after ``report N --send`` succeeds, :func:`clear_sent`
removes the files of that run, so the outbox holds only what still waits. A file is known by its headers
(``X-Hrsync-Connection``, ``X-Hrsync-Run``), not by its name alone: ``acme-1-2-….eml`` may be run 2 of
``acme-1`` or run 1 of ``acme``.
"""

from __future__ import annotations

from email.parser import BytesHeaderParser
from pathlib import Path


def clear_sent(outbox: Path, connection: str, run_id: int) -> list[Path]:
    """Delete the outbox's copies of ``connection``'s run ``run_id`` report; returns the files removed."""
    if not outbox.is_dir() or outbox.is_symlink():
        return []
    removed = []
    for path in sorted(outbox.glob(f"{connection}-{run_id}-*.eml")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as fh:
            headers = BytesHeaderParser().parse(fh)
        if headers.get("X-Hrsync-Connection") == connection and headers.get("X-Hrsync-Run") == str(run_id):
            path.unlink()
            removed.append(path)
    return removed
