"""The engine: one run of one connection, orchestrated - lock, read, plan, guard, apply, report.

Data flow (docs/architecture.md, "One run"): lock the connection and open a run row → ``open()`` the source
and the sink (they learn what their services support) → ``Source.read()`` →
:mod:`hrsync.sync.records` (validate, scope, map, shape) → :func:`hrsync.sync.guards.check_source_size`
→ list the sink when needed → :mod:`hrsync.sync.planner` → :func:`hrsync.sync.guards.check_deactivations`
→ :mod:`hrsync.sync.applier` (each outcome committed at once) → a :class:`~hrsync.results.RunReport`,
stored with the run. The engine orchestrates; the modules it calls decide about people.

Only run-level faults stop a run (:class:`~hrsync.errors.RunError`); a bad person is skipped or failed, retried.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from ..config.groups import OVERWRITE
from ..config.load import Config, ConnectionConfig
from ..connectors import RunContext, Sink, SinkPerson, Source
from ..errors import ListingRefused, RunError, UsageError, crash_site, unexpected_error
from ..plan import CREATE, Plan
from ..registry import Plugins
from ..results import INTERRUPTED, OK, PARTIAL, STOPPED, RunReport, build_report
from ..state.locking import is_locked, locked_message
from ..state.places import open_connection_state
from ..state.storage import storage_error
from ..state.store import Link, State, now
from . import guards
from .applier import Applier
from .group_applier import GroupApplier, planned_lines
from .groups import GroupPlan, plan_groups
from .intents import resolve_intents
from .planner import Planner, confirm_missing, needs_listing
from .records import Person, RecordValidator
from .review import left_alone, review
from .snapshot import SnapshotStage, keep_for_snapshot
from .writes_in_flight import InFlightLimit

log = logging.getLogger("hrsync.sync.engine")


@dataclass
class RunOptions:
    dry_run: bool = False
    full: bool = False
    only: str | None = None
    override_guards: bool = False
    #: Checked between people; when it returns True the run stops after the writes in flight.
    should_stop: Callable[[], bool] = lambda: False
    #: Called as ``progress(phase, done, total)``: phase "read" (total None) while the source is read,
    #: then "apply" for each write done.
    progress: Callable[[str, int, int | None], None] | None = None

    @property
    def mode(self) -> str:
        return "dry-run" if self.dry_run else "full" if self.full else "only" if self.only else "normal"


@dataclass
class RunResult:
    """What :func:`sync_connection` returns: the run's report, and the plan it executed (for callers and tests)."""

    report: RunReport
    plan: Plan

    @property
    def status(self) -> str:
        return self.report.status

    @property
    def message(self) -> str:
        return self.report.message

    @property
    def run_id(self) -> int | None:
        return self.report.run_id

    @property
    def exit_code(self) -> int:
        return self.report.exit_code


#: The cyclic garbage collector's thresholds in a process that runs syncs (:func:`tune_collector`).
COLLECTOR_THRESHOLDS = (50_000, 10, 10)


def tune_collector() -> None:
    """Let Python's cyclic garbage collector run less often, for a process that runs syncs.

    A run keeps every person's plan and report line alive until it ends and makes almost no
    reference cycles; with the default thresholds (700, 10, 10) the collector scans that growing
    heap again and again - about a fifth of a first sync's time. The setting is process-wide, so
    the process's entry point calls it (the ``hrsync`` command does), never a library call.
    """
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


def sync_connection(config: Config, name: str, plugins: Plugins, options: RunOptions | None = None, *,
                    state: State | None = None) -> RunResult:
    """One run of one connection. Never raises for run-level faults: the report says what stopped it.

    ``state`` is the caller's open state (the runner keeps it open to record the report's delivery);
    without one the run opens and closes its own.
    """
    options = options or RunOptions()
    conn = config.connection(name)
    if state is None:
        with open_connection_state(config, name, read_only=options.dry_run) as own:
            return sync_connection(config, name, plugins, options, state=own)
    if options.dry_run:
        return _Run(config, conn, plugins, state, options, run_id=None).execute()
    with state.lock(name):
        state.mark_crashed_runs(name)
        run_id = state.start_run(name, options.mode)
        return _Run(config, conn, plugins, state, options, run_id=run_id).execute()


