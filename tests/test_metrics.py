"""The daemon's metrics (issue 25): after each run every connection's last run, counts, undelivered reports and
pause are in `host.metrics_file`, written whole for node_exporter's textfile collector; `hrsync metrics` prints the
same. The file is read with prometheus_client's own text parser."""

from __future__ import annotations

import yaml
from prometheus_client.parser import text_string_to_metric_families

from hrsync.errors import EXIT_CONFIG
from hrsync.sandbox.smtp import SmtpCapture
from hrsync.service.daemon import Daemon, config_fingerprint
from hrsync.state.store import open_state
from tests.helpers import bundled_plugins, connection_dict, run_cli


def samples(text: str) -> dict[tuple, float]:
    """Every sample as (name, connection, the other label's value or None) → value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            connection = labels.pop("connection")
            found[(sample.name, connection, next(iter(labels.values()), None))] = sample.value
    return found


def test_runs_write_every_connections_metrics_whole_and_the_command_prints_them(tmp_path, personio, scim,
                                                                                  secrets_env):
    report = {"recipients": ["hr@example.com"]}
    connections = {"acme": connection_dict(personio, scim, report=report, sink={"external_id_prefix": "acme-"}),
                   "down": connection_dict(personio, scim, report=report,
                                           source={"base_url": "http://127.0.0.1:1", "max_retries": 0},
                                           sink={"external_id_prefix": "down-"})}
    with SmtpCapture(refuse={"hr@example.com"}) as smtp:
        path = tmp_path / "hosts.yaml"
        path.write_text(yaml.safe_dump({"host": {
            "state": "state.db", "outbox": "outbox", "metrics_file": "textfile/hrsync.prom",
            "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none", "sender": "hrsync@example.com"}},
            "connections": connections}))
        daemon = Daemon(path, plugins_factory=bundled_plugins)
        prom = tmp_path / "textfile" / "hrsync.prom"
        before = samples(prom.read_text())  # written at start, before any run
        assert before[("hrsync_connection_paused", "acme", None)] == 0
        assert ("hrsync_last_run_status", "acme", "ok") not in before
        for name in ("acme", "down"):
            daemon.submit(name).result(timeout=60)
    after = samples(prom.read_text())
    created = after[("hrsync_last_run_people", "acme", "created")]
    assert created == len(scim.users()) > 0
    assert after[("hrsync_last_run_status", "acme", "ok")] == 1
    assert after[("hrsync_last_run_status", "acme", "stopped")] == 0
    assert after[("hrsync_last_run_status", "down", "stopped")] == 1
    assert after[("hrsync_last_run_duration_seconds", "acme", None)] >= 0
    assert after[("hrsync_last_run_timestamp_seconds", "acme", None)] > 0
    assert ("hrsync_last_success_timestamp_seconds", "acme", None) in after
    assert ("hrsync_last_success_timestamp_seconds", "down", None) not in after
    # SMTP refused both reports: each waits in the outbox.
    assert after[("hrsync_undelivered_reports", "acme", None)] == 1
    assert after[("hrsync_undelivered_reports", "down", None)] == 1
    assert [p.name for p in prom.parent.iterdir()] == ["hrsync.prom"]  # no temporary file left beside it

    with open_state(tmp_path / "state.db") as state:
        state.pause("down", "3 runs in a row stopped", config_fingerprint(daemon.config.connections["down"]))
    assert daemon.reload()  # SIGHUP: the pause is seen at once
    daemon.shutdown()
    paused = samples(prom.read_text())
    assert paused[("hrsync_connection_paused", "down", None)] == 1
    assert paused[("hrsync_connection_paused", "acme", None)] == 0

    printed = run_cli("--config", str(path), "metrics")
    assert printed.returncode == 0, printed.stderr
    assert samples(printed.stdout) == paused

    # `hrsync run acme` loads acme alone: down's series stay in the file as they were.
    ran = run_cli("--config", str(path), "run", "acme")
    assert ran.returncode in (0, 3), ran.stderr  # 3: no SMTP server any more, the report waits in the outbox
    again = samples(prom.read_text())
    assert again[("hrsync_connection_paused", "down", None)] == 1
    assert again[("hrsync_last_run_status", "down", "stopped")] == 1
    assert again[("hrsync_last_run_status", "acme", "ok")] == 1


def test_metrics_file_must_end_in_prom(tmp_path, personio, scim, secrets_env):
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump({"host": {"metrics_file": "hrsync.txt"},
                                    "connections": {"acme": connection_dict(personio, scim)}}))
    result = run_cli("--config", str(path), "check", "--offline")
    assert result.returncode == EXIT_CONFIG and "host.metrics_file" in result.stderr + result.stdout
    assert ".prom" in result.stderr + result.stdout
