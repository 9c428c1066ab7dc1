"""Answers of the SCIM sandbox that misbehave in their body, as a broken or hostile server's do.

:func:`lying_list` makes a user list's metadata lie (``totalResults`` smaller than the truth) or
the list miss users (left out, ``totalResults`` to match: nothing on the page gives it away).
:func:`odd_body` sends a GET answer one byte at a time (``trickle_seconds``: a per-read timeout
never fires) and/or after megabytes of whitespace (``padding_mb``; ``inf`` never ends). Each such
answer is counted in :class:`OddAnswers` (sending, completed, cut by the client), so a test can
see that the client gave up while the server was still sending.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

PAD = b" " * 65536


class OddAnswers:
    """How many trickled or padded answers are being sent, were sent whole, or were cut by the client."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sending = self.completed = self.cut = 0

    def count(self, what: str, change: int = 1) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + change)


def lying_list(answer: dict[str, Any], sandbox: Any) -> None:
    """Apply the list faults (``total_results_off_by``, ``hidden_from_lists``) to a ListResponse, in place."""
    faults = sandbox.faults
    hidden = faults.hidden_from_lists
    if hidden:
        resources = answer["Resources"]
        answer["Resources"] = [r for r in resources if str(r.get("userName", "")).lower() not in hidden]
        held = sum(1 for u in sandbox.users() if u["userName"].lower() in hidden)
        answer["totalResults"] = max(0, int(answer.get("totalResults", 0)) - held)
        if "itemsPerPage" in answer:
            answer["itemsPerPage"] = len(answer["Resources"])
    if faults.total_results_off_by:
        answer["totalResults"] = max(0, int(answer.get("totalResults", 0)) - faults.total_results_off_by)


def odd_body(start_response, headers: list[tuple[str, str]], answer: Any, sandbox: Any) -> Iterator[bytes]:
    """Start a 200 answer and return its body: padded and/or trickled as the faults say."""
    faults, odd = sandbox.faults, sandbox.odd_answers
    payload = b"" if answer is None else json.dumps(answer).encode()
    pad = faults.padding_mb
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    if not math.isinf(pad):  # an endless body has no length: it ends when the connection does
        headers.append(("Content-Length", str(len(payload) + int(pad * 1_000_000))))
    start_response("200 OK", headers)

    def body() -> Iterator[bytes]:
        odd.count("sending")
        whole = False
        try:
            left = pad * 1_000_000
            while left > 0:
                chunk = PAD[:int(min(left, len(PAD)))] if not math.isinf(left) else PAD
                left -= len(chunk)
                yield chunk
            if faults.trickle_seconds:
                for byte in payload:
                    time.sleep(faults.trickle_seconds)  # the misbehaviour itself: a byte now and then
                    yield bytes([byte])
            else:
                yield payload
            whole = True
        finally:
            odd.count("sending", -1)
            odd.count("completed" if whole else "cut")

    return body()
