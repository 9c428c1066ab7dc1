"""The sync engine: one run of one connection, plan first, then apply.

Data flow (DESIGN §3): source records → source RecordSchema → scope → mapping →
sink RecordSchema → ``Sink.prepare`` → match (stored link, else normalised e-mail)
→ :class:`~hrsync.plan.Plan` → guards → apply through the sink, each outcome
committed to the state at once → :class:`RunResult` (the plan with outcomes).

Only run-level faults stop a run (:class:`~hrsync.errors.RunError`); a bad person is
skipped or failed with a reason and retried next run.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, ValidationError

from .config import ConnectionConfig, HostsConfig
from .connectors import Defer, RunContext, Sink, SinkPerson, Source
from .errors import ConflictError, GuardError, RecordError, RunError
from .host import Host
from .mapping import flatten_errors
from .plan import APPLIED, CREATE, DEACTIVATE, DEFER, FAILED, SKIP, UNCHANGED, UPDATE, Action, Plan
from .state import State, now, open_state

log = logging.getLogger("hrsync.engine")

EXIT_OK, EXIT_RECORDS, EXIT_STOPPED = 0, 1, 2


def normalise_email(value: Any) -> str | None:
    """The matching key: trimmed and lower-cased (``lower``, not ``casefold``: ß must stay ß)."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()


@dataclass
class RunOptions:
    dry_run: bool = False
    full: bool = False
    only: str | None = None
    override_guards: bool = False
    #: Checked between people; when it returns True the run stops after the write in flight.
    should_stop: Callable[[], bool] = lambda: False
    progress: Callable[[int, int], None] | None = None


@dataclass
class RunResult:
    connection: str
    run_id: int | None
    status: str  # ok | partial | stopped | interrupted
    plan: Plan
    started_at: str = ""
    ended_at: str = ""
    message: str = ""
    source_name: str = ""
    sink_name: str = ""
    timezone: str = "UTC"

    @property
    def exit_code(self) -> int:
        if self.status in ("stopped", "interrupted"):
            return EXIT_STOPPED
        return EXIT_RECORDS if self.status == "partial" else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "connection": self.connection, "status": self.status,
            "message": self.message, "started_at": self.started_at, "ended_at": self.ended_at,
            "source": self.source_name, "sink": self.sink_name, "timezone": self.timezone, **self.plan.to_dict(),
        }


@dataclass
class _Person:
    source_id: str
    display: str
    email_key: str
    desired: dict[str, Any]


