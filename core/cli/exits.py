"""The ``hrsync`` command's exit codes: one per outcome, as :data:`hrsync.errors.EXIT_CODES` lists them.

Every command ends through here: an :class:`~hrsync.errors.HrsyncError` exits with its ``exit_code``
(:func:`hrsync.cli.common.user_errors`), click's own usage errors (an unknown option, a missing argument)
with :data:`~hrsync.errors.EXIT_USAGE` instead of click's 2, which hrsync keeps for a stopped run; ``run``
ends with :func:`hrsync.service.runner.run_exit_code`. ``--help`` shows the table (:func:`exit_codes_epilog`).
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from typing import Any

import click

from ..errors import EXIT_CODES, EXIT_USAGE


@contextlib.contextmanager
def _usage_exit() -> Iterator[None]:
    try:
        yield
    except click.UsageError as exc:  # BadParameter, NoSuchOption, MissingParameter… are usage errors too
        exc.exit_code = EXIT_USAGE
        raise


class HrsyncGroup(click.Group):
    """The ``hrsync`` group: click's usage errors, at any depth of subcommands, exit with EXIT_USAGE."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with _usage_exit():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _usage_exit():
            return super().invoke(ctx)


def exit_codes_epilog() -> str:
    """The exit-code table for ``--help`` (``\\b``: click keeps the lines as they are)."""
    lines = ["\b", "Exit codes:"]
    for code, meaning in EXIT_CODES.items():
        lines += textwrap.wrap(meaning, width=78, initial_indent=f"  {code:<4} ", subsequent_indent=" " * 7)
    return "\n".join(lines)
