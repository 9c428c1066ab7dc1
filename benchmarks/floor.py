"""The floor: the HTTP calls an hrsync run made, replayed with plain ``requests`` and nothing else.

From the sandboxes' request logs of an hrsync run (method, path, query, body), the same
calls go to the sandboxes reset to the same starting state: Personio's (its own token first),
then SCIM's. ``in_flight`` 1 replays them one after the other on one ``requests.Session``;
a larger ``in_flight`` replays the SCIM writes (from the first write on) on a thread pool of
that size, one session per thread - the reads before them stay sequential, as in hrsync.
hrsync's wall time over the floor's is the cost of everything hrsync does besides HTTP.

Runs in a child process (:mod:`benchmarks.child`); every answer must have the status the
hrsync run got, or the replay did not do the same work.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from .counts import WRITES

SCIM_JSON = "application/scim+json"


class _Replay:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.local = threading.local()
        self.mismatches: list[str] = []

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.headers.update({"Authorization": f"Bearer {self.spec['scim_token']}",
                                               "Accept": SCIM_JSON, "Content-Type": SCIM_JSON})
        return self.local.session

    def check(self, entry: dict[str, Any], status: int) -> None:
        if status != entry["status"]:
            self.mismatches.append(f"{entry['method']} {entry['path']}: {status}, hrsync got {entry['status']}")

    def personio(self) -> None:
        session = requests.Session()
        session.headers.update({"X-Personio-App-ID": "HRSYNC", "Accept": "application/json"})
        for entry in self.spec["personio_log"]:
            url = f"{self.spec['personio_root']}{entry['path']}" + (f"?{entry['query']}" if entry["query"] else "")
            if entry["method"] == "POST":
                response = session.post(url, json={"client_id": self.spec["personio_id"],
                                                   "client_secret": self.spec["personio_secret"]})
                session.headers["Authorization"] = f"Bearer {response.json()['data']['token']}"
            else:
                response = session.request(entry["method"], url)
                response.json()
            self.check(entry, response.status_code)
        session.close()

    def scim(self, entry: dict[str, Any]) -> None:
        url = f"{self.spec['scim_root']}{entry['path']}" + (f"?{entry['query']}" if entry["query"] else "")
        data = None if entry["body"] is None else json.dumps(entry["body"])
        response = self.session().request(entry["method"], url, data=data)
        if response.content:
            response.json()
        self.check(entry, response.status_code)

    def run(self) -> None:
        self.personio()
        log = self.spec["scim_log"]
        first_write = next((i for i, e in enumerate(log) if e["method"] in WRITES), len(log))
        for entry in log[:first_write]:
            self.scim(entry)
        if self.spec["in_flight"] <= 1:
            for entry in log[first_write:]:
                self.scim(entry)
        else:
            with ThreadPoolExecutor(self.spec["in_flight"]) as pool:
                list(pool.map(self.scim, log[first_write:]))


def run(spec: dict[str, Any]) -> dict[str, Any]:
    replay = _Replay(spec)
    started = time.perf_counter()
    replay.run()
    return {"wall_s": time.perf_counter() - started, "mismatches": replay.mismatches[:5],
            "mismatch_count": len(replay.mismatches)}
