"""The CSV source passes hrsync's source contract: a sandbox (a CSV export on disk) and one harness call."""

import csv
import tempfile
from pathlib import Path
from typing import Any

from hrsync.sandbox import SourceSandbox
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


class CsvExportSandbox(SourceSandbox):
    """The CSV source's "service": an export file in a temporary folder, as HR's Excel writes it."""

    name = "csv"

    def start(self) -> "CsvExportSandbox":
        self._folder = tempfile.TemporaryDirectory()
        self.path = Path(self._folder.name) / "export.csv"
        with self.path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(ROWS[0]), delimiter=";")
            writer.writeheader()
            writer.writerows(ROWS)
        return self

    def stop(self) -> None:
        self._folder.cleanup()

    def settings(self) -> dict[str, Any]:
        return {"path": str(self.path), "delimiter": ";", "columns": COLUMNS, "date_format": "%d.%m.%Y"}

    def bad_settings(self) -> dict[str, Any]:
        return {"path": str(self.path) + ".missing"}


TestCsvSourceContract = source_tests(CsvSource, sandbox=CsvExportSandbox)
