"""Run reports rendered for people: text, HTML, JSON (and, through :mod:`hrsync.report.mail`, e-mail).

Data flow: a :class:`~hrsync.results.RunReport` (from the engine, or loaded from the state) is laid out by
:mod:`.view` (in the words of :mod:`.words`) and rendered with the Jinja2 templates in ``templates/`` (HTML
autoescaped), for ``hrsync run``, ``hrsync report RUN_ID`` and the report e-mail. Values are never re-read
from elsewhere, so a report shows exactly what the state may keep: public changes only, sensitive fields as
"changed".
"""

from __future__ import annotations

import functools
import json
import shlex
import textwrap
from pathlib import Path

import jinja2

from ..config.load import DEFAULT_CONFIG
from ..printable import printable
from ..results import RunReport
from ..secrets import REDACTOR
from .view import view
from .words import banner, local_time, subject

__all__ = ["DEFAULT_LIMIT", "banner", "local_time", "render_html", "render_json", "render_text", "subject"]

#: Lines per list shown by ``hrsync run``; ``hrsync report N`` shows every line, the e-mail attaches them.
DEFAULT_LIMIT = 50


@functools.cache
def _environment(autoescape: bool) -> jinja2.Environment:
    # Built once per process (with its compiled templates): rebuilding it cost a quarter of a no-change run's CPU.
    # Text reports reach terminals: every value from HR data is shown with its control characters escaped.
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("hrsync.report", "templates"),
        autoescape=autoescape,
        finalize=None if autoescape else (lambda value: printable(value) if isinstance(value, str) else value),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    # Plain-text mail clients show long lines as they come: sentences are wrapped, one printed line at a time.
    environment.filters["wrapped"] = lambda text, width=96: textwrap.wrap(text, width) or [""]
    return environment


def report_command(report: RunReport, config: Path | None, *options: str) -> str:
    """The command that shows (or, with ``--send``, sends) this run's report from the same hosts.yaml; it names
    the connection, since with a state file per connection two connections may have a run of one number."""
    command = "hrsync" if config is None or Path(config) == Path(DEFAULT_CONFIG) else \
        f"hrsync --config {shlex.quote(str(config))}"
    if report.run_id:
        return " ".join([command, "report", str(report.run_id), "--connection", shlex.quote(report.connection),
                         *options])
    return f"{command} run {shlex.quote(report.connection)} --dry-run --json"


def render_text(report: RunReport, *, limit: int = DEFAULT_LIMIT, attachment: str = "",
                config: Path | None = None) -> str:
    """Plain-text report of a run (or of a plan, for ``--dry-run``); ``attachment`` names the e-mail's CSV;
    ``config``, the hosts.yaml the run read, goes into the command that shows the whole list."""
    shown = view(report, limit=limit, attachment=attachment, pointer=report_command(report, config))
    return REDACTOR.redact(_environment(False).get_template("report.txt.j2").render(r=shown))


def render_html(report: RunReport, *, limit: int = DEFAULT_LIMIT, attachment: str = "",
                config: Path | None = None) -> str:
    """HTML report (autoescaped: names and messages from HR data are never markup)."""
    shown = view(report, limit=limit, attachment=attachment, pointer=report_command(report, config))
    return REDACTOR.redact(_environment(True).get_template("report.html.j2").render(r=shown))


def render_json(report: RunReport) -> str:
    return REDACTOR.redact(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str))
