"""The plugin harness: every bundled plugin passes it, and it catches broken sinks with a readable message."""

from __future__ import annotations

import dataclasses
import functools

import pytest
import requests

from hrsync import SinkPerson
from hrsync.sandbox import SourceSandbox
from hrsync.testing import (
    GROUP_SCENARIOS,
    SINK_SCENARIOS,
    SNAPSHOT_SCENARIOS,
    MemorySink,
    MemorySinkSandbox,
    SinkHarness,
    sink_tests,
    source_tests,
)
from hrsync.testing.memory_snapshots import MemorySnapshotSandbox, MemorySnapshotSink
from hrsync_plugins.personio.sandbox import PersonioSandbox
from hrsync_plugins.personio.sandbox_data import generate_employees
from hrsync_plugins.personio.source import PersonioSource
from hrsync_plugins.winningtemp.file_sandbox import WinningtempFileSandbox
from hrsync_plugins.winningtemp.file_sink import WinningtempFileSink
from hrsync_plugins.winningtemp.sandbox import ScimSandbox
from hrsync_plugins.winningtemp.sandbox_profiles import PROFILES
from hrsync_plugins.winningtemp.sink import WinningtempSink

TestPersonioContract = source_tests(PersonioSource, sandbox=PersonioSandbox)
# The sink contract holds against every way a SCIM service may answer (plugins/winningtemp/sandbox_profiles.py).
# A service without /Groups syncs people only: the group scenarios do not apply to it.
for _profile in PROFILES:
    globals()[f"TestWinningtempContract_{_profile.replace('-', '_')}"] = sink_tests(
        WinningtempSink, sandbox=functools.partial(ScimSandbox, profile=_profile),
        scenarios=SINK_SCENARIOS if _profile == "no-groups" else None)
TestMemorySinkContract = sink_tests(MemorySink, sandbox=MemorySinkSandbox)


class DuplicatingSink(MemorySink):
    """Forgets to match: lists nobody and never reports a conflict."""

    name = "duplicating"

    def list_people(self):
        return []

    def create(self, record):
        self._write("create", record["email"], record["email"])
        uid = self.world.new_id()
        self.world.users[uid] = dict(record)
        return SinkPerson(uid, dict(record))


class ChattySink(WinningtempSink):
    """Re-sends every field on each update."""

    name = "chatty"

    def update(self, sink_id, changes, record):
        super().update(sink_id, {k: v for k, v in record.items() if k in self.carried_fields()}, record)


class ImpatientSink(WinningtempSink):
    """Gives up at the first 429."""

    name = "impatient"

    def __init__(self, settings, context):
        super().__init__({**settings, "max_retries": 0}, context)


def scenario(name):
    return next(s for s in SINK_SCENARIOS if s.name == name)


@pytest.mark.parametrize("sink,sandbox,name,message", [
    (DuplicatingSink, MemorySinkSandbox, "case_insensitive_key", "the sink created duplicates"),
    (ChattySink, ScimSandbox, "update_sends_only_changed_fields", "re-sent unchanged fields"),
    (ImpatientSink, ScimSandbox, "rate_limited_429_then_success", "run with 429 answers: run stopped"),
], ids=["duplicates", "resends-unchanged", "gives-up-on-429"])
def test_harness_catches_broken_sinks(tmp_path, sink, sandbox, name, message):
    with sandbox() as sb, pytest.raises((AssertionError, pytest.fail.Exception)) as info:
        scenario(name).check(SinkHarness(sink, sb, tmp_path))
    assert message in str(info.value)


def test_generated_tests_are_named_after_scenarios():
    names = {n for n in vars(globals()["TestWinningtempContract_documented"]) if n.startswith("test_")}
    assert names == {f"test_{s.name}" for s in SINK_SCENARIOS + GROUP_SCENARIOS}
    no_groups = {n for n in vars(globals()["TestWinningtempContract_no_groups"]) if n.startswith("test_")}
    assert no_groups == {f"test_{s.name}" for s in SINK_SCENARIOS}


