"""The Winningtemp sink: status rules, what Winningtemp receives, and the SCIM writes.

Data flow: :meth:`WinningtempSink.open` reads the service's capabilities once per run
(:mod:`.discovery`) and decides whether the HR extension travels (setting ``extension``:
``auto`` sends it only when advertised); the report says which fields Winningtemp does
not receive and why. The engine hands :meth:`prepare` each mapped record; ``prepare``
applies the status rules (``active``) and the pre-hire window, giving the desired state
the engine diffs. Writes become SCIM requests (:mod:`.users`): a full user on create,
``replace`` operations for the changed paths only on update, ``active: false`` on
deactivate. Creates and updates return the user as the server answered, so the engine
can see a field the server did not keep. Groups (department, team…) are in :mod:`.groups`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from hrsync import Defer, Sink, SinkError, SinkPerson

from . import scim
from .client import ScimClient, ScimError
from .discovery import Capabilities, discover
from .groups import ScimGroups
from .settings import ConfigSchema, RecordSchema
from .users import CORE_FIELDS, EXTENSION_FIELDS, external_id, operations, to_record, to_user

HR_FIELDS = "gender, birthday, hire date and termination date"


class WinningtempSink(ScimGroups, Sink):
    """Winningtemp users, provisioned over SCIM 2.0."""

    name = "winningtemp"
    title = "Winningtemp"
    ConfigSchema = ConfigSchema
    RecordSchema = RecordSchema
    #: Each SCIM write names one user; the client's connection pool and rate-limit gate are thread-safe.
    concurrent_writes = True

    def __init__(self, settings, context) -> None:
        super().__init__(settings, context)
        s = self.settings
        retries, connect, read = context.network_limits(retries=s["max_retries"], connect=s["connect_timeout"],
                                                        read=s["read_timeout"])
        self.client = ScimClient(
            base_url=s["base_url"], token=s["token"].reveal(), page_size=s["page_size"],
            connect_timeout=connect, read_timeout=read, max_retries=retries,
            retry_backoff=s["retry_backoff"], max_retry_seconds=s["max_retry_seconds"],
            max_wait_seconds=s["max_wait_seconds"], pause=context.pause, connection=context.connection,
            pool_size=s["max_in_flight"], throttled=context.throttled,
            request_deadline=s["request_deadline"], max_response_mb=s["max_response_mb"], stopping=context.stopping,
        )
        self.capabilities: Capabilities | None = None
        # Until open() has asked the service, only a forced extension is sent.
        self.urn: str | None = s["extension_urn"] if s["extension"] is True else None
        self.not_defined: set[str] = set()  # extension fields the service's schema does not define
        self.invite = bool(s["invite_new_users"])
        self.prefix = s["external_id_prefix"]

    # -- capabilities ------------------------------------------------------------------------

    def open(self) -> None:
        mode, urn = self.settings["extension"], self.settings["extension_urn"]
        if mode is False:
            self.urn = None
            self.context.warn(f"Winningtemp does not receive {HR_FIELDS}: the sink setting extension is false.")
        else:
            self.capabilities = discover(self.client)
            advertised = self.capabilities.advertises(urn)
            self.urn = urn if advertised or mode is True else None
            if not self.urn:
                self.context.warn(
                    f"Winningtemp does not receive {HR_FIELDS}: its SCIM service does not advertise the extension "
                    f"{urn} (sink setting extension: auto). Only e-mail, names, externalId and active are sent, "
                    "as Winningtemp documents.")
            elif not advertised:
                self.context.warn(
                    f"{HR_FIELDS.capitalize()} are sent in the extension {urn} although Winningtemp's SCIM service "
                    "does not advertise it (sink setting extension: true); it may refuse or drop them.")
            self._check_attributes(urn, forced=mode is True)
            if self.capabilities.patch is False:
                self.context.warn("Winningtemp's SCIM service says it does not support PATCH; updates may fail.")
        if self.settings["invite_new_users"] and not self.urn:
            self.context.warn("Invitations were not requested (sink setting invite_new_users): they travel in the "
                              "extension, which is not sent.")

    def _check_attributes(self, urn: str, *, forced: bool) -> None:
        """Send only the extension attributes the service's ``/Schemas`` defines (unless forced)."""
        defined = self.capabilities.extension_attributes.get(urn.lower()) if self.capabilities else None
        if not self.urn or forced or not defined:
            return
        self.not_defined = {std for std, attr in EXTENSION_FIELDS.items() if attr.lower() not in defined}
        if self.not_defined:
            names = ", ".join(sorted(f.replace("_", " ") for f in self.not_defined))
            self.context.warn(f"Winningtemp does not receive {names}: its extension {urn} does not define "
                              f"{'them' if len(self.not_defined) > 1 else 'it'} (/Schemas).")
        invitation = self.settings["invitation_attribute"]
        if self.settings["invite_new_users"] and invitation.lower() not in defined:
            self.invite = False
            self.context.warn(f"Invitations were not requested (sink setting invite_new_users): the extension "
                              f"{urn} does not define {invitation} (/Schemas).")

    def max_in_flight(self) -> int:
        return self.settings["max_in_flight"]

    @classmethod
    def source_id_space(cls, settings):
        return settings["base_url"].rstrip("/").lower(), "external_id_prefix", settings["external_id_prefix"]

    def carried_fields(self) -> set[str]:
        return CORE_FIELDS | ((set(EXTENSION_FIELDS) - self.not_defined) if self.urn else set())

    def notices(self, invited: int) -> list[str]:
        lines = self.group_notices()
        if invited:
            lines.append(f"Winningtemp was asked to invite {invited} new user{'s' if invited != 1 else ''} "
                         "(sink setting invite_new_users).")
        return lines

    # -- desired state ----------------------------------------------------------------------

    def prepare(self, record: dict[str, Any]) -> dict[str, Any] | Defer:
        today = self.context.today
        hire = record.get("hire_date")
        window = self.settings["pre_hire_days"]
        # Never before the pre-hire window: with 0, a future hire (Personio: onboarding) is created on the hire
        # date, not months early as an active user who could be surveyed (and invited) before starting.
        if hire and dt.date.fromisoformat(hire) > today + dt.timedelta(days=window):
            created_on = dt.date.fromisoformat(hire) - dt.timedelta(days=window)
            return Defer(f"starts on {hire}; created on {created_on.isoformat()} "
                         f"({f'{window} days before' if window else 'that day'}, sink setting pre_hire_days)")
        termination = record.get("termination_date")
        status = record.get("status")
        active = (status is None or status in self.settings["active_statuses"]) and not (
            termination and dt.date.fromisoformat(termination) < today)
        carried = self.carried_fields()
        desired = {k: v for k, v in record.items() if k in carried}
        desired["active"] = active
        return desired

    def keep_as_is(self, changes, observed):
        if (self.settings["keep_inactive"] and changes.get("active") is True and observed is not None
                and observed.get("active") is False):
            changes = {k: v for k, v in changes.items() if k != "active"}
            return changes, ["kept inactive: deactivated in Winningtemp (sink setting keep_inactive)"]
        return changes, []

    # -- Sink API -------------------------------------------------------------------------------

    def check(self) -> None:
        """Like Entra's "Test connection": a lookup of an address that cannot exist must answer 200, empty."""
        self.open()
        probe = f"hrsync-check-{uuid.uuid4().hex}@example.invalid"
        if self.client.find_user(probe) is not None:
            raise SinkError(f"Winningtemp answered a lookup of {probe}, which cannot exist, with a user: its "
                            "filter support is broken.", connection=self.context.connection)

    def _person(self, user: dict[str, Any], invited: bool = False) -> SinkPerson:
        return SinkPerson(str(scim.get(user, "id")), to_record(user, self.urn, self.prefix), invited=invited)

    def list_people(self):
        for user in self.client.list_users():
            yield self._person(user)

    def find(self, email: str) -> SinkPerson | None:
        user = self.client.find_user(email)
        return None if user is None else self._person(user)

    def find_by_source_id(self, source_id: str) -> SinkPerson | None:
        user = self.client.find_user(external_id(source_id, self.prefix), attribute="externalId")
        return None if user is None else self._person(user)

    def create(self, record: dict[str, Any]) -> SinkPerson:
        invite = bool(self.invite and self.urn)
        extra = {self.settings["invitation_attribute"]: True} if invite else None
        user = self.client.create_user(to_user(record, self.urn, extra, self.prefix), record=record["email"])
        return self._person(user, invited=invite)

    def update(self, sink_id: str, changes: dict[str, Any], record: dict[str, Any]) -> SinkPerson | None:
        who = record.get("email") or sink_id
        try:
            user = self.client.patch_user(sink_id, operations(changes, self.urn, prefix=self.prefix), record=who)
        except ScimError as exc:
            if exc.scim_type != "noTarget" or "email" not in changes:
                raise
            # The user's e-mails have no primary one (made by hand): replace them all instead.
            user = self.client.patch_user(sink_id, operations(changes, self.urn, whole_emails=True, prefix=self.prefix),
                                          record=who)
        return None if user is None else self._person(user)

    def deactivate(self, sink_id: str) -> None:
        self.client.patch_user(sink_id, [{"op": "replace", "path": "active", "value": False}], record=sink_id)

    def close(self) -> None:
        self.client.close()
