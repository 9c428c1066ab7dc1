"""Round 3 of the adversarial review (issue 24, items 11–16): input and files.

Unicode e-mails, YAML bombs, names with a trailing newline, a full or read-only disk, symlinks in the
state's folder and secrets a protocol cannot carry: each ends in a clear message, never in a traceback,
a mangled file or a quoted secret.
"""

from __future__ import annotations

import re
import unicodedata

import pytest

from hrsync import ConfigError
from hrsync.config.load import load_config, parse_config
from hrsync.sync.engine import sync_connection
from tests.helpers import ROOT, bundled_plugins, connection_dict, person


def test_r3_11_unicode_emails_are_one_form_one_case_and_a_bad_one_says_why(memory_config, memory_world):
    jose = unicodedata.normalize("NFD", "JOSÉ@example.com")
    assert jose != "JOSÉ@example.com" and len(jose) == len("JOSÉ@example.com") + 1
    memory_world.people = [person(1, email="FİLİZ@example.com"), person(2, email=jose),
                           person(3, email="ann smith@example.com"), person(4, email="bo@@example.com")]
    config, plugins = memory_config()
    result = sync_connection(config, "mem", plugins)
    emails = sorted(str(user["email"]) for user in memory_world.users.values())
    assert emails == ["filiz@example.com", "josé@example.com"]
    assert all(unicodedata.is_normalized("NFC", e) for e in emails)
    reasons = {line.source_id: line.reason for line in result.report.actions if line.action == "skip"}
    assert set(reasons) == {"3", "4"}
    assert "U+0020 SPACE" in reasons["3"] and "before the @" in reasons["3"]
    assert "more than one @" in reasons["4"]


def test_r3_12_a_yaml_alias_bomb_is_refused_at_load_naming_the_file(tmp_path):
    # 2**24 values in about 600 bytes (the review's 896-byte file stood for 2**32): refused before anything walks it.
    lines = ["l0: &l0 [x, x]"] + [f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, 25)]
    path = tmp_path / "hosts.yaml"
    path.write_text("x-anchors:\n" + "".join(f"  {line}\n" for line in lines) + "connections: {}\n")
    assert path.stat().st_size < 1000
    with pytest.raises(ConfigError) as info:
        load_config(path, bundled_plugins())
    assert str(path) in str(info.value) and "alias-expansion bomb" in str(info.value)
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(ConfigError, match="refers to the node it is inside of"):
        load_config(path, bundled_plugins())


def test_r3_13_a_trailing_newline_in_a_name_that_becomes_a_path_or_header_is_refused(personio, scim, secrets_env):
    conn = connection_dict(personio, scim, source={"app_id": "HRSYNC\n"}, schedule={"daily_at": "03:00\n"})
    with pytest.raises(ConfigError) as info:
        parse_config({"connections": {"acme\n": conn}}, bundled_plugins())
    errors = info.value.errors
    assert "Connection names use letters" in errors["connections.acme\\n"][0]  # the line break shown, not obeyed
    assert "UPPER_SNAKE_CASE" in errors["connections.acme\\n.source.app_id"][0]
    assert "HH:MM" in errors["connections.acme\\n.schedule.daily_at"][0]
    # Every anchored pattern in the code ends with \Z: `$` also matches before a final newline.
    sources = [*(ROOT / "core").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]
    anchored = [f"{p.name}: {line.strip()}" for p in sources for line in p.read_text().splitlines()
                if re.search(r'r"\^[^"]*\$"', line)]
    assert anchored == []
