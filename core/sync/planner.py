"""The planner: people to sync + what the state remembers (+ the sink's listing) → one action per person.

Data flow: the engine hands over the validated people (:mod:`hrsync.sync.records`), the stored
links and, when this run listed the sink, everyone the sink holds. Each person is
matched - stored link first, else normalised e-mail among the listed users nobody is
linked to - and gets a create, an update with the changed fields only, or nothing;
linked people gone from the source are deactivated when the connection says so.
A person to create whom this run did not list is first looked up by source id
(``look_up``): commits a power cut lost may have hidden a user the last run made.
The planner writes nothing; :meth:`Planner.changes_for` is the one diff, used
here and by the applier when a create meets an existing user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..config.load import ConnectionConfig
from ..connectors import MATCH_FIELD, Sink, SinkPerson, Source
from ..errors import RecordError
from ..plan import CREATE, DEACTIVATE, KEPT, LEFT, SKIP, UNCHANGED, UPDATE, Action, Change, Changes
from ..state.digests import Digests
from ..state.store import Link
from .records import Person, normalise_email

#: Why a linked person is deactivated without a word from the source about them.
MISSING = "no longer in the source (or out of scope)"
#: The sink field that carries the source's person id, when the sink keeps it (Winningtemp: externalId).
SOURCE_ID = "id"
#: People planned per read of their applied values: bounded memory, few queries.
BATCH = 500
#: More people to create than this on a run that would not list: one listing costs less than a lookup each.
LOOKUPS = 100


def owned_by_another(user: SinkPerson, source_id: str) -> bool:
    """Whether a sink user carries the source id of someone else: then it must never be linked by e-mail."""
    owner = user.record.get(SOURCE_ID)
    return owner not in (None, "") and str(owner) != source_id


def adopts(user: SinkPerson, desired: dict[str, Any]) -> bool:
    """Whether linking ``user`` writes our source id onto it: it carries none, and the sink keeps them."""
    return SOURCE_ID in desired and user.record.get(SOURCE_ID) in (None, "")


def needs_listing(people: Iterable[Person], links: Mapping[str, Link], *, full: bool, first_run: bool,
                  intents: set[str]) -> bool:
    """Whether this run must list the sink: ``--full``; unlinked people on a first run, after a lost create, or
    more of them to create than :data:`LOOKUPS` (otherwise each is looked up by source id)."""
    if full:
        return True
    unlinked = [p for p in people if p.source_id not in links]
    return bool(unlinked) and (first_run or bool(intents)
                               or sum(p.desired.get("active") is not False for p in unlinked) > LOOKUPS)


def confirm_missing(actions: list[Action], source: Source, out_of_scope: set[str],
                    warn: Callable[[str], None]) -> list[Action]:
    """The actions, deactivating for being missing only who the source confirms is gone: one read is not enough.
    (People read but out of scope are known to be there: nothing to confirm.)"""
    missing = {a.source_id for a in actions if a.kind == DEACTIVATE and a.reason == MISSING} - out_of_scope
    if not missing:
        return actions
    found = missing - source.confirm_absent(missing)
    if found:
        warn(f"{len(found)} linked people missing from the list {type(source).label()} gave were found when "
             "looked up again (the list skipped them while it changed); they were not deactivated.")
    return [a for a in actions if not (a.kind == DEACTIVATE and a.source_id in found)]


class Planner:
    """Plans one run of one connection."""

    def __init__(self, conn: ConnectionConfig, sink: Sink, links: Mapping[str, Link], digests: Digests,
                 listed: Mapping[str, SinkPerson] | None = None, *, listing_complete: bool = True,
                 dropped: set[str] = frozenset(), unknown: set[str] = frozenset(),
                 applied: Callable[[list[str]], Mapping[str, dict[str, Any]]] | None = None,
                 snapshot: bool = False, look_up: bool = False) -> None:
        self.sink, self.links, self.digests, self.listed = sink, links, digests, listed
        # No listing this run: whoever is to be created is first looked up by source id (find_by_source_id).
        self.look_up = look_up
        # What was last applied, read for a batch of people at a time (State.applied); by default from the links.
        self.applied = applied or (lambda ids: {i: links[i].applied for i in ids})
        self.linked_ids = {link.sink_id for link in links.values()}
        self.listing_complete = listing_complete
        # A snapshot sink's file holds exactly the people in it: who is not is gone from the file, whatever
        # ``missing`` says, and the sink's own status rules (``keeps``) decide which leavers it still holds.
        self.create_leavers = conn.create_leavers or snapshot
        self.matched_ids: set[str] = set()
        # Create-only fields never change once created; fields the sink does not keep are not re-sent;
        # fields the source cannot read this run are left as they are, never blanked.
        self.unchanging = set(conn.mapping.create_only) | set(dropped) | set(unknown)
        self.sensitive = set(conn.sensitive_fields)
        self.deactivate_missing = conn.missing == "deactivate" or snapshot
        #: Linked people missing from this run's read whom ``missing: ignore`` leaves active (after :meth:`plan`).
        self.left_alone: list[Action] = []

    def changes_for(self, desired: dict[str, Any], *, person: str, applied: dict[str, Any] | None = None,
                    observed: dict[str, Any] | None = None) -> tuple[Changes, list[str]]:
        """What must change for the sink to hold ``desired``, and a note for each change the sink forbids.

        The baseline is the user as the sink holds them (``observed``, from a listing or a
        lookup) or else what this connection last ``applied`` (sensitive values as digests).
        Create-only fields, fields the sink does not keep and fields the source could not read are left out.
        """
        baseline, hashed = (observed, False) if observed is not None else (applied or {}, True)
        changes: Changes = {}
        for name, new in desired.items():
            if name in self.unchanging:
                continue
            old = baseline.get(name)
            if hashed and name in self.sensitive and new is not None:
                differs = not self.digests.matches(old, new, person)
            else:
                differs = new != old
            if differs:
                changes[name] = Change(None if name in self.sensitive else old, new)
        if not changes:
            return changes, []
        # A user inactive because hrsync itself last made them so (a leaver it deactivated, now back) is not one
        # "deactivated in the app by someone else": the sink's rules (keep_as_is) see them without that observed
        # inactivity, so that a --full run, which observes the user, decides as a normal run, which does not.
        if observed is not None and applied is not None and applied.get("active") is False:
            observed = {k: v for k, v in observed.items() if k != "active"}
        kept, notes = self.sink.keep_as_is({k: c.new for k, c in changes.items()}, observed)
        return {k: c for k, c in changes.items() if k in kept}, notes

    def plan(self, people: list[Person], *, also_present: set[str], include_missing: bool = True) -> list[Action]:
        """One action per person; ``also_present`` are source ids seen but not plannable (skipped, deferred)."""
        by_email = self._unlinked_by_email()
        by_source_id = self._unlinked_by_source_id()
        actions = []
        applied: Mapping[str, dict[str, Any]] = {}
        for number, p in enumerate(people):
            if number % BATCH == 0:
                batch = people[number:number + BATCH]
                applied = self.applied([q.source_id for q in batch if q.source_id in self.links])
            link = self.links.get(p.source_id)
            if link is not None and self.listing_complete and self.listed is not None \
                    and link.sink_id not in self.listed:
                # The listing found the linked user gone from the sink (deleted by hand): create again.
                actions.append(self._create(p, ["the linked user no longer exists in the sink; created again"]))
            elif link is not None:
                seen = self.listed.get(link.sink_id) if self.listed is not None else None
                observed = seen.record if seen is not None else None
                actions.append(self._update(p, link.sink_id, applied=applied.get(p.source_id), observed=observed))
            elif p.source_id in by_source_id:
                # A sink user carrying this person's source id is this person, whatever e-mail it holds now
                # (a create whose outcome was lost, then an e-mail change): never a second user.
                match = by_source_id.pop(p.source_id)
                self.matched_ids.add(match.sink_id)
                by_email = {k: v for k, v in by_email.items() if v.sink_id != match.sink_id}
                actions.append(self._update(p, match.sink_id, observed=match.record, matched=True))
            elif p.email_key in by_email and owned_by_another(by_email[p.email_key], p.source_id):
                other = by_email.pop(p.email_key)
                actions.append(Action(SKIP, p.display, p.source_id, p.email_key, reason=(
                    f"{p.display}'s e-mail {p.email_key} belongs to another person's user in the app (its source "
                    f"id is {other.record.get(SOURCE_ID)}): not linked. If the address was reused, give the user "
                    "in the app a new address or remove it, then the next run creates this person.")))
            elif p.email_key in by_email:
                match = by_email.pop(p.email_key)
                self.matched_ids.add(match.sink_id)
                actions.append(self._update(p, match.sink_id, observed=match.record, matched=True))
                actions[-1].adopted = adopts(match, p.desired)
            elif p.desired.get("active") is False and not self.create_leavers:
                actions.append(Action(LEFT, p.display, p.source_id, p.email_key))
            elif self.look_up:
                actions.append(self._create_unless_carried(p))
            else:
                actions.append(self._create(p))
        if include_missing:
            missing = self._missing({p.source_id for p in people} | also_present)
            if self.deactivate_missing:
                actions.extend(missing)
            else:
                self.left_alone = [Action(KEPT, a.person, a.source_id, a.email, sink_id=a.sink_id, reason=MISSING)
                                   for a in missing]
        return actions

    def _create(self, p: Person, notes: list[str] | None = None) -> Action:
        return Action(CREATE, p.display, p.source_id, p.email_key, desired=p.desired, notes=notes or [],
                      changes={k: Change(None, v) for k, v in sorted(p.desired.items()) if v is not None})

    def _create_unless_carried(self, p: Person) -> Action:
        """A create, unless the sink holds a user carrying the person's source id: the state forgot it
        (commits lost with the power, a state restored from a backup), the sink did not - then it is linked."""
        try:
            found = self.sink.find_by_source_id(p.source_id)
        except RecordError as exc:
            return Action(SKIP, p.display, p.source_id, p.email_key, reason=(
                f"{p.display} is not linked yet, and looking up whether the app already holds a user carrying "
                f"their source id {p.source_id} failed ({exc}); not created, so as never to make a second user. "
                "Tried again next run."))
        if found is None or found.sink_id in self.linked_ids | self.matched_ids \
                or str(found.record.get(SOURCE_ID) or "") != p.source_id:
            return self._create(p)
        self.matched_ids.add(found.sink_id)
        action = self._update(p, found.sink_id, observed=found.record, matched=True)
        action.notes.insert(0, f"not created: a user carrying this person's source id {p.source_id} already existed "
                               "in the app (made by a run whose record was lost); linked to that user")
        return action

    def _update(self, p: Person, sink_id: str, *, applied: dict[str, Any] | None = None,
                observed: dict[str, Any] | None = None, matched: bool = False) -> Action:
        changes, notes = self.changes_for(p.desired, person=p.source_id, applied=applied, observed=observed)
        return Action(UPDATE if changes else UNCHANGED, p.display, p.source_id, p.email_key, sink_id=sink_id,
                      changes=changes, desired=p.desired, notes=notes, matched=matched)

    def unmatched(self) -> list[tuple[str, str | None]]:
        """Listed sink users nobody is linked to and no source person matched: (name, e-mail), by e-mail."""
        if self.listed is None or not self.listing_complete:
            return []
        known = self.linked_ids | self.matched_ids
        out = []
        for person in self.listed.values():
            if person.sink_id in known:
                continue
            email = normalise_email(person.record.get(MATCH_FIELD))
            name = " ".join(str(person.record.get(k) or "") for k in ("first_name", "last_name")).strip()
            out.append((name or email or person.sink_id, email))
        return sorted(out, key=lambda item: (item[1] or "", item[0]))

    def _unlinked_by_source_id(self) -> dict[str, SinkPerson]:
        """Listed sink users nobody is linked to, by the source id they carry (the sink's ``id`` field)."""
        if self.listed is None:
            return {}
        return {str(person.record[SOURCE_ID]): person for person in self.listed.values()
                if person.record.get(SOURCE_ID) not in (None, "") and person.sink_id not in self.linked_ids}

    def _unlinked_by_email(self) -> dict[str, SinkPerson]:
        """Listed sink users nobody is linked to yet, by normalised e-mail (the first of each)."""
        if self.listed is None:
            return {}
        by_email: dict[str, SinkPerson] = {}
        for person in self.listed.values():
            key = normalise_email(person.record.get(MATCH_FIELD))
            if key and person.sink_id not in self.linked_ids:
                by_email.setdefault(key, person)
        return by_email

    def _missing(self, present: set[str]) -> list[Action]:
        return [Action(DEACTIVATE, link.email_key or source_id, source_id, link.email_key, sink_id=link.sink_id,
                       reason=MISSING, changes={"active": Change(True, False)})
                for source_id, link in self.links.items()
                if source_id not in present and not link.deactivated and link.active is not False]
