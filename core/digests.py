"""Keyed hashes of sensitive values, so the state can diff birthdays and genders without storing them.

Data flow: the planner compares a desired sensitive value with the digest the state
kept from the last applied one; the applier stores digests, never values. The key is a
separate file beside the state database (``<state>.key``, mode 0600), so the state file
alone reveals nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class Digests:
    """HMAC-SHA256 digests under one secret key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def beside(cls, state_path: Path, *, create: bool) -> Digests:
        """The digests keyed by ``<state>.key``; created when missing and ``create``, else a throw-away key."""
        key_path = state_path.with_name(state_path.name + ".key")
        if key_path.exists():
            return cls(bytes.fromhex(key_path.read_text().strip()))
        key = secrets.token_bytes(32)
        if create:
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(key.hex())
        return cls(key)

    def digest(self, value: Any) -> str:
        """Equal values give equal digests, and nothing else leaks."""
        payload = json.dumps(value, sort_keys=True, default=str).encode()
        return "hmac:" + hmac.new(self._key, payload, hashlib.sha256).hexdigest()[:32]

    def protect(self, values: dict[str, Any], sensitive: Iterable[str]) -> dict[str, Any]:
        """``values`` with each sensitive one replaced by its digest."""
        sensitive = set(sensitive)
        return {k: (self.digest(v) if k in sensitive and v is not None else v) for k, v in values.items()}
