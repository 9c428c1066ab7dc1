"""Keyed hashes of sensitive values, so the state can diff birthdays and genders without storing them.

Data flow: the planner compares a desired sensitive value with the digest the state
kept from the last applied one; the applier stores digests, never values. The key is a
separate file beside the state database (``<state>.key``, mode 0600), so the state file
alone reveals nothing.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import RunError

_KEY_HELP = ("Restore it from the backup of {state} (they belong together). If it is lost for good, move {state} "
             "away: the next run starts afresh, links everyone again by e-mail with one listing, and sends "
             "birthdays and genders once more. Nothing was changed.")
PREFIX = "hmac2:"
#: The one encoding digests were ever made from (json.dumps with these options), built once: it runs per value.
_ENCODE = json.JSONEncoder(sort_keys=True, default=str).encode


class Digests:
    """HMAC-SHA256 digests under one secret key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def beside(cls, state_path: Path, *, create: bool, in_use: bool = False) -> Digests:
        """The digests keyed by ``<state>.key``; created when missing and ``create``, else a throw-away key.

        ``in_use``: the state already holds digests. A new key would make every one of them differ and
        re-send everyone's birthday and gender, so a missing or broken key is refused instead.
        """
        key_path = state_path.with_name(state_path.name + ".key")
        if key_path.exists():
            text = key_path.read_text().strip()
            try:
                key = bytes.fromhex(text)
            except ValueError:
                key = b""
            if len(key) < 16:
                return Refused(f"The key file {key_path} is {'empty' if not text else 'not a valid key'}. "
                               + _KEY_HELP.format(key=key_path, state=state_path))
            return cls(key)
        if in_use:
            return Refused(f"The key file {key_path} is missing, but {state_path} holds values hashed with it. "
                           + _KEY_HELP.format(key=key_path, state=state_path))
        key = secrets.token_bytes(32)
        if create:
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(key.hex())
        return cls(key)

    def digest(self, value: Any, person: str) -> str:
        """A digest of one person's value. Keyed per person, so equal values of two people do not look
        equal: one known person's gender never reveals everyone else's."""
        return f"{PREFIX}{self._hmac([person, value])}"

    def matches(self, stored: Any, value: Any, person: str) -> bool:
        """Whether ``stored`` (a digest kept in the state) is the digest of ``value`` for ``person``."""
        return isinstance(stored, str) and stored.startswith(PREFIX) and \
            hmac.compare_digest(stored, self.digest(value, person))

    def protect(self, values: dict[str, Any], sensitive: Iterable[str], person: str) -> dict[str, Any]:
        """``values`` with each sensitive one replaced by its digest for ``person``."""
        sensitive = set(sensitive)
        return {k: (self.digest(v, person) if k in sensitive and v is not None else v) for k, v in values.items()}

    def _hmac(self, payload: Any) -> str:
        data = _ENCODE(payload).encode()
        return hmac.digest(self._key, data, "sha256").hex()[:32]  # the one-shot form: same bytes, faster


class Refused(Digests):
    """Digests whose key is missing or broken: harmless until used, then the run stops with ``message``
    (commands that only read history, such as ``hrsync runs``, keep working)."""

    def __init__(self, message: str) -> None:
        super().__init__(b"")
        self.message = message

    def _hmac(self, payload: Any) -> str:
        raise RunError(self.message)
