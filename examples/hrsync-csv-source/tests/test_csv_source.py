"""The CSV source passes hrsync's source contract: the whole suite from one call."""

import contextlib
import csv
import tempfile
from pathlib import Path

from hrsync.testing import source_tests
from hrsync_csv.plugin import CsvSource

ROWS = [
    {"Personalnummer": "1", "E-Mail": "anna.berg@example.com", "Vorname": "Anna", "Nachname": "Berg",
     "Eintritt": "01.02.2020", "Status": "Active"},
    {"Personalnummer": "2", "E-Mail": "Bo.Ek@Example.com", "Vorname": "Bö", "Nachname": "Ek",
     "Eintritt": "15.06.2021", "Status": "onboarding"},
]
COLUMNS = {"Personalnummer": "id", "E-Mail": "email", "Vorname": "first_name", "Nachname": "last_name",
           "Eintritt": "hire_date", "Status": "status"}


@contextlib.contextmanager
def csv_export():
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(ROWS[0]), delimiter=";")
            writer.writeheader()
            writer.writerows(ROWS)
        yield path


TestCsvSourceContract = source_tests(
    CsvSource, sandbox=csv_export,
    settings=lambda path: {"path": str(path), "delimiter": ";", "columns": COLUMNS, "date_format": "%d.%m.%Y"},
    bad_settings=lambda path: {"path": str(path) + ".missing"},
)
