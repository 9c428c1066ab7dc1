"""``hrsync plugin new``: a new plugin distribution, from the templates in ``cli/scaffold/``.

``hrsync plugin new NAME --kind source|sink [--path DIR]`` writes ``DIR/hrsync-NAME/``: setup.cfg
(the ``hrsync`` entry point), pyproject.toml, the package ``hrsync_NAME`` with a connector that
works with no service (a source reading a JSON or CSV file, a sink keeping a JSON file), a test
file that is one call of the harness, and a README. It installs with ``pip install -e`` and
passes its own tests unchanged (tests/test_scaffold.py holds this).
"""

from __future__ import annotations

import re
import string
from importlib import resources
from pathlib import Path

import click

from .. import __version__
from ..errors import HrsyncError
from ..registry import load_plugins
from .common import user_errors

NAME = re.compile(r"[a-z][a-z0-9-]*")
KINDS = ("source", "sink")

#: File written (under hrsync-NAME/) → its template (under cli/scaffold/); ``{kind}`` is source or sink.
FILES = {
    "setup.cfg": "setup.cfg.tmpl",
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "README.md.tmpl",
    "{package}/__init__.py": "__init__.py.tmpl",
    "{package}/plugin.py": "{kind}/plugin.py.tmpl",
    "tests/test_contract.py": "{kind}/test_contract.py.tmpl",
}
#: Only a source's tests read a sample file; a sink's write one in tmp_path.
SAMPLES = {"source": {"tests/people.json": "source/people.json.tmpl"}, "sink": {}}

KIND_WORDS = {
    "source": {
        "what": "it reads people from a JSON or CSV file (`tests/people.json` is a sample)",
        "test_note": " It reads the sample `tests/people.json`.",
        "usage": "    source: {{plugin: {name}, path: /data/people.json}}\n"
                 "    sink: {{plugin: NAME-OF-A-SINK}}     # `hrsync plugins` lists the installed ones",
    },
    "sink": {
        "what": "it keeps people in a JSON file",
        "test_note": " It writes a file in pytest's `tmp_path`, and leaves out the scenarios that need a "
                     "service (answering 429 or 503, refusing one person).",
        "usage": "    source: {{plugin: NAME-OF-A-SOURCE}}  # `hrsync plugins` lists the installed ones\n"
                 "    sink: {{plugin: {name}, path: /data/people.json}}",
    },
}


def requirement(version: str = __version__) -> str:
    """The hrsync versions a new plugin may run on: this minor release and the next, which still imports
    every name this one exports (a rename keeps the old name, deprecated, for one minor release)."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return f">={major}.{minor},<{major}.{minor + 2}"


def words(name: str, kind: str) -> dict[str, str]:
    """What the templates substitute: ``$name``, ``$package``, ``$cls``, …"""
    camel = "".join(part.capitalize() for part in name.split("-") if part)
    kind_word = kind.capitalize()
    cls = camel if camel.endswith(kind_word) else camel + kind_word
    extra = {key: value.format(name=name) for key, value in KIND_WORDS[kind].items()}
    return {"name": name, "kind": kind, "package": "hrsync_" + name.replace("-", "_"),
            "distribution": f"hrsync-{name}", "cls": cls, "title": " ".join(name.split("-")).title(),
            "requires": requirement(), **extra}


def check_name(name: str, kind: str) -> None:
    """A NAME hrsync can use: lower-case letters, digits and hyphens, free among the installed connectors."""
    if not NAME.fullmatch(name):
        raise click.BadParameter(f"{name!r}: use lower-case letters, digits and hyphens, starting with a letter "
                                 "(e.g. bamboo or my-hr)", param_hint="NAME")
    try:
        plugins = load_plugins()
    except HrsyncError:
        return  # a broken installed plugin says so elsewhere; it does not make this name taken
    taken = plugins.sources if kind == "source" else plugins.sinks
    if name in taken:
        info = plugins.plugin_of(taken[name])
        raise click.BadParameter(f"a {kind} named {name!r} is installed already (from {info.distribution}); "
                                 "two plugins cannot register one name", param_hint="NAME")


def write_plugin(name: str, kind: str, parent: Path) -> Path:
    """Write the distribution ``parent/hrsync-NAME``; returns its folder. Refuses a folder that exists."""
    values = words(name, kind)
    target = parent / values["distribution"]
    if target.exists():
        raise click.BadParameter(f"{target} exists already; hrsync plugin new never overwrites", param_hint="--path")
    templates = resources.files(__package__) / "scaffold"
    files = {path.format(**values): template.format(**values)
             for path, template in {**FILES, **SAMPLES[kind]}.items()}
    texts = {path: string.Template((templates / template).read_text(encoding="utf-8")).substitute(values)
             for path, template in files.items()}
    target.mkdir(parents=True)
    for path, text in texts.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(text, encoding="utf-8")
    return target


@click.group()
def plugin() -> None:
    """Write hrsync plugins (docs/plugins.md)."""


@plugin.command()
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="A source (an HR system) or a sink (an app).")
@click.option("--path", "parent", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="The folder to write hrsync-NAME/ in.")
@user_errors
def new(name: str, kind: str, parent: Path) -> None:
    """Write a new plugin distribution, hrsync-NAME/, that installs and passes its tests as it is."""
    check_name(name, kind)
    target = write_plugin(name, kind, parent)
    values = words(name, kind)
    click.echo(f"Wrote {target}: the {kind} {values['cls']} in {values['package']}/plugin.py.\n"
               f"Next:\n  cd {target}\n  pip install -e '.[test]'\n  pytest\n"
               "Then make it talk to your service: docs/plugins.md, \"From the stub to a real connector\".")
