"""Reading SCIM answers tolerantly, as RFC 7643 allows and real servers send them.

Attribute names are case-insensitive (RFC 7643 §2.1: Winningtemp writes ``Name.GivenName``,
``ExternalId``), booleans may come back as ``"True"``/``"False"`` strings (Entra-style
servers), and e-mails may lack ``type`` or ``primary``. Rate-limit headers come as
Winningtemp documents them (``X-RateLimit-Reset`` an ISO-8601 UTC timestamp with 7
fractional digits) or as epoch or delta seconds. Pure functions, no HTTP.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any


def get(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]`` with the attribute name matched case-insensitively (RFC 7643 §2.1)."""
    if not isinstance(obj, Mapping):
        return default
    if name in obj:
        return obj[name]
    wanted = name.lower()
    return next((value for key, value in obj.items() if isinstance(key, str) and key.lower() == wanted), default)


def get_path(obj: Any, path: str, default: Any = None) -> Any:
    """A dotted path (``name.givenName``), each step case-insensitive."""
    for step in path.split("."):
        obj = get(obj, step)
        if obj is None:
            return default
    return obj


def as_bool(value: Any, default: bool | None = None) -> bool | None:
    """A SCIM boolean, also when a server sends ``"True"``/``"false"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return default


def primary_email(user: Mapping[str, Any]) -> str | None:
    """The address Winningtemp documents as the user's: ``emails[primary eq true]``, else the work one,
    else the first, else the ``userName``."""
    emails = [e for e in get(user, "emails") or [] if isinstance(e, Mapping) and get(e, "value")]
    chosen = (next((e for e in emails if as_bool(get(e, "primary")) is True), None)
              or next((e for e in emails if str(get(e, "type") or "").lower() == "work"), None)
              or (emails[0] if emails else None))
    value = get(chosen, "value") if chosen else get(user, "userName")
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def reset_delay(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds until a rate-limit window resets, from ``X-RateLimit-Reset``.

    Accepts an ISO-8601 timestamp (``2026-02-27T10:48:31.9817984Z``, as Winningtemp
    documents), epoch seconds, or a delay in seconds. None when absent or unreadable.
    """
    if not value or not value.strip():
        return None
    now = time.time() if now is None else now
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)  # Winningtemp's resets are UTC
        return max(0.0, moment.timestamp() - now)
    # Epoch timestamps are large; small numbers are a delay.
    return max(0.0, number - now) if number > 1e9 else max(0.0, number)


def remaining(value: str | None) -> int | None:
    """``X-RateLimit-Remaining`` as an integer, or None."""
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None
