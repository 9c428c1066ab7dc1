"""Personio pacing: a source read from the Personio sandbox with its rate limits on, counting 429s.

The sandbox enforces Personio's documented limits (bursts of 15 requests per second, 300 per
minute, answered 429 without headers); hrsync's client paces itself (defaults 14/s and 290/min).
One dry run of hrsync reads 40,000 people at ``page_size`` 100 (the issue's figure): 402 requests,
more than one minute's 300, so both windows are exercised - a client pacing bursts only would be
refused at request 301. It spends most of its 70 s waiting; ``make bench`` still runs it on its own,
after the sandboxed scenarios: its sandbox serves from the benchmark's process, whose GIL theirs share.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hrsync_plugins.personio.sandbox import PersonioSandbox
from hrsync_plugins.winningtemp.sandbox import ScimSandbox

from .child import run_in_child
from .counts import status_count
from .hrsync_run import SECRETS_ENV
from .people import company


def run_read(people: int, page_size: int, folder: Path) -> dict[str, Any]:
    state_dir = folder / "pacing"
    state_dir.mkdir(parents=True)
    with PersonioSandbox(company(people), rate_limit=True) as personio, ScimSandbox() as scim:
        env = {SECRETS_ENV["client_id"]: personio.client_id, SECRETS_ENV["client_secret"]: personio.client_secret,
               SECRETS_ENV["token"]: scim.token}
        result = run_in_child("hrsync", {"state_dir": str(state_dir), "personio_url": personio.url,
                                         "scim_url": scim.url, "source": {"page_size": page_size},
                                         "dry_run": True}, env=env)
        log = list(personio.requests)
    return {"scenario": "paced read", "people": people, "page_size": page_size, "wall_s": result["wall_s"],
            "status": result["status"], "requests": len(log), "minimum": 2 + math.ceil(people / page_size),
            "personio_429": status_count(log, 429), "rss_mb": result["rss_mb"]}
