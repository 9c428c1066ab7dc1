"""The applier: a plan's writes go to the sink, and each outcome is committed to the state at once.

Data flow: for each create / update / deactivate of the :class:`~hrsync.plan.Plan`, a
create first commits its intent (:meth:`State.intend_create`), then the sink is called,
then the outcome is committed (:meth:`State.record_applied` or :meth:`State.record_failed`).
A sink that declares ``concurrent_writes`` gets up to ``max_in_flight`` people's sink calls
at once on worker threads (:func:`hrsync.sync.writes_in_flight.drive`), halved when its service
throttles; the intents and outcomes are still committed by the one thread that owns the
state, each person's in the order intent → write → outcome. A process killed at any
moment loses at most the writes in flight, which the next run repairs (an intent makes
it list the sink and link instead of creating twice; updates are idempotent). This class
is the only writer of people's state during a run.

A create refused as a duplicate (:class:`~hrsync.errors.ConflictError`) is resolved by
one lookup: the user found is linked and brought up to date with
:meth:`Planner.changes_for`, unless another person of this connection owns it.

Read-back: what the sink answers to a create or update is compared with what was sent.
A field sent with a value and answered empty was *not kept*: it is reported once per run
and remembered (:meth:`State.mark_dropped`), so updates stop re-sending it; a later
create whose answer keeps it lifts the mark.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..connectors import MATCH_FIELD, Sink, SinkPerson
from ..errors import ConflictError, RecordError, RetriableError, SinkError
from ..plan import APPLIED, CREATE, DEACTIVATE, FAILED, LEFT, UNCHANGED, UPDATE, Action, Plan
from ..state.store import Link, LogEntry, State
from .email_moves import order_moves
from .planner import SOURCE_ID, Planner, adopts, owned_by_another
from .writes_in_flight import InFlightLimit, drive

log = logging.getLogger("hrsync.sync.applier")


class Applier:
    def __init__(self, *, connection: str, run_id: int, sink: Sink, state: State, planner: Planner,
                 warn: Callable[[str], None], max_failures_in_a_row: int = 5,
                 limit: InFlightLimit | None = None) -> None:
        self.max_failures_in_a_row = max_failures_in_a_row
        self.limit = limit or InFlightLimit(1)
        self.connection, self.run_id, self.sink, self.state = connection, run_id, sink, state
        self.planner, self.warn = planner, warn
        self.links, self.sensitive, self.digests = planner.links, planner.sensitive, planner.digests
        self.dropped = state.dropped_fields(connection)

    def record_matches(self, plan: Plan, *, listed: bool) -> None:
        """Keep the links of people matched by e-mail whose data already agreed (no write needed).

        After a listing, create intents left by an interrupted run are resolved: their people
        are now linked or planned for creation (with a fresh intent), or gone from the source.
        """
        for action in plan.actions:
            if action.kind == UNCHANGED and action.matched:
                self._applied(action, origin="linked")
        # Leavers left uncreated are remembered: one coming back active later is a reactivation (guards).
        self.state.remember_uncreated(self.connection, (a.source_id for a in plan.actions if a.kind == LEFT),
                                      self.run_id)
        if listed:
            self.state.forget_intents(self.connection)

    def apply(self, plan: Plan, *, should_stop: Callable[[], bool] = lambda: False,
              progress: Callable[[int, int], None] | None = None) -> bool:
        """Apply the plan's writes, up to the limit in flight; False when ``should_stop`` ended it early.

        Changes of e-mail go first, one at a time in plan order: a create or another change may need
        the address one of them frees.
        """
        writes = plan.writes
        moving = [a.kind == UPDATE and MATCH_FIELD in a.changes for a in writes]
        moves = [a for a, move in zip(writes, moving, strict=True) if move]
        rest = [a for a, move in zip(writes, moving, strict=True) if not move]
        moves, parks = order_moves(moves, run_id=self.run_id)
        parked_failed = {id(a) for a, temporary in parks if not self._park(a, temporary)}
        moves = [a for a in moves if id(a) not in parked_failed]
        self._done, self._total, self._streak, self._progress = 0, len(writes), 0, progress
        self._duplicates = 0
        try:
            for batch, limit in ((moves, InFlightLimit(1)), (rest, self.limit)):
                if not drive(batch, limit=limit, begin=self._begin, attempt=self._attempt, finish=self._finish,
                             go_on=lambda: not should_stop(), together=lambda: self.state.batch(outermost=True)):
                    return False
            return True
        finally:
            if self._duplicates:
                self.warn(f"{self._duplicates} {'people' if self._duplicates > 1 else 'person'} planned for creation "
                          f"already had a user in {type(self.sink).label()}, which refused the creates as "
                          "duplicates; hrsync linked them to those users instead (see each person). A list of the "
                          "app that missed them is the likely cause.")
            limit = self.limit
            if limit.throttles:
                lowered = (f"; writes in flight went down to {limit.lowest} of {limit.maximum}"
                           if limit.maximum > 1 else "")
                self.warn(f"{type(self.sink).label()} asked hrsync to slow down {limit.throttles} time(s) "
                          f"(429/503){lowered}.")

    def _park(self, action: Action, temporary: str) -> bool:
        """Move one member of a cycle of e-mail changes to a temporary address first (:mod:`.email_moves`).
        Not recorded: the state keeps the old address until its real change is, so a run killed in between
        plans the same change again and parks again."""
        try:
            self.sink.update(action.sink_id, {MATCH_FIELD: temporary}, {**action.desired, MATCH_FIELD: temporary})
        except RecordError as exc:
            self._failed(action, RecordError(
                f"{action.email} is held by another person whose own address changes in this run (a swap): moving "
                f"this user to the temporary address {temporary} first failed ({exc}). Change one of the "
                f"addresses in {type(self.sink).label()} by hand to a free one; the next run completes the "
                "swap.", record=action.person))
            return False
        action.notes.append(f"moved through the temporary address {temporary}: its new address was held by "
                            "another person whose address changed in this run")
        return True

    def _begin(self, action: Action) -> None:
        # The intent is committed before the write: if we die before recording the
        # outcome, the next run lists the sink and links instead of creating twice.
        if action.kind == CREATE:
            self.state.intend_create(self.connection, action.source_id, action.email, self.run_id)

    def _attempt(self, action: Action) -> tuple[str | None, SinkPerson | RecordError | None]:
        """The sink calls of one write (on a worker thread when writes are in flight: no state here).

        Returns ``(origin, answer)`` - the answer is what the sink gave back, or the RecordError
        that failed this person; run-level errors propagate.
        """
        try:
            if action.kind == CREATE:
                try:
                    created = self.sink.create(action.desired)
                except ConflictError:
                    return "linked", self._link_existing(action)
                action.sink_id, action.invited = created.sink_id, created.invited
                return "created", created
            if action.kind == UPDATE:
                return None, self.sink.update(action.sink_id, action.new_values(), action.desired)
            self.sink.deactivate(action.sink_id)
            return None, None
        except RecordError as exc:  # RetriableError included
            return None, exc

    def _finish(self, action: Action, result: tuple[str | None, SinkPerson | RecordError | None]) -> None:
        """Commit one write's outcome (on the thread that owns the state), then count it."""
        origin, answer = result
        if isinstance(answer, RecordError):
            self._failed(action, answer)
            if isinstance(answer, RetriableError):
                self._streak += 1  # writes in a row that failed for a reason that may pass (5xx, 429, timeouts)
        else:
            if origin == "created":
                self._read_back(action.desired, answer)
            elif origin == "linked":
                self._duplicates += 1
            self._applied(action, origin=origin)
            self._streak = 0
        self.limit.ended(confirmed=not isinstance(answer, RecordError))
        self._done += 1
        if self._progress:
            self._progress(self._done, self._total)
        if self._streak >= self.max_failures_in_a_row:
            # Every further person would cost the full retry time and fail the same way.
            raise SinkError(
                f"{type(self.sink).label()} failed {self._streak} writes in a row ({answer}); this looks like an "
                "outage, so the run stopped. The rest is synced at the next run.",
                connection=self.connection, guard="outage") from None

    def _link_existing(self, action: Action) -> SinkPerson | None:
        """A create refused as a duplicate: link the user holding the e-mail, and bring it up to date."""
        found = self.sink.find(action.email)
        if found is None:
            raise RecordError(f"{action.email} is reported as taken by the sink, but cannot be found there.",
                              record=action.person) from None
        owner = next((sid for sid, link in self.links.items() if link.sink_id == found.sink_id), None)
        if owner and owner != action.source_id:
            raise RecordError(
                f"{action.email} already belongs to a user linked to another person (source id {owner}) — "
                "check for a reused e-mail in the source", record=action.person) from None
        if owned_by_another(found, action.source_id):
            raise RecordError(
                f"{action.email} already belongs to another person's user in the app (its source id is "
                f"{found.record.get(SOURCE_ID)}): not linked. If the address was reused, give that user a new "
                "address or remove it; the next run then creates this person.", record=action.person) from None
        action.sink_id, action.matched, action.adopted = found.sink_id, True, adopts(found, action.desired)
        action.notes.append("not created: the app refused the create as a duplicate (a user with this e-mail "
                            "already existed); linked to that user")
        action.changes, notes = self.planner.changes_for(action.desired, person=action.source_id,
                                                         observed=found.record)
        action.notes.extend(notes)
        action.kind = UPDATE if action.changes else UNCHANGED
        return self.sink.update(found.sink_id, action.new_values(), action.desired) if action.changes else None

    def _read_back(self, sent: dict[str, Any], answered: SinkPerson) -> None:
        # Only a create's answer is the whole user (an update's may be partial), so only creates are read
        # back. The match field, the source id and the active flag are never muted: without them the sync
        # itself would be wrong.
        held = answered.record
        for name, value in sent.items():
            if value is None or name not in held or name in (MATCH_FIELD, SOURCE_ID, "active"):
                continue
            kept = held[name] is not None
            if not kept and name not in self.dropped:
                self.dropped.add(name)
                self.state.mark_dropped(self.connection, name, True)
            elif kept and name in self.dropped:
                self.dropped.discard(name)
                self.state.mark_dropped(self.connection, name, False)
            if not kept:
                self.warn(f"{type(self.sink).label()} did not keep {name.replace('_', ' ')}: it accepted the "
                          "value but answered without it. hrsync stops re-sending it in updates while this lasts "
                          "(each create checks again).")

    def _entry(self, action: Action, outcome: str, message: str) -> LogEntry:
        return LogEntry(self.run_id, action.source_id or "", action.person, action.kind,
                        action.public_changes(self.sensitive), outcome, message)

    def _applied(self, action: Action, origin: str | None = None) -> None:
        if action.kind == DEACTIVATE:
            previous = self.links.get(action.source_id)
            before = self.state.applied(self.connection, [action.source_id]).get(action.source_id, {})
            link = Link(action.source_id, action.sink_id, previous.email_key if previous else action.email,
                        {**before, "active": False}, deactivated=True)
        else:
            link = Link(action.source_id, action.sink_id, action.email,
                        self.digests.protect(action.desired, self.sensitive, action.source_id),
                        origin=origin or ("linked" if action.matched else None))
        self.state.record_applied(self.connection, self._entry(action, APPLIED, "; ".join(action.notes)), link)
        action.outcome = APPLIED

    def _failed(self, action: Action, exc: RecordError) -> None:
        action.outcome, action.message = FAILED, str(exc)
        log.warning("%s: %s failed for %s: %s", self.connection, action.kind, action.person, exc)
        # A create that surely did not happen drops its intent; one that may have (a timeout after
        # sending), or a conflict whose follow-up failed, keeps it: the next run lists before creating.
        forget = action.kind == CREATE and not getattr(exc, "ambiguous", False)
        self.state.record_failed(self.connection, self._entry(action, FAILED, str(exc)), forget_intent=forget)
