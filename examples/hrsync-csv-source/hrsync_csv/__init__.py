"""hrsync-csv-source: an example third-party source plugin that reads a CSV export of employees."""
