"""Secrets in configuration: where they come from, and how they are kept out of sight.

A secret setting is declared in a plugin's ConfigSchema with :func:`SecretField`.
In hosts.yaml it is written as a reference, never inline:

* ``${ENV_VAR}`` - the value of an environment variable;
* ``{file: /run/secrets/name}`` - the contents of a file (trailing newline removed).

The loaded value is a :class:`Secret`, whose ``repr``/``str`` never show the value.
Every resolved value is also remembered by :data:`REDACTOR`, whose logging filter
masks it in any log line, so a secret echoed by a server in an error still stays hidden.

``hrsync check --offline`` (and shell completion) load hosts.yaml inside :func:`unresolved_secrets`: a
reference checks as a reference, and a value that is not on this machine (a variable unset in CI) is a note;
so is a file that only connecting reads (:class:`LocalFileField`, e.g. an SSH known_hosts file).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from marshmallow import ValidationError, fields

ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}\Z")
MASK = "***"


class Secret:
    """A value that must never be printed. Call :meth:`reveal` at the point of use."""

    __slots__ = ("_value", "origin")
    _value: str
    #: Where the value came from (``env:NAME``, ``file:PATH``), never the value itself.
    origin: str

    def __init__(self, value: str, origin: str = "value") -> None:
        self._value = value
        self.origin = origin
        REDACTOR.remember(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.origin}={MASK})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class Redactor:
    """Remembers secret values and masks them in text. Thread-safe."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, value: str) -> None:
        # Very short values would mask ordinary words; they are still hidden by Secret. Escaped and
        # encoded forms are remembered too: a secret can come back quoted by repr, JSON or a URL.
        if len(value) >= 4:
            forms = {value, value.encode("unicode_escape").decode("ascii"), json.dumps(value)[1:-1],
                     quote(value, safe=""), repr(value)[1:-1]}
            with self._lock:
                self._values.update(f for f in forms if len(f) >= 4)

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def filter(self) -> logging.Filter:
        """A logging filter that masks remembered secrets in each record's final message."""
        redactor = self

        class _RedactingFilter(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                message = record.getMessage()
                cleaned = redactor.redact(message)
                if cleaned != message:
                    record.msg, record.args = cleaned, None
                return True

        return _RedactingFilter()


REDACTOR = Redactor()


def _checked(value: str, where: str) -> str:
    """A secret with a line break or another control character would corrupt a header and leak."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{where} holds a line break or another control character; remove it "
                         "(the value itself is not shown).")
    return value


#: The notes of the :func:`unresolved_secrets` block being run, or None outside one.
_UNRESOLVED: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("hrsync_unresolved", default=None)


@contextlib.contextmanager
def unresolved_secrets() -> Iterator[list[str]]:
    """Within the block, a well-formed reference whose value is not here - a variable unset or empty, a file
    that cannot be read - loads as an empty :class:`Secret`; the list yielded collects what each one lacks."""
    notes: list[str] = []
    token = _UNRESOLVED.set(notes)
    try:
        yield notes
    finally:
        _UNRESOLVED.reset(token)


def _unavailable(value: object) -> tuple[str, str] | None:
    """Why a well-formed reference's value is not on this machine, and where it would come from; else None."""
    if isinstance(value, dict) and set(value) == {"env"}:
        value = "${" + str(value["env"]) + "}"
    if isinstance(value, str) and (match := ENV_REFERENCE.match(value.strip())):
        name = match.group(1)
        return (None if os.environ.get(name) else
                (f"environment variable {name} is {'empty' if name in os.environ else 'not set'}", f"env:{name}"))
    if isinstance(value, dict) and set(value) == {"file"}:
        path = Path(str(value["file"])).expanduser()
        return None if os.access(path, os.R_OK) and path.is_file() else (f"secret file {path} cannot be read",
                                                                          f"file:{path}")
    return None


def resolve_reference(value: object) -> Secret:
    """Turn a hosts.yaml secret reference into a :class:`Secret`; ``ValueError`` says what is wrong."""
    if isinstance(value, str):
        match = ENV_REFERENCE.match(value.strip())
        if not match:
            raise ValueError(
                "Write secrets as a reference, not inline: ${ENV_VAR} or {file: PATH}."
            )
        name = match.group(1)
        if name not in os.environ:
            raise ValueError(f"Environment variable {name} is not set.")
        if not os.environ[name]:
            raise ValueError(f"Environment variable {name} is empty.")
        return Secret(_checked(os.environ[name], f"Environment variable {name}"), origin=f"env:{name}")
    if isinstance(value, dict) and set(value) == {"file"}:
        path = Path(str(value["file"])).expanduser()
        try:
            content = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ValueError(f"Cannot read secret file {path}: {exc.strerror}.") from None
        if not content:
            raise ValueError(f"Secret file {path} is empty.")
        return Secret(_checked(content, f"Secret file {path}"), origin=f"file:{path}")
    if isinstance(value, dict) and set(value) == {"env"}:
        return resolve_reference("${" + str(value["env"]) + "}")
    raise ValueError("Expected ${ENV_VAR}, {env: NAME} or {file: PATH}.")


#: What ``SecretField(charset=…)`` can require, and how a refusal explains it. HTTP header values (a bearer
#: token) carry visible ASCII only: ``http.client`` encodes them as Latin-1, and its error quotes the character
#: and its position - a piece of the secret - which would end up in the report.
CHARSETS = {"visible-ascii": (lambda c: "!" <= c <= "~",
                              "a character an HTTP header cannot carry: use it exactly as issued (visible ASCII "
                              "letters, digits and punctuation, no spaces)")}


class SecretField(fields.Field):
    """A marshmallow field for a secret setting: loads a reference, dumps a mask.

    ``charset="visible-ascii"`` refuses, on load, a value the protocol cannot carry (HTTP header tokens), with a
    message that names where the value came from and never quotes it, nor any character of it.
    """

    def __init__(self, *, charset: str | None = None, **kwargs: Any) -> None:
        metadata = dict(kwargs.pop("metadata", {}) or {})
        metadata["secret"] = True
        super().__init__(metadata=metadata, **kwargs)
        self.charset = CHARSETS[charset] if charset else None

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        # Ahead of every subclass's own reading: offline, a value that is not here is a note, not an error.
        notes = _UNRESOLVED.get()
        if notes is not None and (missing := _unavailable(value)) is not None:
            notes.append(f"{attr}: {missing[0]}; a run needs it")
            return Secret("", origin=missing[1])
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> Secret:
        if isinstance(value, Secret):
            return value
        try:
            secret = resolve_reference(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if self.charset is not None and not all(map(self.charset[0], secret.reveal())):
            kind, _, where = secret.origin.partition(":")
            source = f"Environment variable {where}" if kind == "env" else f"Secret file {where}"
            raise ValidationError(f"{source} holds {self.charset[1]}; the value itself is not shown.")
        return secret

    def _serialize(self, value, attr, obj, **kwargs) -> str | None:
        return None if value is None else MASK


class LocalFileField(fields.String):
    """A setting naming a local file that only connecting reads (an SSH known_hosts file): it loads as a
    :class:`~pathlib.Path`, ``~`` expanded. A file that is not there is an error - ``No file PATH``, then
    ``hint``, what to do - except within :func:`unresolved_secrets` (``hrsync check --offline``), where it is a
    note, as a secret's missing value is."""

    def __init__(self, *, hint: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hint = hint

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Path:
        written = super()._deserialize(value, attr, data, **kwargs)
        path = Path(written).expanduser()
        if not path.is_file():
            notes = _UNRESOLVED.get()
            if notes is None:
                raise ValidationError(f"No file {written}{': ' + self.hint if self.hint else '.'}")
            notes.append(f"{attr}: file {path} is not there; a run needs it")
        return path