class Engine:
    """Runs one connection. Built per run; holds the source and sink instances."""

    def __init__(self, hosts: HostsConfig, conn: ConnectionConfig, host: Host, state: State, options: RunOptions):
        self.hosts, self.conn, self.host, self.state, self.options = hosts, conn, host, state, options
        self.context = RunContext(conn.name, today=dt.datetime.now(zoneinfo.ZoneInfo(hosts.timezone)).date())
        self.source_cls = host.source_class(conn.source.plugin)
        self.sink_cls = host.sink_class(conn.sink.plugin)
        self.sensitive = set(conn.sensitive_fields)
        self.plan = Plan(conn.name, warnings=self.context.warnings, sensitive=self.sensitive)
        self.listed: dict[str, SinkPerson] | None = None  # sink_id → person, when this run listed the sink
        self.links: dict[str, dict] = {}  # source_id → state row, as read when planning

    # -- planning ------------------------------------------------------------------------

    def build_plan(self, source: Source, sink: Sink) -> Plan:
        raw_records = list(source.read())
        self.links = links = self.state.people(self.conn.name)
        people = self._validate(source, sink, raw_records)
        if self.options.only:
            wanted = normalise_email(self.options.only)
            people = [p for p in people if p.email_key == wanted]
            self.plan.actions = [a for a in self.plan.actions if normalise_email(a.email) == wanted]
            if not people and not self.plan.actions:
                raise RunError(f"Nobody with e-mail {self.options.only} is in the source.", connection=self.conn.name)
        else:
            self._guard_source_size(len(raw_records), links)
        pending = self.state.pending(self.conn.name)
        unlinked = [p for p in people if p.source_id not in links]
        no_history = self.state.last_successful_run(self.conn.name) is None
        if self.options.full or (unlinked and (no_history or pending)):
            # One listing pass, matched locally: never one lookup request per person.
            self.listed = {p.sink_id: p for p in sink.list_people()}
        by_email = {}
        if self.listed is not None:
            linked_ids = {row["sink_id"] for row in links.values()}
            for person in self.listed.values():
                key = normalise_email(person.record.get(sink.key_field))
                if key and person.sink_id not in linked_ids:
                    by_email.setdefault(key, person)
        create_only = self.conn.mapping.create_only
        for p in people:
            link = links.get(p.source_id)
            if link is not None and self.listed is not None and link["sink_id"] not in self.listed:
                # The listing found the linked user gone from the sink (deleted by hand): create again.
                self._plan_create(p, notes=["the linked user no longer exists in the sink; created again"])
            elif link is not None:
                self._plan_linked(sink, p, link, create_only)
            elif p.email_key in by_email:
                match = by_email.pop(p.email_key)
                self._plan_linked(sink, p, None, create_only, matched=match)
            else:
                self._plan_create(p)
        if not self.options.only:
            self._plan_missing(people, links)
        self._guard_deactivations(links)
        return self.plan

    def _validate(self, source: Source, sink: Sink, raw_records: list[dict]) -> list[_Person]:
        source_schema = self.source_cls.RecordSchema(unknown=EXCLUDE)
        sink_schema = self.sink_cls.RecordSchema(unknown=EXCLUDE)
        key = self.source_cls.key_field
        source_label = self.source_cls.label()
        seen_ids: set[str] = set()
        candidates: list[_Person] = []
        for raw in raw_records:
            display = source.describe(raw)
            email = raw.get("email")
            try:
                record = source_schema.load(raw)
            except ValidationError as exc:
                self._skip(display, raw.get(key), email,
                           self._invalid_reason(display, exc, raw.get("email"), source_label,
                                                "correct it there"))
                continue
            source_id = record.get(key)
            if source_id in (None, ""):
                self._skip(display, None, email, f"{display} has no {key} in {source_label}")
                continue
            source_id = str(source_id)
            if source_id in seen_ids:
                continue  # the same person twice in one read (paging shift): keep the first
            seen_ids.add(source_id)
            out_reason = self.conn.scope.reason_out(record)
            if out_reason:
                continue  # out of scope: never created; linked ones fall to the missing-people policy
            mapped = self.conn.mapping.apply(record)
            if not normalise_email(mapped.get(sink.key_field)):
                self._skip(display, source_id, None,
                           f"{display} has no e-mail in {source_label} — add one there")
                continue
            mapped[sink.key_field] = normalise_email(mapped[sink.key_field])
            try:
                loaded = sink_schema.load(mapped)
            except ValidationError as exc:
                self._skip(display, source_id, mapped.get(sink.key_field),
                           self._invalid_reason(display, exc, mapped.get(sink.key_field), source_label,
                                                f"correct it in {source_label} or adjust the mapping"))
                continue
            desired = sink.prepare(loaded)
            if isinstance(desired, Defer):
                self.plan.actions.append(Action(DEFER, display, source_id, loaded[sink.key_field],
                                                reason=desired.reason))
                continue
            candidates.append(_Person(source_id, display, desired[sink.key_field], desired))
        counts: dict[str, list[_Person]] = {}
        for p in candidates:
            counts.setdefault(p.email_key, []).append(p)
        people = []
        for email_key, group in counts.items():
            if len(group) == 1:
                people.append(group[0])
                continue
            for p in group:
                others = ", ".join(o.display for o in group if o is not p)
                self._skip(p.display, p.source_id, email_key,
                           f"{p.display} shares the e-mail {email_key} with {others} in {source_label}; "
                           "neither was synced — give each person their own e-mail there")
        return people

    def _invalid_reason(self, display: str, exc: ValidationError, email: Any, source_label: str, fix: str) -> str:
        """A skip reason a person can act on; values of sensitive fields are never quoted."""
        problems = flatten_errors(exc.messages)
        if "email" in problems and len(problems) == 1:
            return f"{display} has an invalid e-mail in {source_label} ({email}) — correct it there"
        details = "; ".join(f"{name}: {'invalid value' if name in self.sensitive else ' '.join(msgs)}"
                            for name, msgs in problems.items())
        return f"{display} has invalid data in {source_label} ({details}) — {fix}"

    def _skip(self, display: str, source_id: Any, email: Any, reason: str) -> None:
        self.plan.actions.append(Action(SKIP, display, None if source_id is None else str(source_id),
                                        normalise_email(email), reason=reason, is_error=True))

    def _diff(self, desired: dict, baseline: dict, *, baseline_is_hashed: bool, skip: set[str]) -> dict:
        changes = {}
        for name, new in desired.items():
            if name in skip:
                continue
            old = baseline.get(name)
            if name in self.sensitive and new is not None:
                new_cmp = self.state.digest(new)
                old_cmp = old if baseline_is_hashed else (None if old is None else self.state.digest(old))
            else:
                new_cmp, old_cmp = new, old
            if new_cmp != old_cmp:
                changes[name] = (None if name in self.sensitive else old, new)
        return changes

    def _plan_create(self, p: _Person, notes: list[str] | None = None) -> None:
        self.plan.actions.append(Action(
            CREATE, p.display, p.source_id, p.email_key, desired=p.desired, notes=notes or [],
            changes={k: (None, v) for k, v in sorted(p.desired.items()) if v is not None},
        ))

    def _plan_linked(self, sink: Sink, p: _Person, link: dict | None, create_only: set[str],
                     matched: SinkPerson | None = None) -> None:
        observed = None
        if matched is not None:
            sink_id, observed = matched.sink_id, matched.record
            changes = self._diff(p.desired, observed, baseline_is_hashed=False, skip=create_only)
        else:
            sink_id = link["sink_id"]
            if self.listed is not None and sink_id in self.listed:
                observed = self.listed[sink_id].record
                changes = self._diff(p.desired, observed, baseline_is_hashed=False, skip=create_only)
            else:
                changes = self._diff(p.desired, link["applied"], baseline_is_hashed=True, skip=create_only)
        desired_changes, notes = sink.keep_as_is({k: v[1] for k, v in changes.items()}, observed)
        changes = {k: v for k, v in changes.items() if k in desired_changes}
        action = Action(UPDATE if changes else UNCHANGED, p.display, p.source_id, p.email_key, sink_id=sink_id,
                        changes=changes, desired=p.desired, notes=notes, link="linked" if matched else "")
        self.plan.actions.append(action)

    def _plan_missing(self, people: list[_Person], links: dict[str, dict]) -> None:
        present = {p.source_id for p in people} | {a.source_id for a in self.plan.actions if a.source_id}
        for source_id, link in links.items():
            if source_id in present or link["deactivated"] or link["applied"].get("active") is False:
                continue
            if self.conn.missing != "deactivate":
                continue
            self.plan.actions.append(Action(
                DEACTIVATE, link["email_key"], source_id, link["email_key"], sink_id=link["sink_id"],
                reason="no longer in the source (or out of scope)", changes={"active": (True, False)},
            ))

    # -- guards --------------------------------------------------------------------------

    def _guard_source_size(self, count: int, links: dict[str, dict]) -> None:
        known = sum(1 for link in links.values() if not link["deactivated"])
        if known == 0 or self.options.override_guards:
            return
        source = self.source_cls.label()
        if count == 0:
            raise GuardError(
                f"{source} returned nobody, but {known} people are linked. Nothing was changed: this looks like "
                "an outage or a permission change. Check the source credentials' access; if the list is really "
                "empty, re-run with --override-guards.", connection=self.conn.name, guard="empty_source")
        limit = self.conn.guards["max_shrink_percent"]
        shrink = 100.0 * (known - count) / known
        if shrink > limit:
            raise GuardError(
                f"{source} returned {count} people, {shrink:.0f}% fewer than the {known} linked "
                f"(limit {limit:g}%). Nothing was changed. Check the source (filters, permissions); if the drop "
                "is real, re-run with --override-guards.", connection=self.conn.name, guard="source_shrink")

    def _guard_deactivations(self, links: dict[str, dict]) -> None:
        if self.options.override_guards:
            return
        # Counted: people gone from the source, and linked people the source now marks as
        # leavers. Users matched for the first time this run are the initial reconciliation
        # (reviewed with --dry-run), not a sign of an outage.
        leaving = [a for a in self.plan.actions
                   if a.kind == DEACTIVATE or (a.kind == UPDATE and a.source_id in links
                                               and a.changes.get("active", (None, None))[1] is False)]
        if not leaving:
            return
        known = max(1, sum(1 for link in links.values() if not link["deactivated"]))
        pct = 100.0 * len(leaving) / known
        max_count = self.conn.guards["max_deactivations"]
        max_pct = self.conn.guards["max_deactivation_percent"]
        if len(leaving) > max_count or pct > max_pct:
            raise GuardError(
                f"This run would deactivate {len(leaving)} people ({pct:.0f}% of {known} linked); the limits are "
                f"{max_count} people and {max_pct:g}%. Nothing was changed. Review the plan with --dry-run; "
                "if it is right, re-run with --override-guards.", connection=self.conn.name, guard="deactivations")

    # -- applying ------------------------------------------------------------------------

    def apply(self, sink: Sink, run_id: int) -> bool:
        """Apply the plan's writes; return False if interrupted by ``should_stop``."""
        writes = self.plan.writes
        for done, action in enumerate(writes):
            if self.options.should_stop():
                return False
            try:
                if action.kind == CREATE:
                    self._apply_create(sink, action, run_id)
                elif action.kind == UPDATE:
                    sink.update(action.sink_id, {k: v[1] for k, v in action.changes.items()}, action.desired)
                    self._commit(action, run_id)
                else:
                    sink.deactivate(action.sink_id)
                    self._commit(action, run_id)
            except RecordError as exc:
                action.outcome, action.message = FAILED, str(exc)
                log.warning("%s: %s failed for %s: %s", self.conn.name, action.kind, action.person, exc)
                self.state.record_write(run_id=run_id, connection=self.conn.name, source_id=action.source_id or "",
                                        person=action.person, action=action.kind,
                                        fields=action.public_changes(self.sensitive), outcome=FAILED,
                                        message=str(exc))
                if action.kind == CREATE and not getattr(exc, "ambiguous", False):
                    self.state.drop_pending(self.conn.name, action.source_id)
            if self.options.progress:
                self.options.progress(done + 1, len(writes))
        return True

    def _apply_create(self, sink: Sink, action: Action, run_id: int) -> None:
        # The intent is committed before the write: if we die before recording the
        # outcome, the next run lists the sink and links instead of creating twice.
        self.state.add_pending(self.conn.name, action.source_id, action.email, run_id)
        try:
            created = sink.create(action.desired)
        except ConflictError:
            found = sink.find(action.email)
            if found is None:
                raise RecordError(f"{action.email} is reported as taken by the sink, but cannot be found there.",
                                  record=action.person) from None
            owner = self._owner_of(found.sink_id)
            if owner and owner != action.source_id:
                raise RecordError(
                    f"{action.email} already belongs to a user linked to another person (source id {owner}) — "
                    "check for a reused e-mail in the source", record=action.person) from None
            action.sink_id, action.link = found.sink_id, "linked"
            changes = self._diff(action.desired, found.record, baseline_is_hashed=False,
                                 skip=self.conn.mapping.create_only)
            kept, notes = sink.keep_as_is({k: v[1] for k, v in changes.items()}, found.record)
            action.changes = {k: v for k, v in changes.items() if k in kept}
            action.notes.extend(notes)
            action.kind = UPDATE if action.changes else UNCHANGED
            if action.changes:
                sink.update(found.sink_id, kept, action.desired)
            self._commit(action, run_id, origin="linked")
            return
        action.sink_id, action.invited = created.sink_id, created.invited
        self._commit(action, run_id, origin="created")

    def _owner_of(self, sink_id: str) -> str | None:
        return next((sid for sid, row in self.links.items() if row["sink_id"] == sink_id), None)

    def _commit(self, action: Action, run_id: int, origin: str | None = None) -> None:
        action.outcome = APPLIED
        link: dict[str, Any] = {"sink_id": action.sink_id}
        if action.kind == DEACTIVATE:
            link["deactivated"] = 1
            previous = self.links.get(action.source_id, {}).get("applied", {})
            link["applied"] = {**previous, "active": False}
        else:
            link["email_key"] = action.email
            link["applied"] = self.state.protect(action.desired, self.sensitive)
            link["deactivated"] = 0
        if origin:
            link["origin"] = origin
        elif action.link:
            link["origin"] = "linked"
        self.state.record_write(run_id=run_id, connection=self.conn.name, source_id=action.source_id,
                                person=action.person, action=action.kind,
                                fields=action.public_changes(self.sensitive), outcome=APPLIED,
                                message="; ".join(action.notes), link=link)

    def record_links(self, run_id: int) -> None:
        """Keep the links of people matched by e-mail whose data already agreed.

        After a listing, create intents left by an interrupted run are resolved: their people
        are now linked or planned for creation (with a fresh intent), or gone from the source.
        """
        for action in self.plan.actions:
            if action.kind == UNCHANGED and action.link == "linked":
                self._commit(action, run_id, origin="linked")
        if self.listed is not None:
            for source_id in self.state.pending(self.conn.name):
                self.state.drop_pending(self.conn.name, source_id)


