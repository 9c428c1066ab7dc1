"""Round 3 of the adversarial review (issue 24): identity - who a user in the app is.

Personio sandbox → scim2-server as Winningtemp, a real SQLite state: a user carrying a source id is that person
and only this connection's; a user without one is adopted, said so; a future hire is not created early.
"""

from __future__ import annotations

import shutil

import pytest

from hrsync.report.render import render_text, subject
from hrsync.sync.engine import sync_connection
from hrsync_plugins.personio.sandbox_data import make_employee
from tests.helpers import sync_memory


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
    assert subject(result.report) == "acme: 5 linked"  # linked (and brought up to date), not created
    assert sync_connection(config, "acme", plugins).report.has_changes is False


def test_r3_2_two_connections_sharing_a_winningtemp_tenant_never_take_over_each_others_users(
        tmp_path, personio, scim, secrets_env):
    from hrsync.config.load import parse_config
    from hrsync.errors import ConfigError
    from hrsync_plugins.personio.sandbox import PersonioSandbox
    from tests.helpers import bundled_plugins, connection_dict

    company(personio, *(employee(i, email=f"a{i}@a.example", department="Sales") for i in range(1000, 1004)))
    # A user an older, unprefixed install made for id 1003: no connection with a prefix may take it.
    scim.seed_users([{"userName": "b1003@b.example", "externalId": "1003", "active": True,
                      "emails": [{"value": "b1003@b.example", "type": "work", "primary": True}]}])
    plugins = bundled_plugins(memory=False)
    with PersonioSandbox([make_employee(**employee(i, email=f"b{i}@b.example", first_name=f"Bee{i}",
                                                   department="Sales")) for i in range(1000, 1004)],
                         client_id=personio.client_id, client_secret=personio.client_secret) as other:

        def load(alpha: str | None, beta: str | None):
            def conn(sandbox, prefix):
                return connection_dict(sandbox, scim, sink={} if prefix is None else {"external_id_prefix": prefix},
                                       groups={"fields": ["department"]})
            data = {"host": {"state": "state.db"},
                    "connections": {"alpha": conn(personio, alpha), "beta": conn(other, beta)}}
            return parse_config(data, plugins, path=tmp_path / "hosts.yaml")

        for alpha, beta in ((None, None), ("x-", None), ("x-", "x-"), ("x-", "x-y-")):
            with pytest.raises(ConfigError) as refused:
                load(alpha, beta)
            assert str(refused.value).startswith(f"{tmp_path / 'hosts.yaml'}: 1 problem found"), str(refused.value)
            assert "alpha" in str(refused.value) and "beta" in str(refused.value), str(refused.value)
            assert "external_id_prefix" in str(refused.value)
        one_account = {"host": {"state": "state.db"},  # one company split by scope: its ids mean the same people
                       "connections": {name: connection_dict(personio, scim) for name in ("alpha", "beta")}}
        assert set(parse_config(one_account, plugins, path=tmp_path / "hosts.yaml").connections) == {"alpha", "beta"}
        config = load("alpha-", "beta-")
        assert sync_connection(config, "alpha", plugins).report.counts["created"] == 4
        beta = sync_connection(config, "beta", plugins)
        assert beta.report.counts["created"] == 3 and beta.report.matched == []
    users = {u["userName"]: u.get("externalId") for u in scim.users()}
    assert users == {**{f"a{i}@a.example": f"alpha-{i}" for i in range(1000, 1004)},
                     **{f"b{i}@b.example": f"beta-{i}" for i in range(1000, 1003)}, "b1003@b.example": "1003"}
    (refused,) = beta.report.attention  # the old user holding b1003's address carries no beta- id: not linked
    assert refused.source_id == "1003" and "another person's user" in refused.reason, refused
    assert scim.by_user_name("a1000@a.example")["name"]["givenName"] == "First1000"
    groups = {g["externalId"]: sorted(m["value"] for m in g.get("members", [])) for g in scim.groups()}
    assert sorted(g.split("-")[0] for g in groups) == ["alpha", "beta"], groups  # a Sales group each


@pytest.mark.scim_profile("extended")  # with the extension, which carries the invitation request
def test_r3_a_a_future_hire_is_created_on_the_hire_date_not_active_months_early(e2e_config, personio, scim):
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    start = today + dt.timedelta(days=120)
    company(personio, employee(1), employee(2, status="onboarding", hire_date=f"{start.isoformat()}T00:00:00+01:00"))
    config, plugins = e2e_config(sink={"invite_new_users": True, "extension": True, "pre_hire_days": 0})
    first = sync_connection(config, "acme", plugins)
    assert [u["userName"] for u in scim.users()] == ["p1@example.com"]
    assert first.report.counts["deferred"] == 1 and first.report.counts["invited"] == 1
    (waiting,) = [a for a in first.report.actions if a.action == "defer"]
    assert f"starts on {start.isoformat()}; created on {start.isoformat()} (that day" in waiting.reason
    personio.change(2, hire_date=f"{today.isoformat()}T00:00:00+01:00")  # the day has come
    second = sync_connection(config, "acme", plugins)
    assert second.report.counts["created"] == 1
    assert scim.by_user_name("p2@example.com")["active"] is True


