"""The CSV source: one row per person, columns named by a header-to-field setting.

Settings: ``path`` (the export), ``delimiter``, ``encoding``, and ``columns`` (CSV
header → hrsync standard field name; headers already named like standard fields map
by themselves). Dates must be ``YYYY-MM-DD``, or name their format in ``date_format``.

Org units (``department``, ``team``, ``office``) are names; an export that also has their ids maps
those columns to ``department_id``, ``team_id``, ``office_id``, and a renamed department then stays
the same unit (and the same group in the sink). Without an id, a unit's name is its id.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from hrsync import RunError, Source, SourceError, hookimpl, standard_field


class ConfigSchema(Schema):
    class Meta:
        unknown = RAISE

    path = fields.String(required=True, metadata={"description": "Path of the CSV export."})
    delimiter = fields.String(load_default=",", validate=validate.Length(equal=1),
                              metadata={"description": "Column delimiter, e.g. ; for European Excel."})
    encoding = fields.String(load_default="utf-8-sig", metadata={"description": "File encoding."})
    columns = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict,
                          metadata={"description": "CSV header → standard field name."})
    date_format = fields.String(load_default="%Y-%m-%d", metadata={"description": "strptime format of dates."})


class RecordSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, metadata={"standard": "id", "description": "Employee number."})
    email = standard_field("email")
    first_name = standard_field("first_name")
    last_name = standard_field("last_name")
    gender = standard_field("gender")
    birthday = standard_field("birthday")
    hire_date = standard_field("hire_date")
    termination_date = standard_field("termination_date")
    status = standard_field("status")
    department = standard_field("department")
    team = standard_field("team")
    office = standard_field("office")
    supervisor_id = standard_field("supervisor_id")


DATE_FIELDS = ("birthday", "hire_date", "termination_date")
UNIT_FIELDS = ("department", "team", "office")


class CsvSource(Source):
    name = "csv"
    title = "the CSV export"
    ConfigSchema = ConfigSchema
    RecordSchema = RecordSchema
    key_field = "id"

    def _rows(self):
        path = Path(self.settings["path"])
        try:
            with path.open(encoding=self.settings["encoding"], newline="") as fh:
                yield from csv.DictReader(fh, delimiter=self.settings["delimiter"])
        except OSError as exc:
            raise SourceError(f"Cannot read the CSV export {path}: {exc.strerror}. Check the source setting path.",
                              connection=self.context.connection) from None
        except UnicodeDecodeError:
            raise SourceError(f"{path} is not {self.settings['encoding']}; set the source setting encoding.",
                              connection=self.context.connection) from None

    def check(self) -> None:
        rows = self._rows()
        first = next(rows, None)
        if first is None:
            raise RunError(f"The CSV export {self.settings['path']} has no rows.", connection=self.context.connection)
        missing = {"id", "email"} - {self.settings["columns"].get(h, h) for h in first}
        if missing:
            raise RunError(f"The CSV export has no column for {', '.join(sorted(missing))}; map one with the "
                           "source setting columns.", connection=self.context.connection)

    def read(self):
        columns = self.settings["columns"]
        for row in self._rows():
            record = {columns.get(header, header): (value.strip() or None) if isinstance(value, str) else value
                      for header, value in row.items() if header is not None}
            for name in DATE_FIELDS:
                if record.get(name):
                    try:
                        record[name] = dt.datetime.strptime(record[name], self.settings["date_format"]).date()
                    except ValueError:
                        pass  # left as written: the RecordSchema reports it for this person
            for name in ("gender", "status"):
                if isinstance(record.get(name), str):
                    record[name] = record[name].lower()
            for name in UNIT_FIELDS:
                unit_id = record.pop(f"{name}_id", None)
                if unit_id and record.get(name):
                    record[name] = {"id": unit_id, "name": record[name]}
            yield record


@hookimpl
def register_sources(register):
    register(CsvSource)
