"""The Winningtemp File integration's two files, written from a run's Snapshot: ``wt_users.csv``, ``wt_groups.csv``.

Data flow: the file sink's ``deliver`` and ``write_locally`` call :func:`render_files` with the Snapshot the
engine built of the people :func:`.status_rules.keeps` kept; the bytes go to the SFTP delivery unchanged.

The files are what Winningtemp's import reads: UTF-8 without a byte-order mark (which a reader not expecting it
would take into the first header), ``;`` between cells, a header row, CRLF line ends and RFC 4180 quoting
(a cell holding ``;``, ``"`` or a line end is quoted). Pure and stable: people sorted by External ID, groups
parents first (:mod:`.file_hierarchy`), so the same snapshot always gives the same bytes and a run that
changed nothing is recognised by the files' digest.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from hrsync import SinkError
from hrsync.sink_snapshots import Snapshot, SnapshotPerson

from .file_hierarchy import group_rows
from .file_settings import MANDATORY_USER_COLUMNS, Column, FileFormat
from .status_rules import is_leaver

#: A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV Injection"; ASVS 5.0 1.2.10 adds
#: NUL): such a cell is written with a leading single quote, which makes a spreadsheet show it as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def render_files(snapshot: Snapshot, fmt: FileFormat) -> dict[str, bytes]:
    """``{users_file: bytes, groups_file: bytes}`` for ``snapshot``, in ``fmt``'s columns and rules."""
    people = sorted(snapshot.people, key=lambda person: person.external_id)
    users = [_user_cells(person, snapshot, fmt) for person in people]
    _check_mandatory(users, snapshot.connection)
    groups = [row._asdict() for row in group_rows(snapshot, fmt)]
    return {fmt.users_file: _csv(fmt.user_columns, users), fmt.groups_file: _csv(fmt.group_columns, groups)}


def guarded(text: str) -> str:
    """``text`` as a cell no spreadsheet evaluates: a leading ``'`` when it starts like a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _user_cells(person: SnapshotPerson, snapshot: Snapshot, fmt: FileFormat) -> dict[str, str | None]:
    """Every users-file column's value for ``person``; the configured columns are picked when writing."""
    record = person.record
    # A leaver kept in the file is written inactive, whatever the source still says, with their termination date.
    status = "inactive" if is_leaver(record, snapshot.today) else record.get("status")
    gender = record.get("gender")
    return {
        "external_id": person.external_id,
        "first_name": record.get("first_name"),
        "last_name": record.get("last_name"),
        "username": record.get("email") if fmt.username == "email" else person.external_id,
        "email": record.get("email"),
        "gender": fmt.gender_values[gender] if gender else None,
        "birthday": record.get("birthday"),
        "hire_date": record.get("hire_date"),
        "termination_date": record.get("termination_date"),
        "status": fmt.status_values[status] if status else None,
        "groups": _memberships(person, fmt.group_separator, snapshot.connection),
    }


def _memberships(person: SnapshotPerson, separator: str, connection: str) -> str:
    # Each External ID is guarded on its own, exactly as its row in the groups file writes it, so they match.
    clashing = [group for group in person.groups if separator in group]
    if clashing:
        raise SinkError(f"Group External ID {clashing[0]!r} contains the group_separator {separator!r}, so the "
                        "groups cell could not be read back: set group_separator to a character no group's "
                        "External ID holds (e.g. '|').", connection=connection)
    return separator.join(guarded(group) for group in person.groups)


def _check_mandatory(users: Sequence[dict[str, str | None]], connection: str) -> None:
    """Winningtemp rejects a row without first name, last name or username; the sink's record schema should have
    skipped such a person with a reason, so one here is a fault in the sink, and no file is better than a bad one."""
    missing = [f"{cells['external_id']} ({key})" for cells in users for key in MANDATORY_USER_COLUMNS if not cells[key]]
    if missing:
        raise SinkError(f"Winningtemp needs {', '.join(MANDATORY_USER_COLUMNS)} on every row; empty for "
                        f"{', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}.", connection=connection)


def _csv(columns: Sequence[Column], rows: Iterable[dict[str, str | None]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", quotechar='"', quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([column.header for column in columns])
    writer.writerows([guarded(row[column.key] or "") for column in columns] for row in rows)
    return buffer.getvalue().encode("utf-8")