def test_r3_c_a_user_without_an_external_id_is_adopted_and_said_so_one_with_another_is_never(
        e2e_config, personio, scim):
    from hrsync.report.render import render_text
    from hrsync.sync.engine import RunOptions

    def seed(email, external_id=None):
        scim.seed_users([{"userName": email, "externalId": external_id, "active": True,
                          "name": {"givenName": "Admin", "familyName": "Made"},
                          "emails": [{"value": email, "type": "work", "primary": True}]}])

    seed("p1@example.com")  # made by hand in Winningtemp: no externalId
    seed("p2@example.com", "other-7")  # another system's, or another connection's, user
    company(personio, employee(1), employee(2))
    config, plugins = e2e_config()
    review = sync_connection(config, "acme", plugins, RunOptions(dry_run=True))  # the first-run review
    assert [(a.source_id, a.adopted) for a in review.report.matched] == [("1", True)]
    assert "adopted: it carried no source id" in render_text(review.report)
    first = sync_connection(config, "acme", plugins)
    assert [a.source_id for a in first.report.adopted] == ["1"]
    adopted, kept = scim.by_user_name("p1@example.com"), scim.by_user_name("p2@example.com")
    assert adopted["externalId"] == "1" and adopted["name"]["givenName"] == "First1"
    assert kept["externalId"] == "other-7" and kept["name"]["givenName"] == "Admin"
    assert [a.source_id for a in first.report.attention] == ["2"]
    # Later, without a listing: the create meets the hand-made user (409), which is adopted the same way - or not.
    seed("p3@example.com")
    seed("p4@example.com", "other-8")
    personio.add(**employee(3))
    personio.add(**employee(4))
    later = sync_connection(config, "acme", plugins)
    assert [a.source_id for a in later.report.adopted] == ["3"]
    assert scim.by_user_name("p3@example.com")["externalId"] == "3"
    assert scim.by_user_name("p4@example.com")["externalId"] == "other-8"
    assert {a.source_id for a in later.report.attention} == {"2", "4"}


def test_r3_2_a_prefix_set_on_a_connection_that_already_ran_is_written_onto_its_users_by_full(
        e2e_config, personio, scim):
    from hrsync.sync.engine import RunOptions

    company(personio, employee(1), employee(2))
    config, plugins = e2e_config()
    sync_connection(config, "acme", plugins)
    assert sorted(u["externalId"] for u in scim.users()) == ["1", "2"]  # the default: ids as they are
    config, plugins = e2e_config(sink={"external_id_prefix": "acme-"})
    personio.change(2, last_name="Changed")
    assert sync_connection(config, "acme", plugins).report.counts["updated"] == 1  # linked users stay linked
    full = sync_connection(config, "acme", plugins, RunOptions(full=True))
    assert full.status == "ok" and full.report.counts["updated"] == 2 and full.report.matched == []
    assert sorted(u["externalId"] for u in scim.users()) == ["acme-1", "acme-2"]
    assert sync_connection(config, "acme", plugins, RunOptions(full=True)).report.has_changes is False


def test_r3_1_many_people_to_create_on_a_later_run_list_the_sink_once_instead_of_a_lookup_each(
        e2e_config, personio, scim):
    company(personio, employee(1))
    config, plugins = e2e_config()
    sync_connection(config, "acme", plugins)
    for i in range(2, 4):
        personio.add(**employee(i))
    scim.clear_log()
    assert sync_connection(config, "acme", plugins).report.counts["created"] == 2
    lookups = [r for r in scim.requests if r["method"] == "GET" and "externalId" in r.get("query", "")]
    assert len(lookups) == 2  # a few new hires: a lookup each
    for i in range(4, 106):  # an acquisition: 102 at once
        personio.add(**employee(i))
    scim.clear_log()
    assert sync_connection(config, "acme", plugins).report.counts["created"] == 102
    reads = [r for r in scim.requests if r["method"] == "GET" and r["path"].endswith("/Users")]
    assert reads and not [r for r in reads if "externalId" in r.get("query", "")]


def test_r3_b_linked_people_gone_from_the_source_are_listed_in_every_report_while_missing_ignore_keeps_them(
        memory_config, world):
    loaded = memory_config()
    sync_memory(loaded)
    gone = world.people.pop(7)
    for _ in range(2):  # every report says so, not only the first after they went
        report = sync_memory(loaded).report
        assert [(k.person, k.email, k.reason) for k in report.left_alone] == [
            ("First7 Last7 (id 7)", "person7@example.com", "no longer in Memory")]
        text = render_text(report, limit=1000)
        assert "Still active in Memory, no longer synced from Memory (1)" in text
        assert "'missing: ignore'" in " ".join(text.split()) and "First7 Last7 (id 7) <person7@example.com>" in text
    assert any(u["email"] == gone["email"] and u["active"] for u in world.users.values())
    scoped = sync_memory(memory_config(scope={"exclude": {"last_name": ["Last9"]}})).report
    assert [(k.person, k.reason) for k in scoped.left_alone] == [
        ("First7 Last7 (id 7)", "no longer in Memory"), ("First9 Last9 (id 9)", "in Memory, but outside this "
                                                                                 "connection's scope")]
    deactivating = sync_memory(memory_config(missing="deactivate")).report
    assert deactivating.left_alone == [] and deactivating.counts["deactivated"] == 1
