"""What ``hrsync run NAME`` reads of hosts.yaml: the host section and that connection only (``check`` still
reads them all), so another connection's mistake never stops it; and what stays built once per process."""

from __future__ import annotations

import pytest
import yaml

from hrsync.config.load import load_config
from hrsync.config.yaml_text import MAX_VALUES, one_connection
from hrsync.errors import EXIT_CONFIG, ConfigError, UsageError
from hrsync.report.render import _environment
from tests.helpers import bundled_plugins, run_cli

GOOD = """\
  good:
    source: {plugin: memory}
    sink: {plugin: memory}
"""
BAD = """\
  bad:
    source: {plugin: memory, no_such_setting: 1}
    sink: {plugin: nowhere}
"""


def write(tmp_path, text: str):
    path = tmp_path / "hosts.yaml"
    path.write_text(text)
    return path


def test_run_reads_its_connection_and_the_host_section_only(tmp_path):
    path = write(tmp_path, f"host:\n  timezone: Europe/Berlin\nconnections:\n{BAD}{GOOD}")
    config = load_config(path, bundled_plugins(), only="good")
    assert list(config.connections) == ["good"] and config.timezone == "Europe/Berlin"
    with pytest.raises(ConfigError) as whole:  # check and the daemon read every connection
        load_config(path, bundled_plugins())
    assert "connections.bad.sink.plugin" in str(whole.value)
    with pytest.raises(ConfigError) as its_own:  # NAME's own mistakes are all reported
        load_config(path, bundled_plugins(), only="bad")
    assert "connections.bad.sink.plugin" in str(its_own.value) and "no_such_setting" in str(its_own.value)
    with pytest.raises(UsageError, match=r"No such connection \(configured: bad, good\)"):  # a usage error
        load_config(path, bundled_plugins(), only="missing")
    broken_host = write(tmp_path, f"host:\n  timezone: Mars/Olympus\nconnections:\n{GOOD}")
    with pytest.raises(ConfigError, match="Unknown time zone"):
        load_config(broken_host, bundled_plugins(), only="good")


def test_a_command_for_one_connection_is_not_stopped_by_another_connections_mistake(tmp_path):
    good = ("  good:\n    source: {plugin: personio, client_id: '${ID}', client_secret: '${SECRET}'}\n"
            "    sink: {plugin: winningtemp, token: '${TOKEN}'}\n")
    write(tmp_path, f"host: {{state: state.db}}\nconnections:\n{BAD}{good}")
    env = {"ID": "id", "SECRET": "secret", "TOKEN": "token"}
    resumed = run_cli("--config", str(tmp_path / "hosts.yaml"), "resume", "good", env=env)
    assert resumed.returncode == 0 and "good: was not paused" in resumed.stdout, resumed.stderr
    checked = run_cli("--config", str(tmp_path / "hosts.yaml"), "check", "--offline", env=env)
    assert checked.returncode == EXIT_CONFIG and "connections.bad" in checked.stderr


def test_an_anchor_in_another_connection_makes_the_whole_file_read(tmp_path):
    text = f"connections:\n  first:\n    source: &src {{plugin: memory}}\n    sink: {{plugin: memory}}\n{BAD}" \
           "  second:\n    source: *src\n    sink: {plugin: memory}\n"
    assert "first" not in one_connection(text, "second")  # the cut text cannot be read: the whole file is
    assert load_config(write(tmp_path, text), bundled_plugins(), only="second").connections["second"].source.name \
        == "memory"
    flow = "connections: {good: {source: {plugin: memory}, sink: {plugin: memory}}, bad: 1}\n"
    assert one_connection(flow, "good") is None
    odd = f"connections:\n{GOOD}  other: {{source: 1}}\n"  # a connection in flow style on its line
    assert one_connection(odd, "good") is None
    assert list(load_config(write(tmp_path, odd), bundled_plugins(), only="good").connections) == ["good"]


