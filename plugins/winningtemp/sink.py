"""The Winningtemp sink: hrsync records ↔ SCIM users, status rules and invitations.

Data flow: the engine hands :meth:`WinningtempSink.prepare` a mapped record in
standard field names; ``prepare`` applies the status rules (``active``), the
pre-hire window and the extension switch, giving the desired state the engine diffs.
Writes become SCIM requests: a full user on create, ``replace`` operations for the
changed paths only on update, ``active: false`` on deactivate.

Field ↔ SCIM: email → ``userName`` and the primary work e-mail; first_name →
``name.givenName``; last_name → ``name.familyName``; id → ``externalId``; status and
termination_date → ``active``; gender, birthday, hire_date, termination_date → the
extension (``<urn>:gender``, ``birthDate``, ``hireDate``, ``terminationDate``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from hrsync import STATUSES, Defer, SecretField, Sink, SinkPerson, standard_field

from .client import USER_SCHEMA, ScimClient

DEFAULT_BASE_URL = "https://scim.prod.winningtemp.com/api/scim"
DEFAULT_URN = "urn:ietf:params:scim:schemas:extension:winningtemp:2.0:User"
#: standard field → attribute name inside the extension.
EXTENSION_FIELDS = {"gender": "gender", "birthday": "birthDate", "hire_date": "hireDate",
                    "termination_date": "terminationDate"}
CORE_PATHS = {"first_name": "name.givenName", "last_name": "name.familyName", "id": "externalId",
              "active": "active"}


class ConfigSchema(Schema):
    class Meta:
        unknown = RAISE

    base_url = fields.URL(load_default=DEFAULT_BASE_URL, require_tld=False,
                          metadata={"description": "SCIM base URL."})
    token = SecretField(required=True, metadata={"description": "SCIM bearer token issued by Winningtemp."})
    extension = fields.Boolean(load_default=True, metadata={
        "description": "Send gender, birthday, hire and termination date in the SCIM extension."})
    extension_urn = fields.String(load_default=DEFAULT_URN, validate=validate.Regexp(r"^urn:[^\s]+$"),
                                  metadata={"description": "URN of the SCIM schema extension."})
    page_size = fields.Integer(load_default=100, validate=validate.Range(1, 1000),
                               metadata={"description": "Users per list page."})
    active_statuses = fields.List(fields.String(validate=validate.OneOf(STATUSES)),
                                  load_default=lambda: ["active", "onboarding", "leave"],
                                  metadata={"description": "Source statuses that make a user active."})
    keep_inactive = fields.Boolean(load_default=True, metadata={
        "description": "Never reactivate a user deactivated in Winningtemp by someone else."})
    pre_hire_days = fields.Integer(load_default=0, validate=validate.Range(min=0), metadata={
        "description": "Create future hires this many days before their hire date; 0 = at once."})
    invite_new_users = fields.Boolean(load_default=False, metadata={
        "description": "Ask Winningtemp to invite users the sync creates."})
    invitation_attribute = fields.String(load_default="sendInvitation", validate=validate.Regexp(r"^\w+$"),
                                         metadata={"description": "Extension attribute that carries the "
                                                                  "invitation request on create."})
    connect_timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0.1),
                                   metadata={"description": "Seconds to connect."})
    read_timeout = fields.Float(load_default=60.0, validate=validate.Range(min=0.1),
                                metadata={"description": "Seconds to wait for an answer."})
    max_retries = fields.Integer(load_default=6, validate=validate.Range(0, 50),
                                 metadata={"description": "Retries of a request answered 429/503."})
    retry_backoff = fields.Float(load_default=1.0, validate=validate.Range(min=0.0), metadata={
        "description": "Back-off in seconds when no Retry-After is sent; doubles per retry."})

    @validates_schema
    def _invitations_need_extension(self, data, **kwargs):
        if data.get("invite_new_users") and not data.get("extension", True):
            raise ValidationError("invite_new_users needs extension: true (the request travels in the "
                                  "extension).", "invite_new_users")


class RecordSchema(Schema):
    """What the Winningtemp sink accepts, in standard field names."""

    class Meta:
        unknown = EXCLUDE

    email = standard_field("email", required=True)
    first_name = standard_field("first_name")
    last_name = standard_field("last_name")
    id = fields.String(allow_none=True, metadata={"description": "The source's id, sent as externalId.",
                                                  "standard": "id"})
    status = standard_field("status")
    gender = standard_field("gender")
    birthday = standard_field("birthday")
    hire_date = standard_field("hire_date")
    termination_date = standard_field("termination_date")


class WinningtempSink(Sink):
    """Winningtemp users, provisioned over SCIM 2.0."""

    name = "winningtemp"
    title = "Winningtemp"
    ConfigSchema = ConfigSchema
    RecordSchema = RecordSchema

    def __init__(self, settings, context) -> None:
        super().__init__(settings, context)
        s = self.settings
        self.urn = s["extension_urn"]
        self.client = ScimClient(
            base_url=s["base_url"], token=s["token"].reveal(), page_size=s["page_size"],
            connect_timeout=s["connect_timeout"], read_timeout=s["read_timeout"],
            max_retries=s["max_retries"], retry_backoff=s["retry_backoff"], connection=context.connection,
        )
        if not s["extension"]:
            context.warn("Gender, birthday, hire date and termination date were not transmitted to Winningtemp: "
                         "the SCIM extension is off (sink setting extension: false).")

    # -- fields ------------------------------------------------------------------------

    def carried_fields(self) -> set[str]:
        carried = {"email", "first_name", "last_name", "id", "active"}
        if self.settings["extension"]:
            carried |= set(EXTENSION_FIELDS)
        return carried

    def prepare(self, record: dict[str, Any]) -> dict[str, Any] | Defer:
        today = self.context.today
        hire = record.get("hire_date")
        window = self.settings["pre_hire_days"]
        if window and hire and dt.date.fromisoformat(hire) > today + dt.timedelta(days=window):
            created_on = dt.date.fromisoformat(hire) - dt.timedelta(days=window)
            return Defer(f"starts on {hire}; created on {created_on.isoformat()} ({window} days before, "
                         "sink setting pre_hire_days)")
        termination = record.get("termination_date")
        status = record.get("status")
        active = (status is None or status in self.settings["active_statuses"]) and not (
            termination and dt.date.fromisoformat(termination) < today)
        desired = {k: v for k, v in record.items() if k in self.carried_fields()}
        desired["active"] = active
        return desired

    def keep_as_is(self, changes, observed):
        if (self.settings["keep_inactive"] and changes.get("active") is True and observed is not None
                and observed.get("active") is False):
            changes = {k: v for k, v in changes.items() if k != "active"}
            return changes, ["kept inactive: deactivated in Winningtemp (sink setting keep_inactive)"]
        return changes, []

    def notices(self, invited: int) -> list[str]:
        if not invited:
            return []
        return [f"Winningtemp was asked to invite {invited} new user{'s' if invited != 1 else ''} "
                "(sink setting invite_new_users)."]

    # -- SCIM ↔ record -------------------------------------------------------------------

    def to_record(self, user: dict[str, Any]) -> dict[str, Any]:
        emails = user.get("emails") or []
        primary = next((e for e in emails if e.get("primary")), emails[0] if emails else {})
        name = user.get("name") or {}
        record = {
            "email": (primary.get("value") or user.get("userName") or "").strip().lower() or None,
            "first_name": name.get("givenName"), "last_name": name.get("familyName"),
            "id": user.get("externalId"), "active": user.get("active", True),
        }
        if self.settings["extension"]:
            ext = user.get(self.urn) or {}
            for std, attr in EXTENSION_FIELDS.items():
                record[std] = ext.get(attr)
        return record

    def to_user(self, record: dict[str, Any]) -> dict[str, Any]:
        user: dict[str, Any] = {
            "schemas": [USER_SCHEMA],
            "userName": record["email"],
            "externalId": record.get("id"),
            "active": record.get("active", True),
            "name": {k: v for k, v in (("givenName", record.get("first_name")),
                                       ("familyName", record.get("last_name"))) if v is not None},
            "emails": [{"value": record["email"], "type": "work", "primary": True}],
        }
        if self.settings["extension"]:
            ext = {attr: record[std] for std, attr in EXTENSION_FIELDS.items() if record.get(std) is not None}
            if self.settings["invite_new_users"]:
                ext[self.settings["invitation_attribute"]] = True
            if ext:
                user["schemas"].append(self.urn)
                user[self.urn] = ext
        return user

    def operations(self, changes: dict[str, Any]) -> list[dict[str, Any]]:
        ops = []
        for name, value in sorted(changes.items()):
            if name == "email":
                ops.append({"op": "replace", "path": "userName", "value": value})
                ops.append({"op": "replace", "path": 'emails[type eq "work"].value', "value": value})
            elif name in CORE_PATHS:
                ops.append({"op": "replace", "path": CORE_PATHS[name], "value": value})
            elif name in EXTENSION_FIELDS:
                ops.append({"op": "replace", "path": f"{self.urn}:{EXTENSION_FIELDS[name]}", "value": value})
        return ops

    # -- Sink API -------------------------------------------------------------------------

    def check(self) -> None:
        for _ in self.client.list_users():
            break

    def list_people(self):
        for user in self.client.list_users():
            yield SinkPerson(user["id"], self.to_record(user))

    def find(self, key: str) -> SinkPerson | None:
        user = self.client.find_user(key)
        return None if user is None else SinkPerson(user["id"], self.to_record(user))

    def create(self, record: dict[str, Any]) -> SinkPerson:
        user = self.client.create_user(self.to_user(record), record=record["email"])
        return SinkPerson(user["id"], self.to_record(user), invited=self.settings["invite_new_users"])

    def update(self, sink_id: str, changes: dict[str, Any], record: dict[str, Any]) -> None:
        self.client.patch_user(sink_id, self.operations(changes), record=record.get("email") or sink_id)

    def deactivate(self, sink_id: str) -> None:
        self.client.patch_user(sink_id, [{"op": "replace", "path": "active", "value": False}], record=sink_id)

    def close(self) -> None:
        self.client.close()
