"""Each measured run in its own process, so that its peak RSS is its own and scenarios don't pollute each other.

The parent calls :func:`run_in_child` with a task name and a JSON-able spec; the child
(``python -m benchmarks.child TASK SPEC_FILE``) runs the task - an hrsync run on the
sandboxes, a floor replay, an engine-only run, a daemon cycle - and writes its result,
with its own wall time and peak RSS, to ``SPEC_FILE.out``. The sandboxes
stay in the parent: a child's figures are the client's alone.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: task name → "module:function" taking the spec and returning a dict of results.
TASKS = {
    "hrsync": "benchmarks.hrsync_run:run",
    "floor": "benchmarks.floor:run",
    "engine": "benchmarks.engine:run",
    "tenants": "benchmarks.tenants:run",
    "state-config": "benchmarks.state_files:config_cpu",
    "state-locks": "benchmarks.state_files:lock_waits",
}


class ChildFailed(RuntimeError):
    pass


def run_in_child(task: str, spec: dict[str, Any], *, env: dict[str, str] | None = None,
                 timeout: float = 1800) -> dict[str, Any]:
    """Run ``task`` in a fresh Python process; its result, plus ``rss_mb`` (the child's peak RSS)."""
    with tempfile.TemporaryDirectory(prefix="hrsync-bench-child-") as folder:
        spec_file = Path(folder) / "spec.json"
        spec_file.write_text(json.dumps(spec))
        done = subprocess.run([sys.executable, "-m", "benchmarks.child", task, str(spec_file)], cwd=ROOT,
                              env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout)
        out = spec_file.with_suffix(".out")
        if done.returncode != 0 or not out.exists():
            raise ChildFailed(f"benchmark task {task} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
        return json.loads(out.read_text())


def peak_rss_mb() -> float:
    """This process's peak RSS since its ``exec``: ``VmHWM``. (``ru_maxrss`` would not do: Linux carries the
    parent's high-water mark into a child started by fork or vfork, so it would report the parent's size.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status: the benchmarks measure memory on Linux only")


#: Tasks that stand for an ``hrsync`` process: they set the process up as the command does.
HRSYNC_TASKS = {"hrsync", "engine", "tenants", "state-config", "state-locks"}


def main() -> None:
    task, spec_file = sys.argv[1], Path(sys.argv[2])
    if task in HRSYNC_TASKS:
        from hrsync.sync.engine import tune_collector  # here: a floor's figures must not carry hrsync's imports

        tune_collector()
    module, function = TASKS[task].split(":")
    result = getattr(importlib.import_module(module), function)(json.loads(spec_file.read_text()))
    result["rss_mb"] = peak_rss_mb()
    spec_file.with_suffix(".out").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