class _Run:
    def __init__(self, config: Config, conn: ConnectionConfig, plugins: Plugins, state: State, options: RunOptions,
                 run_id: int | None) -> None:
        self.conn, self.state, self.options, self.run_id = conn, state, options, run_id
        self.source_cls = plugins.source_class(conn.source.name)
        self.sink_cls = plugins.sink_class(conn.sink.name)
        today = dt.datetime.now(zoneinfo.ZoneInfo(config.timezone)).date()
        self.context = RunContext(conn.name, today=today, stopping=options.should_stop)
        self.sensitive = set(conn.sensitive_fields)
        self.plan = Plan(conn.name, warnings=self.context.warnings, sensitive=self.sensitive)
        self.timezone, self.started_at = config.timezone, now()
        self.first_run = state.last_successful_run(conn.name) is None
        self.sink: Sink | None = None
        self.engine_notices: list[str] = []

    def execute(self) -> RunResult:
        status, message = OK, ""
        try:
            with self.source_cls(self.conn.source.settings, self.context) as source, \
                    self.sink_cls(self.conn.sink.settings, self.context) as self.sink:
                if not self._plan_and_apply(source, self.sink):
                    status = INTERRUPTED
                    message = "Stopped on request before finishing; the next run finishes the work."
        except UsageError:  # e.g. --only with an address nobody has: no run to record or report
            if self.run_id is not None:
                self.state.discard_run(self.run_id)
            raise
        except RunError as exc:
            status, message = STOPPED, str(exc)
            self.plan.stopped = message
            log.error("%s: run stopped: %s", self.conn.name, exc)
        except Exception as exc:  # a plugin bug must still end in a recorded, reported run
            if is_locked(exc) or (refused := storage_error(exc, self.state.path)) is not None:
                status, message = STOPPED, str(refused) if not is_locked(exc) else locked_message(
                    self.state.path, self.state.busy_timeout)
                log.error("%s: run stopped: %s", self.conn.name, message)
            else:
                status, message = STOPPED, unexpected_error(exc)
                log.error("%s: run crashed: %s", self.conn.name, message)
                log.debug("%s: the crash", self.conn.name, exc_info=True)
            self.plan.stopped = message
        if status == OK and (self.plan.attention or self.plan.groups_failed):
            status = PARTIAL
        source = self.source_cls.label()
        report = build_report(self.plan, connection=self.conn.name, status=status, run_id=self.run_id,
                              mode=self.options.mode, message=message, started_at=self.started_at, ended_at=now(),
                              source=source, sink=self.sink_cls.label(), timezone=self.timezone,
                              notices=self._notices(), first_run=self.first_run,
                              **review(self.state, self.plan, self.run_id, self.options.mode, source))
        if self.run_id is not None:
            self.state.finish_run(report)
        return RunResult(report, self.plan)

    def _notices(self) -> list[str]:
        """The sink's lines about what this run asked of it - also when the run stopped after some writes."""
        if self.sink is None:
            return self.engine_notices
        try:
            return self.engine_notices + self.sink.notices(self.plan.counts()["invited"])
        except Exception as exc:  # a report must still be written when a plugin's notices fail
            log.error("%s: the sink's report notices failed (%s; --debug logs more)", self.conn.name, crash_site(exc))
            log.debug("%s: the notices' failure", self.conn.name, exc_info=True)
            return []

    def _plan_and_apply(self, source: Source, sink: Sink) -> bool:
        """Plan, guard and (unless a dry run) apply; False when stopped on request."""
        conn, options = self.conn, self.options
        self.context.wanted_fields = conn.wanted_source_fields(self.source_cls.key_field)
        source.open()
        sink.open()
        unreadable = source.unavailable_fields()
        unknown = conn.mapping.targets_of(unreadable)
        # Validated as it is read: the raw records are never all held at once.
        records = RecordValidator(conn, source, sink).validate(self._read(source))
        links = self.state.links(conn.name, with_applied=False)
        snapshot = type(sink).takes_snapshots
        if snapshot:
            records = keep_for_snapshot(records, sink, self.context, only=options.only)
        if options.only:
            records = records.only(options.only, connection=conn.name)
        elif not options.override_guards:
            guards.check_source_size(records.read_count, links, conn.guards, source=self.source_cls.label(),
                                     connection=conn.name)
        listed, complete = None, True
        if not snapshot and needs_listing(records.people, links, full=options.full, first_run=self.first_run,
                         intents=self.state.intents(conn.name)):
            listed, complete = self._list(sink, records.people, links)
        if not snapshot and not options.only:  # a lost create of someone who left: link it or confirm it absent
            resolve_intents(self.state, sink, conn.name, links, present={p.source_id for p in records.people}
                            | records.seen_ids, listed=listed if complete else None, run_id=self.run_id,
                            warn=self.context.warn)
        planner = Planner(conn, sink, links, self.state.digests, listed, listing_complete=complete,
                          dropped=self.state.dropped_fields(conn.name), unknown=unknown,
                          applied=lambda ids: self.state.applied(conn.name, ids), snapshot=snapshot,
                          look_up=listed is None and not snapshot)
        self.plan.actions = records.actions + planner.plan(records.people, also_present=records.seen_ids,
                                                           include_missing=not options.only)
        if not options.only:
            self.plan.unmatched = planner.unmatched()
            self.plan.left_alone = left_alone(planner.left_alone, records.out_of_scope,
                                              lambda ids: self.state.names(conn.name, ids), self.source_cls.label())
            self.plan.actions = confirm_missing(self.plan.actions, source, records.out_of_scope, self.context.warn)
        groups = self._plan_groups(sink, records.people, unreadable) if not options.only else None
        if not options.override_guards:
            guards.check_deactivations(self.plan.actions, links, conn.guards, connection=conn.name)
            guards.check_reactivations(self.plan.actions, links, conn.guards, connection=conn.name,
                                       uncreated=self.state.uncreated(conn.name))
            if groups is not None:
                guards.check_membership_removals(groups.removals, groups.managed_count, conn.guards,
                                                 connection=conn.name)
        if groups is not None:
            self.plan.groups = planned_lines(groups)
        if snapshot:
            SnapshotStage(self.run_id, sink, self.state, self.context, self.sensitive, self.engine_notices).run(
                self.plan, links, groups, dry_run=self.run_id is None, full=options.full,
                override_guards=options.override_guards, unreadable=unknown)
            return True
        if self.run_id is None:
            return True
        limit = InFlightLimit(sink.max_in_flight() if type(sink).concurrent_writes else 1)
        self.context.on_throttle = limit.throttled
        applier = Applier(connection=conn.name, run_id=self.run_id, sink=sink, state=self.state, planner=planner,
                          warn=self.context.warn, max_failures_in_a_row=conn.guards.max_failures_in_a_row,
                          limit=limit)
        applier.record_matches(self.plan, listed=listed is not None)
        progress = options.progress
        done = applier.apply(self.plan, should_stop=options.should_stop,
                             progress=(lambda done, total: progress("apply", done, total)) if progress else None)
        if groups is not None and done:  # after the people: members need their sink ids
            applier = GroupApplier(connection=conn.name, run_id=self.run_id, sink=sink, state=self.state)
            self.plan.groups = applier.apply(groups, should_stop=options.should_stop)
        return done and not options.should_stop()

    def _plan_groups(self, sink: Sink, people: list[Person], unreadable: set[str]) -> GroupPlan | None:
        """The group changes, for a connection with ``groups:`` whose sink takes groups this run."""
        config = self.conn.groups
        snapshot = type(sink).takes_snapshots  # the file holds the groups: no group calls, nothing to read back
        if not config.fields or not (snapshot or sink.groups_available()):
            return None
        links = self.state.links(self.conn.name, with_applied=False)
        # Members are people the sink holds or will hold after this run (not leavers left uncreated).
        joining = {a.source_id for a in self.plan.actions if a.kind == CREATE or a.matched}
        people = [p for p in people if p.source_id in links or p.source_id in joining]
        plan = plan_groups(config, people, links=self.state.group_links(self.conn.name),
                           memberships=self.state.memberships(self.conn.name), unreadable=unreadable,
                           source=self.source_cls.label(),
                           person_of_sink_id={link.sink_id: s for s, link in links.items() if link.sink_id},
                           sink_members=sink.group_members if config.memberships == OVERWRITE and not snapshot
                           else None)
        for reason in plan.skipped_fields.values():
            self.context.warn(reason)
        return plan

    def _read(self, source: Source) -> Iterator[dict]:
        """The source's records, one at a time, with the read's progress."""
        count = 0
        for count, record in enumerate(source.read(), start=1):
            yield record
            if self.options.progress and count % 50 == 0:
                self.options.progress("read", count, None)
        if self.options.progress:
            self.options.progress("read", count, None)

    def _list(self, sink: Sink, people: list[Person], links: Mapping[str, Link]) -> tuple[dict[str, SinkPerson], bool]:
        """Everyone the sink holds, by sink id, and whether that is everyone.

        One listing pass, matched locally: never one lookup request per person - unless the
        sink refuses to list, then the people to match are looked up one by one (all of them
        with ``--full``, else those without a link).
        """
        try:
            return {p.sink_id: p for p in sink.list_people()}, True
        except ListingRefused as exc:
            wanted = [p for p in people if self.options.full or p.source_id not in links]
            self.context.warn(f"{exc} hrsync looked up {len(wanted)} people one by one instead.")
            # By the source id first: a user carrying it is this person, whatever e-mail it holds now.
            found = (sink.find_by_source_id(p.source_id) or sink.find(p.email_key) for p in wanted)
            return {person.sink_id: person for person in found if person is not None}, False