def test_a_host_of_many_connections_is_not_taken_for_an_alias_bomb(tmp_path):
    blocks = "".join(GOOD.replace("good", f"c{i}") for i in range(MAX_VALUES // 9))  # ~9 values a connection
    config = load_config(write(tmp_path, f"connections:\n{blocks}"), bundled_plugins(), only="c7")
    assert list(config.connections) == ["c7"]


def test_the_report_templates_are_built_once_per_process():
    assert _environment(False) is _environment(False) and _environment(True) is not _environment(False)


def wt(name: str, account: str, sink: str = "") -> str:
    """A connection from Personio account ``account`` (its client id's variable) to the default Winningtemp tenant."""
    return (f"  {name}:\n    source:\n      plugin: personio\n      client_id: ${{{account}}}\n"
            f"      client_secret: ${{SECRET}}\n    sink:\n      plugin: winningtemp\n      token: ${{TOKEN}}\n{sink}")


@pytest.fixture
def accounts(monkeypatch):
    for variable, value in {"A_ID": "company-a", "A_AGAIN": "company-a", "B_ID": "company-b", "SECRET": "secret",
                            "TOKEN": "token"}.items():
        monkeypatch.setenv(variable, value)


def refusal(path, only=None) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load_config(path, bundled_plugins(), only=only)
    return refused.value.lines


def test_run_refuses_a_connection_sharing_its_tenant_as_check_does_reading_the_others_unvalidated(
        tmp_path, accounts, monkeypatch):
    pair = write(tmp_path, f"connections:\n{wt('alpha', 'A_ID')}{wt('beta', 'B_ID')}")
    whole = refusal(pair)
    assert len(whole) == 1 and "'alpha' and 'beta' both write to" in whole[0] and "external_id_prefix" in whole[0]
    assert refusal(pair, "alpha") == whole  # the same words as check's
    assert refusal(pair, "beta") == [whole[0].replace("connections.alpha.", "connections.beta.")]
    other_tenant = "      base_url: https://other.example.com/scim/v2\n"
    text = (f"connections:\n{wt('alpha', 'A_ID')}{BAD}{wt('beta', 'B_ID')}{wt('gamma', 'B_ID', other_tenant)}"
            f"{wt('delta', 'A_ID')}{wt('epsilon', 'A_AGAIN')}{wt('zeta', 'B_ID', '      external_id_prefix: z-')}")
    path = write(tmp_path, text)
    (problem,) = [line for line in refusal(path) if "write to" in line]
    assert "'alpha', 'beta', 'delta', 'epsilon' and 'zeta' all write to" in problem  # gamma writes elsewhere
    assert "(now 'none' for 'alpha', 'beta', 'delta' and 'epsilon'; 'z-' for 'zeta')" in problem
    (one,) = refusal(path, "alpha")  # delta and epsilon read alpha's account (written alike or not): they may
    assert "'alpha', 'beta' and 'zeta' all write to" in one and one.startswith("connections.alpha.")
    assert load_config(path, bundled_plugins(), only="gamma").connections["gamma"]  # another tenant
    assert "'alpha', 'delta', 'epsilon' and 'zeta' all write to" in refusal(path, "zeta")[0]  # none starts 'z-'
    with monkeypatch.context() as unset:  # a source that cannot be read here may read another account
        unset.delenv("A_AGAIN")
        assert "'alpha', 'beta', 'epsilon' and 'zeta' all write to" in refusal(path, "alpha")[0]
    # Read from the whole file when the text cannot be cut: an alias to another connection's sink, flow style.
    aliased = write(tmp_path, "connections:\n" + wt("alpha", "A_ID").replace("    sink:\n", "    sink: &wt\n")
                    + "  beta:\n    source: {plugin: personio, client_id: '${B_ID}', client_secret: '${SECRET}'}\n"
                      "    sink: *wt\n")
    assert "'alpha' and 'beta' both write to" in refusal(aliased, "alpha")[0]
    assert "'alpha' and 'beta' both write to" in refusal(aliased, "beta")[0]
    flow = write(tmp_path, yaml.safe_dump(yaml.safe_load(text), default_flow_style=True))
    assert refusal(flow, "alpha") == [one]


def test_connections_sharing_a_tenant_are_one_problem_naming_them_all(tmp_path, accounts):
    names = [f"c{n:02}" for n in range(20)]
    text = "connections:\n" + "".join(f"  {name}:\n    source: {{plugin: memory}}\n    sink: {{plugin: winningtemp, "
                                      "token: '${TOKEN}'}\n" for name in names)
    (problem,) = refusal(write(tmp_path, text))
    assert "Connections 'c00', 'c01', " in problem and "'c18' and 'c19' all write to" in problem
    assert "(now 'none' for 'c00', " in problem


SFTP_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


def test_two_file_connections_delivering_to_one_sftp_folder_are_refused_even_reading_one_account(
        tmp_path, accounts, monkeypatch):
    monkeypatch.setenv("SFTP_KEY", SFTP_KEY)

    def delivering(name: str, username: str = "acme", folder: str = "/", host: str = "sftp.example.com") -> str:
        return (f"  {name}:\n    source: {{plugin: personio, client_id: '${{A_ID}}', client_secret: '${{SECRET}}'}}\n"
                f"    sink:\n      plugin: winningtemp-file\n      sftp:\n        host: {host}\n"
                f"        username: {username}\n        private_key: ${{SFTP_KEY}}\n        remote_folder: {folder}\n"
                "        host_key_fingerprint: SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s\n")

    text = (f"connections:\n{delivering('north')}{delivering('south', folder='/upload/../')}"
            f"{delivering('east', folder='/east')}{delivering('west', username='west')}"
            f"{delivering('other', host='SFTP.example.com', folder='/east/')}")
    path = write(tmp_path, text)
    problems = refusal(path)
    assert len(problems) == 2, problems
    assert problems[0].startswith("connections.east.sink.sftp.remote_folder: Connections 'east' and 'other' both "
                                  "write to the folder /east of sftp://acme@sftp.example.com:22")
    assert "'north' and 'south' both write to the folder / of sftp://acme@sftp.example.com:22, which holds one " \
           "connection's data whole" in problems[1]
    assert "its own sftp.remote_folder" in problems[1]
    assert "'north' and 'south' both write to" in refusal(path, "south")[0]
    assert load_config(path, bundled_plugins(), only="west").connections["west"]  # another account
