"""The ``winningtemp-file`` sink: Winningtemp's File integration, CSV files over SFTP, one snapshot per run.

Data flow: the engine plans against the last delivered snapshot and guards the plan; it asks :meth:`keeps`
(the status rules of :mod:`.status_rules`) who is in today's file, then hands :meth:`deliver` the whole
:class:`~hrsync.Snapshot`. :mod:`.file_format` renders ``wt_users.csv`` and ``wt_groups.csv``; rows the
snapshot keeps as last delivered (people this run had to skip) are copied from the users file now on the
server, since hrsync keeps no clear copy of what it sent; :mod:`.sftp_delivery` uploads both atomically and
confirms their sizes. Only then does the engine record the delivery. Local copies (they hold birthdays) are
kept only when ``keep_local_copies`` asks, at 0600.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from hrsync import Defer, Delivery, Sink, SinkError, Snapshot, standard_field

from .file_format import render_files
from .file_settings import FileFormat, FileFormatSchema
from .sftp_delivery import SftpDelivery
from .sftp_errors import failure
from .sftp_session import open_session
from .sftp_settings import SftpSchema, SftpSettings
from .status_rules import is_leaver, keeps


class FileSinkSchema(Schema):
    class Meta:
        unknown = RAISE

    sftp = fields.Nested(SftpSchema, required=True, metadata={
        "description": "Where the files go: Winningtemp's SFTP server (host, username, private_key, the pinned "
                       "host key, remote_folder…)."})
    format = fields.Nested(FileFormatSchema, load_default=None, metadata={
        "description": "The files' columns and rules, as agreed with Winningtemp (defaults in the plugin README)."})
    keep_local_copies = fields.Integer(load_default=0, validate=validate.Range(0, 365), metadata={
        "description": "Keep the last N delivered file pairs in local_copies_folder (mode 0600); 0 = none, as "
                       "they hold birthdays."})
    local_copies_folder = fields.String(load_default=None, metadata={
        "description": "Where local copies are kept (needed when keep_local_copies is above 0)."})

    @validates_schema
    def _copies_need_a_folder(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("keep_local_copies") and not data.get("local_copies_folder"):
            raise ValidationError("Set local_copies_folder to keep local copies.", "local_copies_folder")

    @post_load
    def _default_format(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "format": data["format"] or FileFormatSchema().load({})}


class FileRecordSchema(Schema):
    """What the File integration's users file holds, in standard field names."""

    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, metadata={"standard": "id", "description": "The source's id: External ID."})
    email = standard_field("email", required=True)
    first_name = standard_field("first_name", required=True)
    last_name = standard_field("last_name", required=True)
    gender = standard_field("gender")
    birthday = standard_field("birthday")
    hire_date = standard_field("hire_date")
    termination_date = standard_field("termination_date")
    status = standard_field("status")


