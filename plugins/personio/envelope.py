"""Personio's error envelopes, whatever their shape, as one line an operator can read.

Personio documents ``{"success": false, "error": {"code": …, "message": …}}`` (some messages in
German); proxies, gateways and older endpoints answer ``{"error": "…"}``, ``{"message": …}``,
``{"errors": [{"message": …}]}``, a list or plain text. None of them may stop a run with a
traceback: each becomes its message, or the HTTP reason. Pure functions, no requests sent.
"""

from __future__ import annotations

from typing import Any

import requests


def envelope_message(body: Any) -> str | None:
    """The message of Personio's error envelope, whatever its shape: ``{"error": {"message": …}}``, ``{"error":
    "…"}``, ``{"message": …}``, or ``{"errors": [{"message": …}]}``; None when there is none."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("message") or error.get("detail")
    if error is None:
        error = body.get("message")
    if error is None and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        error = first.get("message") if isinstance(first, dict) else first
    if error is None or isinstance(error, (dict, list, bool)):
        return None
    return str(error)[:300] or None


def personio_error(response: requests.Response) -> str:
    """Personio's error message from its envelope (some are German), or the HTTP reason."""
    try:
        message = envelope_message(response.json())
    except ValueError:
        message = None
    return f"HTTP {response.status_code}" + (f": {message}" if message else f" {response.reason}")
