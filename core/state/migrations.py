"""The state database's schema, as sqlite-utils 4 migrations applied in order at every open.

Tables: ``runs`` (one row per run, with its stored RunReport; ids never reused), ``people`` (links and last
applied values per connection and source id), ``pending`` (create intents), ``changes``
(per-run change log), ``pauses`` (quarantined connections), ``dropped_fields`` (fields a
sink accepted but did not keep), ``said`` (conditions a delivered report said in full); each run also records
how its report was delivered; ``changes`` is indexed by
person for ``hrsync person``. Never edit an applied migration: add one.
"""

from __future__ import annotations

import json
import zlib

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("hrsync")


@migrations()
def m001_initial(db: Database) -> None:
    db["runs"].create(
        {
            "id": int, "connection": str, "started_at": str, "ended_at": str, "status": str,
            "mode": str, "counts": str, "message": str, "report": str,
        },
        pk="id",
    )
    db["runs"].create_index(["connection", "started_at"])
    db["people"].create(
        {
            "connection": str, "source_id": str, "sink_id": str, "email_key": str, "origin": str,
            "applied": str, "deactivated": int, "first_run": int, "last_run": int, "updated_at": str,
        },
        pk=("connection", "source_id"),
    )
    db["people"].create_index(["connection", "sink_id"], unique=True)
    db["pending"].create(
        {"connection": str, "source_id": str, "email_key": str, "run_id": int, "at": str},
        pk=("connection", "source_id"),
    )
    db["changes"].create(
        {
            "id": int, "run_id": int, "connection": str, "source_id": str, "person": str, "action": str,
            "fields": str, "outcome": str, "message": str, "at": str,
        },
        pk="id",
    )
    db["changes"].create_index(["run_id"])


@migrations()
def m002_pauses(db: Database) -> None:
    db["pauses"].create(
        {"connection": str, "reason": str, "config_hash": str, "paused_at": str},
        pk="connection",
    )


@migrations()
def m003_dropped_fields(db: Database) -> None:
    db["dropped_fields"].create({"connection": str, "field": str, "since": str}, pk=("connection", "field"))


@migrations()
def m004_report_delivery(db: Database) -> None:
    db["runs"].add_column("delivery", str)
    db["runs"].add_column("delivery_detail", str)


@migrations()
def m005_compressed_reports(db: Database) -> None:
    # Reports are stored zlib-compressed from 0.3 on; older rows keep their JSON in `report`.
    db["runs"].add_column("report_z", bytes)


@migrations()
def m006_retire_old_forms(db: Database) -> None:
    # State written before 0.3 is converted once, so that no run reads the old forms again:
    # - reports stored as plain JSON are compressed, and 0.1's `link: "linked"` becomes `matched`;
    # - 0.1's digests (one per value, shared by everyone) cannot become per-person digests without the
    #   values they hide, so they are dropped: the next run sends those fields (birthday, gender) once more.
    for run_id, text in db.execute("select id, report from runs where report_z is null and report is not null"):
        report = json.loads(text)
        for line in [*report.get("actions", []), *report.get("unmatched", [])]:
            if "link" in line and "matched" not in line:
                line["matched"] = line.pop("link") == "linked"
        db.execute("update runs set report = null, report_z = ? where id = ?",
                   [zlib.compress(json.dumps(report).encode()), run_id])
    rows = db.execute("select connection, source_id, applied from people where applied like '%\"hmac:%'").fetchall()
    for connection, source_id, text in rows:
        applied = {k: v for k, v in json.loads(text).items() if not (isinstance(v, str) and v.startswith("hmac:"))}
        db.execute("update people set applied = ? where connection = ? and source_id = ?",
                   [json.dumps(applied, sort_keys=True), connection, source_id])


@migrations()
def m007_groups(db: Database) -> None:
    # One row per org unit linked to a sink group, and each membership hrsync made (managed memberships).
    db["groups"].create(
        {"connection": str, "external_id": str, "sink_id": str, "name": str, "field": str, "run_id": int, "at": str},
        pk=("connection", "external_id"),
    )
    db["memberships"].create(
        {"connection": str, "external_id": str, "source_id": str, "run_id": int, "at": str},
        pk=("connection", "external_id", "source_id"),
    )


@migrations()
def m008_uncreated(db: Database) -> None:
    # Leavers a run left uncreated: one of them coming back active is a reactivation (the guard counts it).
    db["uncreated"].create({"connection": str, "source_id": str, "run_id": int, "at": str},
                           pk=("connection", "source_id"))


@migrations()
def m009_run_ids_never_reused(db: Database) -> None:
    # SQLite gives a new row the largest id + 1, so pruning the newest runs handed their ids out again (a report
    # or an e-mail naming run 3 then meant another run). AUTOINCREMENT never reuses one; the sequence starts
    # past every run id the state still mentions.
    columns = ("id, connection, started_at, ended_at, status, mode, counts, message, report, delivery, "
               "delivery_detail, report_z")
    db.execute("create table runs_new (id integer primary key autoincrement, connection text, started_at text, "
               "ended_at text, status text, mode text, counts text, message text, report text, delivery text, "
               "delivery_detail text, report_z blob)")
    db.execute(f"insert into runs_new ({columns}) select {columns} from runs")
    db.execute("drop table runs")
    db.execute("alter table runs_new rename to runs")
    db["runs"].create_index(["connection", "started_at"])
    highest = db.execute("select max(coalesce((select max(id) from runs), 0), coalesce((select max(run_id) from "
                         "changes), 0), coalesce((select max(last_run) from people), 0), coalesce((select "
                         "max(run_id) from pending), 0))").fetchone()[0]
    db.execute("delete from sqlite_sequence where name = 'runs'")
    db.execute("insert into sqlite_sequence (name, seq) values ('runs', ?)", [highest])


@migrations()
def m010_said(db: Database) -> None:
    # The warnings a delivered report said in full, per connection: a standing condition is said once.
    db["said"].create({"connection": str, "text": str, "run_id": int, "at": str}, pk=("connection", "text"))


@migrations()
def m011_changes_by_person(db: Database) -> None:
    # `hrsync person` looks a person's writes up by source id (in every connection, or in one), in every run kept.
    db["changes"].create_index(["source_id", "connection"])


@migrations()
def m012_runs_by_start(db: Database) -> None:
    # `hrsync prune` finds old runs of every connection by their start through an index, not a scan.
    db["runs"].create_index(["started_at"])
