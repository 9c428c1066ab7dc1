"""``hrsync plugin new``: the distribution it writes installs with ``pip install -e`` and passes its own tests.

The generated plugins are installed into a prefix of their own (``pip install --prefix``), not
into the venv the suite runs in: tests running alongside never see them, and a test killed
half-way leaves no entry point behind. A subprocess adds that prefix as a site directory (so
the editable install's ``.pth`` works as in any venv) and runs pytest and ``hrsync plugins``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from hrsync.cli.scaffold import requirement
from hrsync.errors import EXIT_USAGE
from tests.helpers import BUNDLED, run_cli

PIP_TIMEOUT = 180


def in_prefix(site_packages: str, code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a Python that has the prefix's site-packages (and its .pth files) on its path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-c", f"import site, sys; site.addsitedir({site_packages!r}); {code}"],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=PIP_TIMEOUT)


def test_a_new_source_and_sink_install_and_pass_their_own_tests(tmp_path):
    for name, kind in (("demo-src", "source"), ("demo-sink", "sink")):
        made = run_cli("plugin", "new", name, "--kind", kind, "--path", str(tmp_path / "plugins"))
        assert made.returncode == 0, made.stderr
    src, sink = tmp_path / "plugins" / "hrsync-demo-src", tmp_path / "plugins" / "hrsync-demo-sink"
    assert sorted(str(p.relative_to(src)) for p in src.rglob("*") if p.is_file()) == [
        "README.md", "hrsync_demo_src/__init__.py", "hrsync_demo_src/plugin.py", "pyproject.toml", "setup.cfg",
        "tests/people.json", "tests/test_contract.py"]
    assert f"hrsync{requirement()}" in (sink / "setup.cfg").read_text() and requirement("0.4.2") == ">=0.4,<0.6"
    assert (sink / "pyproject.toml").read_text().startswith("[build-system]\n")
    assert "[tool" not in (sink / "pyproject.toml").read_text()

    prefix = tmp_path / "prefix"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                                "--no-input", "--prefix", str(prefix), "-e", str(src), "-e", str(sink)],
                               capture_output=True, text=True, timeout=PIP_TIMEOUT)
    assert installed.returncode == 0, installed.stderr
    site_packages = sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)})

    for folder, passed in ((src, "7 passed"), (sink, "6 passed")):
        tests = in_prefix(site_packages, "import pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider']))",
                          folder)
        assert tests.returncode == 0 and passed in tests.stdout, tests.stdout + tests.stderr
        lint = subprocess.run([str(Path(sys.executable).with_name("ruff")), "check", "--isolated", "--no-cache",
                               "--select", "E,F,W,I,B,UP", "--target-version", "py311", "--line-length", "100", "."],
                              capture_output=True, text=True, cwd=folder)
        assert lint.returncode == 0, lint.stdout

    listed = in_prefix(site_packages, "from hrsync.cli import main; sys.argv = ['hrsync', 'plugins']; main()",
                       tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert (rows["demo-src"]["kind"], rows["demo-src"]["distribution"]) == ("source", "hrsync-demo-src")
    assert (rows["demo-sink"]["kind"], rows["demo-sink"]["distribution"]) == ("sink", "hrsync-demo-sink")
    assert [field["name"] for field in rows["demo-sink"]["config"]] == ["path"]


@pytest.mark.parametrize("name,kind,message", [
    ("Demo", "source", "use lower-case letters, digits and hyphens"),
    ("2fast", "sink", "use lower-case letters, digits and hyphens"),
    ("my_hr", "sink", "use lower-case letters, digits and hyphens"),
    ("csv", "source", "a source named 'csv' is installed already (from hrsync-csv-source)"),
])
def test_a_name_hrsync_cannot_use_is_refused(tmp_path, name, kind, message):
    # The csv example is installed with hrsync (make venv): let it be seen, as it would be on a user's machine.
    result = run_cli("plugin", "new", name, "--kind", kind, "--path", str(tmp_path), plugins=(*BUNDLED, "csv"))
    assert result.returncode == EXIT_USAGE and message in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "hrsync-csv").mkdir()
    (tmp_path / "hrsync-csv" / "mine.txt").write_text("keep me")
    result = run_cli("plugin", "new", "csv", "--kind", "sink", "--path", str(tmp_path))
    assert result.returncode == EXIT_USAGE and "exists already; hrsync plugin new never overwrites" in result.stderr
    assert [p.name for p in (tmp_path / "hrsync-csv").iterdir()] == ["mine.txt"]


def test_the_kind_is_required(tmp_path):
    result = run_cli("plugin", "new", "bamboo", "--path", str(tmp_path))
    assert result.returncode == EXIT_USAGE and "--kind" in result.stderr
