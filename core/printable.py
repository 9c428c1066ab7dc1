"""Text from HR data, made safe to print: control characters are shown escaped, never obeyed.

A first name holding a newline could forge a log line ("… CRITICAL …"), an ANSI escape could
rewrite a terminal. Log lines (a logging filter in the CLI) and text reports pass through
:func:`printable`; HTML reports are escaped by Jinja2 instead.
"""

from __future__ import annotations

import logging
import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u2028\u2029]")
_NEWLINES = re.compile(r"[\r\n]")


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with control characters as ``\\x1b``-style escapes (newlines too, unless kept)."""
    def escape(match: re.Match) -> str:
        return match.group(0).encode("unicode_escape").decode("ascii")

    text = _CONTROL.sub(escape, text)
    return text if keep_newlines else _NEWLINES.sub(escape, text)


class PrintableFilter(logging.Filter):
    """A logging filter that escapes control characters in each record's final message: one event, one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = printable(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
