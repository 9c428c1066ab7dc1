"""Helpers the tests share (imported by test modules; fixtures live in conftest.py).

Tests load only the plugins they need, never whatever else is installed: :func:`bundled_plugins`
in the test process, :func:`run_cli` / :func:`cli_env` for an ``hrsync`` subprocess (which blocks every
other installed plugin). Only the tests of entry-point discovery (test_host.py, test_installed_plugins.py,
test_csv_example.py) load installed ones.
"""

from __future__ import annotations

import importlib.metadata
import os
import pty
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from hrsync.registry import DISABLE_ENV, ENTRY_POINT_GROUP, Plugins, load_plugins

ROOT = Path(__file__).resolve().parent.parent
HRSYNC = str(Path(sys.executable).with_name("hrsync"))
#: The plugins this repository installs: the ``hrsync`` entry points of the hrsync distribution (setup.cfg).
BUNDLED = tuple(sorted(ep.name for ep in importlib.metadata.distribution("hrsync").entry_points
                       if ep.group == ENTRY_POINT_GROUP))


def bundled_plugins(*extra: tuple[str, object], memory: bool = True) -> Plugins:
    """The bundled plugins (and the memory connectors, and ``extra``), registered by hand: no other entry point
    is loaded, so a third-party plugin installed on this machine (even a broken one) changes nothing."""
    from hrsync.testing import memory_plugin

    chosen = [(ep.name, ep.load()) for ep in importlib.metadata.distribution("hrsync").entry_points
              if ep.group == ENTRY_POINT_GROUP]
    if memory:
        chosen.append(("memory", memory_plugin()))
    return load_plugins(entry_points=False, disabled=(), plugins=[*chosen, *extra])


def cli_env(plugins: Iterable[str] | None = BUNDLED) -> dict[str, str]:
    """The environment for an ``hrsync`` subprocess that loads only the entry points named in ``plugins``
    (every other installed one is blocked through $HRSYNC_DISABLE_PLUGINS); ``None``: all installed ones."""
    if plugins is None:
        return dict(os.environ)
    installed = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return {**os.environ, DISABLE_ENV: ",".join(sorted(installed - set(plugins)))}


class Terminal:
    """``hrsync`` with ``fd`` ("stdout" or "stderr") on a pseudo-terminal, read as it runs; ``seen`` is the text."""

    def __init__(self, *args: str, fd: str = "stderr") -> None:
        primary, secondary = pty.openpty()
        other = subprocess.DEVNULL
        self.proc = subprocess.Popen([HRSYNC, *args], stdout=secondary if fd == "stdout" else other,
                                     stderr=secondary if fd == "stderr" else other, env=cli_env())
        os.close(secondary)
        self.chunks: list[bytes] = []
        self.reader = threading.Thread(target=self._read, args=(primary,))
        self.reader.start()

    def _read(self, primary: int) -> None:
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closed: the command is over
                break
            if not chunk:
                break
            self.chunks.append(chunk)
        os.close(primary)

    def finish(self) -> tuple[int, str]:
        code = self.proc.wait(timeout=60)
        self.reader.join(timeout=60)
        return code, b"".join(self.chunks).decode(errors="replace")


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120,
            plugins: Iterable[str] | None = BUNDLED):
    """Run the installed `hrsync` command with the plugins named (see :func:`cli_env`); the CompletedProcess."""
    return subprocess.run([HRSYNC, *args], capture_output=True, text=True, env={**cli_env(plugins), **(env or {})},
                          cwd=cwd, timeout=timeout)


def wait_until(condition: Callable[[], object], timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail the test when it has not after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def connection_dict(personio, scim, **overrides) -> dict:
    """A connection from the Personio sandbox to the SCIM sandbox, secrets from the environment.

    The generated company hires up to 60 days ahead (status onboarding); ``pre_hire_days: 60`` creates them
    as before these tests were written, when 0 created them at once (today it waits for the hire date)."""
    source = {"plugin": "personio", "client_id": "${PERSONIO_CLIENT_ID}",
              "client_secret": "${PERSONIO_CLIENT_SECRET}", "base_url": personio.url, "retry_backoff": 0.01,
              **overrides.pop("source", {})}
    sink = {"plugin": "winningtemp", "token": "${WINNINGTEMP_TOKEN}", "base_url": scim.url, "retry_backoff": 0.01,
            "pre_hire_days": 60, **overrides.pop("sink", {})}
    return {"source": source, "sink": sink, **overrides}


def person(i: int, **values) -> dict:
    """Source person number ``i`` for the memory source (standard field names)."""
    return {"id": str(i), "email": f"person{i}@example.com", "first_name": f"First{i}", "last_name": f"Last{i}",
            "gender": "female", "birthday": "1990-04-0" + str(1 + i % 9), "status": "active",
            "hire_date": "2020-01-01", **values}


def wanted(i: int, **values):
    """Person number ``i`` as the planner receives them: validated, in the memory sink's fields."""
    from hrsync.sync.records import Person

    desired = {"email": f"person{i}@example.com", "first_name": f"First{i}", "last_name": f"Last{i}",
               "gender": "female", "birthday": "1990-04-02", "status": "active", "active": True, **values}
    return Person(str(i), f"First{i} Last{i}", desired["email"], desired)


def sync_memory(loaded, **options):
    """One run of connection ``mem`` from a ``memory_config()`` result (config, plugins)."""
    from hrsync.sync.engine import RunOptions, sync_connection

    config, plugins = loaded
    return sync_connection(config, "mem", plugins, RunOptions(**options))


def source_for(sandbox, **settings):
    """A Personio source for a running Personio sandbox (fast retries, no pacing)."""
    from hrsync import RunContext
    from hrsync.secrets import Secret
    from hrsync_plugins.personio.source import ConfigSchema, PersonioSource

    raw = {"base_url": sandbox.url, "retry_backoff": 0.01, "max_requests_per_second": 0, **settings}
    loaded = ConfigSchema().load(raw, partial=("client_id", "client_secret"))
    loaded["client_id"], loaded["client_secret"] = Secret(sandbox.client_id), Secret(sandbox.client_secret)
    return PersonioSource(loaded, RunContext("test"))


def read_all(source) -> list[dict]:
    """What a run reads from ``source``, loaded with its RecordSchema."""
    with source:
        source.open()
        return [type(source).RecordSchema().load(r) for r in source.read()]


#: The module of a third-party source plugin (``cls`` and ``name`` to fill in), for :func:`make_distribution`.
PLUGIN_SOURCE = '''
from marshmallow import Schema, fields
from hrsync import Source, hookimpl

class Config(Schema):
    path = fields.String(required=True, metadata={{"description": "Where the export lives."}})

class {cls}(Source):
    name = "{name}"
    ConfigSchema = Config

@hookimpl
def register_sources(register):
    register({cls})
'''


def make_distribution(root: Path, dist: str, plugins: dict[str, str]) -> Path:
    """Write an installed distribution (dist-info metadata + modules) under ``root``.

    ``plugins`` maps entry-point name → module source. This is what pip leaves in
    site-packages, so discovery goes through real installed metadata.
    """
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = ["[hrsync]"]
    for ep_name, source in plugins.items():
        module = f"{dist.replace('-', '_')}_{ep_name}"
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        lines.append(f"{ep_name} = {module}")
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return root
