"""Create intents of people no longer in the source: resolved before planning, never left pending.

Data flow: a create whose outcome was lost leaves an intent (:meth:`State.intend_create`). While its
person is in the source, the next run lists the sink and matches them (:mod:`hrsync.sync.planner`). But a
person who left the source before that run is never planned again, so the engine hands their intents
here first: the sink is asked (the listing when this run has one, else by source id, then by the e-mail
the create was sent with). A user found is linked - then the planner deactivates it like any other
leaver (``missing: deactivate``); none found confirms the create never happened. Either way the intent
is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from ..connectors import MATCH_FIELD, Sink, SinkPerson
from ..errors import RecordError
from ..plan import APPLIED
from ..state.store import Link, LogEntry, State
from .planner import SOURCE_ID, owned_by_another
from .records import normalise_email

log = logging.getLogger("hrsync.sync.intents")


def resolve_intents(state: State, sink: Sink, connection: str, links: dict[str, Link], *, present: set[str],
                    listed: Mapping[str, SinkPerson] | None, run_id: int | None,
                    warn: Callable[[str], None]) -> None:
    """Link (in ``links``, and in the state unless a dry run) or drop the intents of people not in ``present``.
    ``listed`` is everyone the sink holds (None: no complete listing this run, so each is looked up)."""
    pending = {sid: email for sid, email in state.intent_emails(connection).items()
               if sid not in present and sid not in links}
    linked = {link.sink_id for link in links.values()}
    for source_id, email in sorted(pending.items()):
        try:
            user = _find(sink, source_id, email, listed)
        except RecordError as exc:  # asked again next run: the intent stays
            warn(f"The create of {email} (source id {source_id}) may have reached {type(sink).label()}, and the "
                 f"lookup to confirm it failed ({exc}); it is looked up again next run.")
            continue
        if user is not None and (user.sink_id in linked or owned_by_another(user, source_id)):
            user = None  # someone else's user: this create never happened
        if user is not None:
            links[source_id] = Link(source_id, user.sink_id, email, {"active": user.record.get("active", True)},
                                    origin="created")
        if run_id is None:
            continue
        if user is None:
            state.record_failed(connection, LogEntry(run_id, source_id, email, "create", {}, "resolved",
                                                     "not in the app: the create never happened"), forget_intent=True)
        else:
            state.record_applied(connection, LogEntry(run_id, source_id, email, "link", {}, APPLIED,
                                                      "a create whose outcome was lost, found in the app"),
                                 links[source_id])
            log.info("%s: linked %s, created by an interrupted run", connection, email)


def _find(sink: Sink, source_id: str, email: str, listed: Mapping[str, SinkPerson] | None) -> SinkPerson | None:
    """The user a lost create made, by the source id it carries first, then by its e-mail."""
    if listed is not None:
        users = list(listed.values())
        return (next((u for u in users if str(u.record.get(SOURCE_ID) or "") == source_id), None)
                or next((u for u in users if normalise_email(u.record.get(MATCH_FIELD)) == email), None))
    return sink.find_by_source_id(source_id) or sink.find(email)