def test_plugin_fixtures_are_available(personio_sandbox, scim_sandbox, smtp_capture, hrsync_state, memory_world):
    assert personio_sandbox.url.startswith("http://127.0.0.1:") and scim_sandbox.url.endswith("/v2")
    assert smtp_capture.port and hrsync_state.runs() == [] and memory_world.people == []


@pytest.mark.parametrize("make", [lambda: PersonioSandbox(generate_employees(2, seed=1)), ScimSandbox],
                         ids=["personio", "winningtemp"])
def test_every_server_sandbox_speaks_one_admin_api(make):
    with make() as sandbox:
        admin = sandbox.admin_url
        assert requests.get(sandbox.url + "/nowhere").status_code in (401, 404)
        log = requests.get(f"{admin}/requests")
        assert log.status_code == 200 and [e["status"] for e in log.json()] in ([401], [404])
        assert requests.post(f"{admin}/faults", json={"throttle_next": 1}).status_code == 204
        assert sandbox.faults.throttle_next == 1
        refused = requests.post(f"{admin}/faults", json={"no_such_switch": 1})
        assert refused.status_code == 400 and "no_such_switch" in refused.json()["error"]
        assert requests.delete(f"{admin}/requests").status_code == 204 and sandbox.requests == []
        assert requests.get(f"{admin}/nothing").status_code == 404


def test_a_server_sandbox_with_its_bases_in_the_wrong_order_is_refused_at_once():
    from hrsync.sandbox import LoopbackServer, SourceSandbox

    with pytest.raises(TypeError, match="list LoopbackServer before Sandbox"):
        type("Backwards", (SourceSandbox, LoopbackServer), {"name": "backwards"})


def test_the_harness_says_why_it_cannot_test_refused_credentials():
    from hrsync.testing import SOURCE_SCENARIOS, SourceHarness, memory_plugin  # noqa: F401
    from hrsync.testing.memory import MemorySource

    class NoSecrets(SourceSandbox):
        name = "memory"

    check = next(s for s in SOURCE_SCENARIOS if s.name == "check_fails_on_bad_credentials").check
    with pytest.raises(pytest.fail.Exception, match="has no secrets to get wrong: override bad_settings"):
        check(SourceHarness(MemorySource, NoSecrets()))


class ForgetfulGroupsSink(MemorySink):
    """Never finds a group it made: each create is its first, whatever happened before."""

    name = "forgetful"

    def find_group(self, external_id, name):
        return None


@pytest.mark.parametrize("name", ["killed_between_create_and_record", "conflict_on_group_create"])
def test_harness_catches_a_sink_that_makes_groups_twice(tmp_path, name):
    check = next(s for s in GROUP_SCENARIOS if s.name == name).check
    with MemorySinkSandbox() as sb, pytest.raises(AssertionError) as info:
        check(SinkHarness(ForgetfulGroupsSink, sb, tmp_path))
    assert "the sink holds two groups with the same external id: ['department:d1']" in str(info.value)


TestMemorySnapshotSinkContract = sink_tests(MemorySnapshotSink, sandbox=MemorySnapshotSandbox)


class ForgetfulSnapshotSink(MemorySnapshotSink):
    """Drops whoever the snapshot asks it to keep as last delivered."""

    name = "forgetful-snapshot"

    def deliver(self, snapshot):
        return super().deliver(dataclasses.replace(snapshot, kept_as_delivered=()))


def test_harness_catches_a_snapshot_sink_that_drops_kept_rows(tmp_path):
    check = next(s for s in SNAPSHOT_SCENARIOS if s.name == "skipped_person_keeps_their_row").check
    with MemorySnapshotSandbox() as sb, pytest.raises(AssertionError) as info:
        check(SinkHarness(ForgetfulSnapshotSink, sb, tmp_path))
    assert "was dropped from the delivery" in str(info.value)


TestWinningtempFileContract = sink_tests(WinningtempFileSink, sandbox=WinningtempFileSandbox)
