"""The harness for plugins that are not HTTP services: a source and a sink that keep people in a JSON file.

They pass their contracts with settings alone (no sandbox); refused settings are asked for only
where a source has secrets; a sandbox (or a sink without one) that cannot throttle or refuse a
person says which scenarios to leave out, and a throttle that does not throttle fails its scenario.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from marshmallow import EXCLUDE, RAISE, Schema, fields

from hrsync import (
    ConflictError,
    Secret,
    SecretField,
    Sink,
    SinkPerson,
    Source,
    SourceAuthError,
    SourceError,
    standard_field,
)
from hrsync.sandbox import SinkSandbox
from hrsync.testing import (
    SINK_SCENARIOS,
    SOURCE_SCENARIOS,
    MemorySink,
    MemorySinkSandbox,
    SinkHarness,
    SourceHarness,
    sink_tests,
    source_tests,
)
from tests.helpers import ROOT

PEOPLE = [{"id": "1", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lund", "status": "active"},
          {"id": "2", "email": "bo@example.com", "first_name": "Bo", "last_name": "Ek", "status": "leave"}]
THROTTLING = {"rate_limited_429_then_success", "unavailable_503_then_success"}
NO_SERVICE = THROTTLING | {"one_failing_person_is_isolated"}


class FileSettings(Schema):
    class Meta:
        unknown = RAISE

    path = fields.String(required=True, metadata={"description": "The JSON file."})


class LockedFileSettings(FileSettings):
    key = SecretField(required=True, metadata={"description": "The key the file was written with."})


class PersonRecord(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, metadata={"standard": "id", "description": "Employee id."})
    email = standard_field("email")
    first_name = standard_field("first_name")
    last_name = standard_field("last_name")
    status = standard_field("status")


class JsonFileSource(Source):
    """Reads ``{"key": …, "people": [...]}`` from ``path``."""

    name = "jsonfile"
    ConfigSchema = FileSettings
    RecordSchema = PersonRecord

    def _data(self) -> dict[str, Any]:
        try:
            return json.loads(Path(self.settings["path"]).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SourceError(f"cannot read {self.settings['path']}: {exc.strerror}") from None

    def check(self) -> None:
        self._data()

    def read(self):
        yield from self._data()["people"]


class LockedFileSource(JsonFileSource):
    """The same, but the file opens only with its key (a secret setting)."""

    name = "lockedfile"
    ConfigSchema = LockedFileSettings

    def _data(self) -> dict[str, Any]:
        data = super()._data()
        if data["key"] != self.settings["key"].reveal():
            raise SourceAuthError(f"the key does not open {self.settings['path']}: check the source setting key")
        return data

    def check(self) -> None:
        self._data()


def people_file(tmp_path: Path, key: str = "s3cret") -> str:
    path = tmp_path / "people.json"
    path.write_text(json.dumps({"key": key, "people": PEOPLE}), encoding="utf-8")
    return str(path)


class SinkRecord(Schema):
    class Meta:
        unknown = EXCLUDE

    email = standard_field("email", required=True)
    first_name = standard_field("first_name")
    last_name = standard_field("last_name")
    status = standard_field("status")
    active = fields.Boolean(allow_none=True, metadata={"description": "False once deactivated."})


class JsonFileSink(Sink):
    """Keeps people in a JSON file, ``{sink id: record}``."""

    name = "jsonfile"
    ConfigSchema = FileSettings
    RecordSchema = SinkRecord

    def _load(self) -> dict[str, dict[str, Any]]:
        path = Path(self.settings["path"])
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def _save(self, users: dict[str, dict[str, Any]]) -> None:
        Path(self.settings["path"]).write_text(json.dumps(users), encoding="utf-8")

    def prepare(self, record):
        desired = super().prepare(record)
        desired["active"] = record.get("status") != "inactive"
        return desired

    def list_people(self):
        return [SinkPerson(uid, user) for uid, user in self._load().items()]

    def find(self, email):
        return next((p for p in self.list_people() if p.record["email"].lower() == email.lower()), None)

    def create(self, record):
        if self.find(record["email"]) is not None:
            raise ConflictError(f"{record['email']} is in the file already", record=record["email"])
        users = self._load()
        uid = str(len(users) + 1)
        users[uid] = dict(record)
        self._save(users)
        return SinkPerson(uid, dict(record))

    def update(self, sink_id, changes, record):
        users = self._load()
        users[sink_id].update(changes)
        self._save(users)

    def deactivate(self, sink_id):
        users = self._load()
        users[sink_id]["active"] = False
        self._save(users)


def sink_file(tmp_path: Path) -> dict[str, str]:
    return {"path": str(tmp_path / "people-out.json")}


TestJsonFileSourceContract = source_tests(JsonFileSource, settings=lambda tmp_path: {"path": people_file(tmp_path)})
TestLockedFileSourceContract = source_tests(
    LockedFileSource, settings=lambda tmp_path: {"path": people_file(tmp_path), "key": "s3cret"})
TestJsonFileSinkContract = sink_tests(JsonFileSink, settings=sink_file,
                                      scenarios=[s for s in SINK_SCENARIOS if s.name not in NO_SERVICE])


def suite_names(suite: type) -> set[str]:
    return {name.removeprefix("test_") for name in vars(suite) if name.startswith("test_")}


def test_refused_settings_are_asked_for_only_where_the_source_has_secrets_or_gives_them():
    every = {s.name for s in SOURCE_SCENARIOS}
    assert suite_names(TestLockedFileSourceContract) == every
    assert suite_names(TestJsonFileSourceContract) == every - {"check_fails_on_bad_credentials"}
    given = source_tests(JsonFileSource, settings={"path": "unused"}, bad_settings={"path": "/nowhere/people.json"})
    assert suite_names(given) == every


def test_bad_settings_without_a_sandbox(tmp_path):
    """Without a sandbox: every secret made wrong, or the settings given; a source without either says so."""
    check = next(s for s in SOURCE_SCENARIOS if s.name == "check_fails_on_bad_credentials").check
    locked = SourceHarness(LockedFileSource, settings={"path": people_file(tmp_path), "key": Secret("s3cret")})
    assert locked.bad_settings()["key"].reveal() == "wrong-s3cret"
    check(locked)
    check(SourceHarness(JsonFileSource, settings={"path": people_file(tmp_path)}, refused={"path": "/nowhere"}))
    with pytest.raises(pytest.fail.Exception, match="has no secrets to get wrong: pass bad_settings= to source_tests"):
        check(SourceHarness(JsonFileSource, settings={"path": people_file(tmp_path)}))


def test_a_suite_needs_a_sandbox_or_settings():
    with pytest.raises(TypeError, match=r"source_tests\(\) needs sandbox= .* or settings="):
        source_tests(JsonFileSource)
    with pytest.raises(TypeError, match=r"sink_tests\(\) needs sandbox= .* or settings="):
        sink_tests(JsonFileSink)


def test_scenarios_choose_the_tests():
    chosen = [s for s in SINK_SCENARIOS if s.name in ("create", "idempotent_reapply")]
    assert suite_names(sink_tests(MemorySink, sandbox=MemorySinkSandbox, scenarios=chosen)) == {
        "create", "idempotent_reapply"}
    with pytest.raises(TypeError, match="takes Scenario objects"):
        sink_tests(MemorySink, sandbox=MemorySinkSandbox, scenarios=["create"])
    with pytest.raises(ValueError, match="is empty"):
        sink_tests(MemorySink, sandbox=MemorySinkSandbox, scenarios=[])
    with pytest.raises(ValueError, match=r"names \['create'\] more than once"):
        sink_tests(MemorySink, sandbox=MemorySinkSandbox, scenarios=chosen + chosen[:1])


def scenario(name: str):
    return next(s for s in SINK_SCENARIOS if s.name == name)


@pytest.mark.parametrize("name", sorted(NO_SERVICE))
def test_a_sink_without_a_sandbox_says_which_scenarios_to_leave_out(tmp_path, name):
    harness = SinkHarness(JsonFileSink, None, tmp_path, settings=sink_file(tmp_path))
    with pytest.raises(NotImplementedError, match=f"pass scenarios=… to sink_tests without the .*{name}"):
        scenario(name).check(harness)


class HoldOnly(SinkSandbox):
    """A sandbox that can show what it holds but has no fault switches."""

    name = "memory"


def test_a_sandbox_that_cannot_throttle_or_refuse_says_so():
    for call, names in ((lambda: HoldOnly().throttle(3, 429), THROTTLING),
                        (lambda: HoldOnly().busy_answers(), THROTTLING),
                        (lambda: HoldOnly().reject("ada@example.com"), {"one_failing_person_is_isolated"})):
        with pytest.raises(NotImplementedError, match="HoldOnly cannot|HoldOnly does not") as info:
            call()
        assert "pass scenarios=… to sink_tests without" in str(info.value)
        assert all(n in str(info.value) for n in names) and names <= {s.name for s in SINK_SCENARIOS}


class NoOpThrottle(MemorySinkSandbox):
    """Says it throttles, and does nothing: the 429 and 503 scenarios would pass without a single busy answer."""

    def throttle(self, count: int, status: int) -> None:
        pass


@pytest.mark.parametrize("name", sorted(THROTTLING))
def test_a_throttle_that_does_not_throttle_fails_its_scenario(tmp_path, name):
    with NoOpThrottle() as sandbox, pytest.raises(AssertionError, match="its throttle\\(\\) does not throttle"):
        scenario(name).check(SinkHarness(MemorySink, sandbox, tmp_path))


def test_the_harness_sees_the_busy_answers_of_a_throttle_that_works(tmp_path):
    with MemorySinkSandbox() as sandbox:
        scenario("rate_limited_429_then_success").check(SinkHarness(MemorySink, sandbox, tmp_path))
        assert sandbox.busy_answers() == 3


def test_the_guide_names_every_scenario_and_every_argument():
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    missing = [s.name for s in [*SOURCE_SCENARIOS, *SINK_SCENARIOS] if f"`{s.name}`" not in guide]
    missing += [f"{name}=" for factory in (source_tests, sink_tests)
                for name in inspect.signature(factory).parameters if name != factory.__code__.co_varnames[0]
                and f"`{name}=`" not in guide]
    assert not missing, f"docs/plugins.md does not name {missing}"
