"""Stage 2: one sync of one connection - read, validate and map, plan, guard, apply.

:mod:`.records` and :mod:`.loading` turn the source's records into people (what they need of
marshmallow beyond its public API only through :mod:`.marshmallow_internals`), :mod:`.planner`
decides per person, :mod:`.guards` stop a run that looks like an outage, :mod:`.applier` writes
through the sink (at most :mod:`.writes_in_flight` at once) and records each outcome, and
:mod:`.engine` orchestrates them. Nothing here sends mail or renders a report.
"""
