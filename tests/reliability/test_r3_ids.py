"""Round 3 of the adversarial review (issue 24): identity - who a user in the app is.

Personio sandbox → scim2-server as Winningtemp, a real SQLite state: a user carrying a source id is that person
and only this connection's; a user without one is adopted, said so; a future hire is not created early.
"""

from __future__ import annotations

import shutil

from hrsync.sync.engine import sync_connection
from hrsync_plugins.personio.sandbox_data import make_employee


def company(personio, *people):
    personio.employees = [make_employee(**p) for p in people]


def employee(i: int, **values) -> dict:
    return {"id": i, "first_name": f"First{i}", "last_name": f"Last{i}", "email": f"p{i}@example.com",
            "status": "active", **values}


def test_r3_1_creates_whose_commits_the_power_lost_then_email_changes_are_linked_not_created_twice(
        e2e_config, personio, scim, tmp_path):
    company(personio, *(employee(i) for i in range(1, 4)))
    config, plugins = e2e_config()
    assert sync_connection(config, "acme", plugins).status == "ok"  # history: later creates are not preceded
    saved = tmp_path / "saved"  # by a listing; the state as the disk holds it before the next run
    saved.mkdir()
    for path in tmp_path.glob("state.db*"):
        shutil.copy(path, saved / path.name)
    for i in range(4, 9):
        personio.add(**employee(i))
    assert sync_connection(config, "acme", plugins).report.counts["created"] == 5
    for path in tmp_path.glob("state.db*"):  # the power cut: every commit of that run is lost (the WAL was)
        path.unlink()
    for path in saved.iterdir():
        shutil.copy(path, tmp_path / path.name)
    for i in range(4, 9):  # and HR changes those five people's e-mails
        personio.change(i, email=f"p{i}.new@example.com")
    result = sync_connection(config, "acme", plugins)
    assert result.status == "ok", result.report.actions
    for i in range(4, 9):
        carrying = [u for u in scim.users() if u.get("externalId") == str(i)]
        assert len(carrying) == 1 and carrying[0]["userName"] == f"p{i}.new@example.com"
    assert len(scim.users()) == 8
    assert result.report.counts["created"] == 0 and result.report.counts["updated"] == 5
    assert sorted(a.source_id for a in result.report.matched) == [str(i) for i in range(4, 9)]
    assert all("carrying this person's source id" in " ".join(a.notes) for a in result.report.matched)
    assert sync_connection(config, "acme", plugins).report.has_changes is False
