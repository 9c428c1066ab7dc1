"""Plain words for network failures, so an operator reads the cause, not a stack of wrapped exceptions.

Connectors call :func:`network_cause` when a request fails before any answer: it names
the cause (connection refused, DNS, TLS, timeout) by walking the chain of wrapped
exceptions that requests and urllib3 build; given the timeouts in use, a timeout reads
"no answer within 60 s" (or "no connection within 10 s"), naming what the operator set.
:func:`describe_network_error` adds the URL and, for a request that retried, how many
attempts failed in how long.
"""

from __future__ import annotations

import socket
import ssl


def network_cause(exc: BaseException, timeouts: tuple[float, float] | None = None) -> str:
    """``connection refused``, ``DNS: host not found``, ``TLS: …``, ``timed out``, or the exception's kind.

    With ``timeouts`` (connect, read), a timeout names the limit that ran out: ``no connection within 10 s``
    or ``no answer within 60 s``.
    """
    seen: set[int] = set()
    stack: list[BaseException | object] = [exc]
    names: list[str] = []
    while stack:
        current = stack.pop()
        if id(current) in seen or current is None:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror) or type(current).__name__ == "NameResolutionError":
            return "DNS: host not found"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ssl.SSLError) or type(current).__name__ == "SSLError":
            return f"TLS: {getattr(current, 'reason', None) or 'handshake failed'}"
        if isinstance(current, TimeoutError) or "Timeout" in type(current).__name__:
            return _timed_out(current, timeouts)
        if isinstance(current, BaseException):
            names.append(type(current).__name__)
            stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None),
                          *[a for a in current.args if isinstance(a, BaseException)]])
        text = str(current)
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "nodename nor servname" in text:
            return "DNS: host not found"
    return names[0] if names else "unknown error"


def _timed_out(exc: BaseException, timeouts: tuple[float, float] | None) -> str:
    if timeouts is None:
        return "timed out"
    if "Connect" in type(exc).__name__ or "connect timeout" in str(exc).lower():
        return f"no connection within {timeouts[0]:g} s"
    return f"no answer within {timeouts[1]:g} s"


def describe_network_error(exc: BaseException, url: str, *, seconds: float | None = None, attempts: int = 0,
                           timeouts: tuple[float, float] | None = None) -> str:
    """``<url>: <cause>``, plus how many attempts failed and how long retrying took, when it took a while."""
    tried = f", after trying for {seconds:.0f} s" if seconds is not None and seconds >= 1 else ""
    if attempts > 1:
        tried = f"{tried} ({attempts} attempts)" if tried else f", after {attempts} attempts"
    return f"{url}: {network_cause(exc, timeouts)}{tried}"