class WinningtempFileSink(Sink):
    name: ClassVar[str] = "winningtemp-file"
    title: ClassVar[str] = "Winningtemp (File integration)"
    ConfigSchema = FileSinkSchema
    RecordSchema = FileRecordSchema
    takes_snapshots: ClassVar[bool] = True

    @property
    def format(self) -> FileFormat:
        return self.settings["format"]

    @classmethod
    def source_id_space(cls, settings):
        # A folder of an account holds one company's files, each delivery replacing the last: no second
        # connection may deliver there, whatever it reads (prefix None). Hosts are compared as DNS names are.
        sftp = settings["sftp"]
        where = f"sftp://{sftp['username']}@{str(sftp['host']).lower()}:{int(sftp['port'])}"
        return f"the folder {posixpath.normpath(sftp['remote_folder'])} of {where}", "sftp.remote_folder", None

    def _delivery(self) -> SftpDelivery:
        return SftpDelivery(self.settings["sftp"], pause=self.context.pause)

    def check(self) -> None:
        for line in self._delivery().check():
            self.context.warn(line)

    def prepare(self, record: dict[str, Any]) -> dict[str, Any] | Defer:
        """A future hire waits (reported as deferred) until ``pre_hire_days`` before their hire date. A leaver
        is ``inactive`` from the day after their termination date, whatever the source still says, and
        ``active`` says so: the day's change is then a change the plan sees, the report names and the
        deactivation guard counts (and someone coming back is one too)."""
        today, hire, window = self.context.today, record.get("hire_date"), self.format.pre_hire_days
        if hire and dt.date.fromisoformat(hire) > today + dt.timedelta(days=window):
            enters = dt.date.fromisoformat(hire) - dt.timedelta(days=window)
            return Defer(f"starts on {hire}; enters the file on {enters.isoformat()} (pre_hire_days: {window})")
        desired = super().prepare(record)
        leaver = is_leaver(record, today)
        if leaver:
            desired["status"] = "inactive"
        desired["active"] = not leaver
        return desired

    def keeps(self, record: Mapping[str, Any], today: dt.date) -> bool:
        return keeps(record, today, self.format)

    def deliver(self, snapshot: Snapshot) -> Delivery:
        delivery = self._delivery()
        files = self._files(snapshot, delivery)
        # The groups first: a users file must never name a group the server's groups file lacks.
        groups = self.format.groups_file
        sizes = delivery.deliver({groups: files[groups], **{k: v for k, v in files.items() if k != groups}})
        if self.settings["keep_local_copies"]:
            self._keep_copy(files)
        return Delivery(sizes)

    def write_locally(self, snapshot: Snapshot, folder: Path) -> Delivery:
        files = self._files(snapshot, self._delivery())
        for name, data in files.items():
            fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        return Delivery({name: len(data) for name, data in files.items()}, local_folder=folder)

    def _files(self, snapshot: Snapshot, delivery: SftpDelivery) -> dict[str, bytes]:
        files = render_files(snapshot, self.format)
        if snapshot.kept_as_delivered:
            users = self.format.users_file
            previous = fetch(self.settings["sftp"], users)
            files[users], missing = with_kept_rows(files[users], previous, snapshot.kept_as_delivered,
                                                   self._external_id_header())
            if missing:
                # Without their rows the new file would drop them, and Winningtemp would remove them.
                raise SinkError(
                    f"{len(missing)} people this run had to skip (see the report) are not in the {users} on the "
                    f"server ({'there is none' if previous is None else 'it lacks them, or its columns changed'}),"
                    " so a new file would drop them and Winningtemp would remove them; nothing was uploaded. Fix "
                    "their records in the source, then run again.", connection=self.context.connection)
        return files

    def _external_id_header(self) -> str:
        return next(c.header for c in self.format.user_columns if c.key == "external_id")

    def _keep_copy(self, files: Mapping[str, bytes]) -> None:
        base = Path(self.settings["local_copies_folder"])
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = base / dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        folder.mkdir(mode=0o700)
        for name, data in files.items():
            fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        for old in sorted(p for p in base.iterdir() if p.is_dir())[:-self.settings["keep_local_copies"]]:
            for file in old.iterdir():
                file.unlink()
            old.rmdir()


def fetch(settings: SftpSettings, name: str) -> bytes | None:
    """The file ``name`` as the server holds it now, or None when there is none."""
    folder = settings.remote_folder.rstrip("/") or "/"
    session = open_session(settings)
    try:
        with session.sftp.open(f"{folder.rstrip('/')}/{name}", "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except (OSError, EOFError) as exc:
        raise failure(exc, doing=f"reading {name} (for the rows of people this run skipped)", where=settings.where,
                      folder=folder, username=settings.username) from None
    finally:
        session.close()


def with_kept_rows(users: bytes, previous: bytes | None, kept: tuple[str, ...],
                   id_header: str) -> tuple[bytes, list[str]]:
    """``users`` with the rows of ``kept`` copied from ``previous`` (same columns), sorted by External ID;
    and the kept ids ``previous`` did not hold (or held under other columns)."""
    header, rows = _parse(users)
    old_header, old_rows = _parse(previous) if previous else ([], [])
    found = {row[id_header]: row for row in old_rows if old_header == header and id_header in row}
    rows += [found[i] for i in kept if i in found]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda row: row[id_header]))
    return out.getvalue().encode("utf-8"), [i for i in kept if i not in found]


def _parse(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=";")
    rows = list(reader)
    return list(reader.fieldnames or []), rows
