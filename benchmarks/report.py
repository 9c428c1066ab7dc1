"""The benchmark's output: Markdown tables (stdout, and docs/performance.md) and the JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .targets import Target


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _floor(row: dict[str, Any], key: str) -> tuple[str, str]:
    floor = row.get(key)
    if floor is None:
        return "—", "—"
    flag = "" if not floor["mismatches"] else f" ({floor['mismatches']} answers differed)"
    return _s(floor["wall_s"]) + flag, f"{floor['ratio']:.2f}×"


def sync_table(rows: list[dict[str, Any]]) -> str:
    header = ["scenario", "people", "latency", "hrsync s", "people/s", "floor seq s", "× seq",
              "floor k in flight s", "× k", "in flight 1 s", "speed-up", "SCIM reads/writes", "Personio reqs",
              "exact min", "RSS MB"]
    out = []
    for r in rows:
        seq, pool = _floor(r, "floor_seq"), _floor(r, "floor_pool")
        one = r.get("sequential_apply")
        personio = sum(v for k, v in r["requests"].items() if k.startswith("personio "))
        out.append([r["scenario"], f"{r['people']:,}", f"{r['latency_ms']} ms", _s(r["wall_s"]),
                    f"{r['people_per_s']:,.0f}", seq[0], seq[1], pool[0] + f" (k={r['in_flight']})", pool[1],
                    _s(one["wall_s"]) if one else "—", f"{one['speedup']:.2f}×" if one else "—",
                    f"{r['scim_reads']}/{r['scim_writes']}", str(personio),
                    "yes" if r["exact"] else "NO", f"{r['rss_mb']:.0f}"])
    return _table(header, out)


def engine_table(rows: list[dict[str, Any]]) -> str:
    return _table(["scenario", "people", "s (fastest)", "all runs s", "people/s", "µs/person", "sink writes", "RSS MB"],
                  [[r["scenario"], f"{r['people']:,}", _s(r["wall_s"]),
                    " ".join(_s(w) for w in r.get("walls_s", [r["wall_s"]])), f"{r['people_per_s']:,.0f}",
                    f"{r['us_per_person']:.0f}", str(r["sink_writes"]), f"{r['rss_mb']:.0f}"] for r in rows])


def tenants_table(rows: list[dict[str, Any]]) -> str:
    return _table(["cycle", "tenants × people", "processes", "max_concurrent", "s", "tenants/h", "CPU ms/tenant",
                   "sandboxes' CPU ms/tenant", "runs", "RSS MB"],
                  [[r["scenario"], f"{r['tenants']} × {r['people']}", str(r["processes"]), str(r["max_concurrent"]),
                    _s(r["wall_s"]), f"{r['tenants_per_hour']:,.0f}", f"{r['cpu_ms_per_tenant']:,.0f}",
                    f"{r['sandbox_cpu_ms_per_tenant']:,.0f}",
                    ", ".join(f"{v} {k}" for k, v in sorted(r["statuses"].items())), f"{r['rss_mb']:.0f}"]
                   for r in rows])


def pacing_table(rows: list[dict[str, Any]]) -> str:
    return _table(["scenario", "people", "page size", "requests (minimum)", "429s", "s", "RSS MB"],
                  [[r["scenario"], f"{r['people']:,}", str(r["page_size"]), f"{r['requests']} ({r['minimum']})",
                    str(r["personio_429"]), _s(r["wall_s"]), f"{r['rss_mb']:.0f}"] for r in rows])


def state_table(rows: list[dict[str, Any]]) -> str:
    config = [r for r in rows if r["scenario"] == "config CPU"]
    locks = [r for r in rows if r["scenario"] != "config CPU"]
    return "\n\n".join([
        _table(["connections", "CPU s, `run NAME` (fastest of 3)", "CPU s, every connection (`check`)"],
               [[f"{r['connections']:,}", f"{r['one_cpu_s']:.3f}", f"{r['all_cpu_s']:.1f}"] for r in config]),
        _table(["state", "tenants × people", "concurrent", "s", "transactions", "waited", "lock waits s",
                "longest s", "taking the lock s"],
               [[r["layout"], f"{r['tenants']} × {r['people']}", str(r["concurrent"]), _s(r["wall_s"]),
                 f"{r['transactions']:,}", f"{r['waited']:,}", f"{r['lock_wait_s']:.2f}",
                 f"{r['longest_wait_s']:.3f}", f"{r['taking_s']:.2f}"] for r in locks])])


def targets_table(targets: list[Target]) -> str:
    return _table(["target", "measured", "result"], [[t.name, t.measured, t.verdict] for t in targets])


def render(results: dict[str, Any], targets: list[Target]) -> str:
    m = results["machine"]
    parts = [f"Machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, {m['platform']}; "
             f"{results['started']}; `{results['command']}`; {results['total_s']:.0f} s in all."]
    sections = (("Sandboxed runs: Personio sandbox → scim2-server (hrsync vs the floor)", "sync", sync_table),
                ("Engine only: in-memory source and sink", "engine", engine_table),
                ("Many tenants: one daemon at 50 ms, one cycle", "tenants", tenants_table),
                ("Personio pacing: rate limits on", "pacing", pacing_table),
                ("Many connections: config CPU of one run, lock waits", "state", state_table))
    for title, key, table in sections:
        if results.get(key):
            parts += [f"### {title}", table(results[key])]
    parts += ["### Targets", targets_table(targets)]
    return "\n\n".join(parts) + "\n"


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")