def run_connection(hosts: HostsConfig, name: str, host: Host, options: RunOptions | None = None) -> RunResult:
    """One run of one connection. Never raises for run-level faults: the result says what stopped it."""
    options = options or RunOptions()
    conn = hosts.connection(name)
    state = open_state(hosts.state, read_only=options.dry_run)
    try:
        if options.dry_run:
            return _run(hosts, conn, host, state, options, run_id=None)
        with state.lock(name):
            state.mark_crashed_runs(name)
            mode = "full" if options.full else ("only" if options.only else "normal")
            run_id = state.start_run(name, mode)
            return _run(hosts, conn, host, state, options, run_id=run_id)
    finally:
        state.close()


def _run(hosts, conn, host, state: State, options: RunOptions, run_id: int | None) -> RunResult:
    engine = Engine(hosts, conn, host, state, options)
    result = RunResult(conn.name, run_id, "ok", engine.plan, started_at=now(),
                       source_name=engine.source_cls.label(), sink_name=engine.sink_cls.label(),
                       timezone=hosts.timezone)
    source = engine.source_cls(conn.source.settings, engine.context)
    sink = engine.sink_cls(conn.sink.settings, engine.context)
    try:
        with source, sink:
            engine.build_plan(source, sink)
            if run_id is not None:
                engine.record_links(run_id)
                if not engine.apply(sink, run_id):
                    result.status = "interrupted"
                    result.message = "Stopped on request before finishing; the next run finishes the work."
    except RunError as exc:
        result.status, result.message = "stopped", str(exc)
        engine.plan.stopped = str(exc)
        log.error("%s: run stopped: %s", conn.name, exc)
    except Exception as exc:  # a plugin bug must still end in a recorded, reported run
        log.exception("%s: run crashed", conn.name)
        result.status = "stopped"
        result.message = engine.plan.stopped = (
            f"Unexpected error ({type(exc).__name__}: {exc}). Nothing further was written; "
            "run again with --debug and report the traceback to the plugin's authors."
        )
    if result.status == "ok" and engine.plan.needs_attention:
        result.status = "partial"
    result.ended_at = now()
    if run_id is not None:
        state.finish_run(run_id, result.status, engine.plan.counts(), result.message, result.to_dict())
    return result
