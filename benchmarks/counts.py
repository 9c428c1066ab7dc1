"""Requests per endpoint, from the sandboxes' logs, and the exact minimum a run needs.

The minimum comes from the data and the scenario alone, never from what hrsync planned:

* Personio: 1 auth + 1 attribute list + ⌈N/100⌉ pages of 100 (no lookups: nobody goes missing);
* SCIM: the discovery GETs (``/ServiceProviderConfig``, ``/ResourceTypes``; ``/Schemas`` only when
  an extension is advertised, which the documented profile does not), ⌈held/100⌉ list pages (at
  least 1) when the run lists the sink - a first run with unlinked people - then one POST per
  person the sink should hold but does not, one PATCH per person whose data differs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

WRITES = ("POST", "PATCH", "PUT", "DELETE")
DISCOVERY = ("GET /ServiceProviderConfig", "GET /ResourceTypes")


def endpoint(entry: dict[str, Any], prefix: str) -> str:
    """``METHOD /path`` with ids as ``{id}``, the service's base path dropped; list and lookup told apart."""
    path = entry["path"].removeprefix(prefix)
    path = re.sub(r"^/Users/[^/]+", "/Users/{id}", path)
    path = re.sub(r"^/company/employees/\d+", "/company/employees/{id}", path)
    if entry["method"] == "GET" and path == "/Users":
        path += "?filter" if "filter=" in entry.get("query", "") else " (list)"
    return f"{entry['method']} {path}"


def tally(personio_log: list[dict[str, Any]], scim_log: list[dict[str, Any]]) -> dict[str, int]:
    counts = Counter(f"personio {endpoint(e, '/v1')}" for e in personio_log)
    counts.update(f"scim {endpoint(e, '/v2')}" for e in scim_log)
    return dict(sorted(counts.items()))


def minimum(people: int, *, listed: int | None, creates: int = 0, patches: int = 0) -> dict[str, int]:
    """The exact minimum; ``listed`` is how many users the sink holds when the run lists it (None: no listing)."""
    expected = {"personio POST /auth": 1, "personio GET /company/employees/attributes": 1,
                "personio GET /company/employees": math.ceil(people / 100)}
    expected.update({f"scim {d}": 1 for d in DISCOVERY})
    if listed is not None:
        expected["scim GET /Users (list)"] = max(1, math.ceil(listed / 100))
    if creates:
        expected["scim POST /Users"] = creates
    if patches:
        expected["scim PATCH /Users/{id}"] = patches
    return dict(sorted(expected.items()))


def scim_split(counts: dict[str, int]) -> tuple[int, int]:
    """(reads, writes) among the SCIM requests."""
    scim = {k.removeprefix("scim "): v for k, v in counts.items() if k.startswith("scim ")}
    writes = sum(v for k, v in scim.items() if k.split()[0] in WRITES)
    return sum(scim.values()) - writes, writes


def status_count(log: list[dict[str, Any]], status: int) -> int:
    return sum(1 for e in log if e["status"] == status)
