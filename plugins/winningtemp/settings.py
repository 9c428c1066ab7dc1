"""The Winningtemp sink's settings and the records it accepts (marshmallow schemas).

Every setting is documented in docs/configuration.md ("Sink: winningtemp"); a test checks it.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from hrsync import STATUSES, SecretField, standard_field

DEFAULT_BASE_URL = "https://scim.prod.winningtemp.com/api/scim"
DEFAULT_URN = "urn:ietf:params:scim:schemas:extension:winningtemp:2.0:User"


class ExtensionMode(fields.Field):
    """``auto`` (the default), ``true`` or ``false``."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or value == "auto":
            return value
        if isinstance(value, str) and value.strip().lower() in ("auto", "true", "false"):
            return {"auto": "auto", "true": True, "false": False}[value.strip().lower()]
        raise ValidationError("Use auto, true or false.")


class ConfigSchema(Schema):
    class Meta:
        unknown = RAISE

    base_url = fields.URL(load_default=DEFAULT_BASE_URL, require_tld=False,
                          metadata={"description": "SCIM base URL."})
    token = SecretField(required=True, charset="visible-ascii",
                        metadata={"description": "SCIM bearer token issued by Winningtemp."})
    extension = ExtensionMode(load_default="auto", metadata={
        "description": "auto: send gender, birthday, hire and termination date in the SCIM extension only when "
                       "the service advertises it; true: always; false: never."})
    extension_urn = fields.String(load_default=DEFAULT_URN, validate=validate.Regexp(r"^urn:[^\s]+\Z"),
                                  metadata={"description": "URN of the SCIM schema extension."})
    page_size = fields.Integer(load_default=100, validate=validate.Range(1, 1000),
                               metadata={"description": "Users per list page."})
    active_statuses = fields.List(fields.String(validate=validate.OneOf(STATUSES)),
                                  load_default=lambda: ["active", "onboarding", "leave"],
                                  metadata={"description": "Source statuses that make a user active."})
    external_id_prefix = fields.String(load_default="", validate=validate.Regexp(r"^[A-Za-z0-9_.:-]{0,40}\Z"),
                                       metadata={
        "description": "Put before every source id this connection writes as externalId (users and groups), and "
                       "take only users and groups carrying it as this connection's: required, one per connection, "
                       "when connections share a base_url (e.g. two companies in one tenant). Empty: ids as they "
                       "are."})
    keep_inactive = fields.Boolean(load_default=True, metadata={
        "description": "Never reactivate a user deactivated in Winningtemp by someone else."})
    pre_hire_days = fields.Integer(load_default=0, validate=validate.Range(min=0), metadata={
        "description": "Create future hires this many days before their hire date; 0 = at once."})
    invite_new_users = fields.Boolean(load_default=False, metadata={
        "description": "Ask Winningtemp to invite users the sync creates."})
    invitation_attribute = fields.String(load_default="sendInvitation", validate=validate.Regexp(r"^\w+\Z"),
                                         metadata={"description": "Extension attribute that carries the "
                                                                  "invitation request on create."})
    connect_timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0.1),
                                   metadata={"description": "Seconds to connect."})
    read_timeout = fields.Float(load_default=60.0, validate=validate.Range(min=0.1),
                                metadata={"description": "Seconds to wait for an answer."})
    max_retries = fields.Integer(load_default=6, validate=validate.Range(0, 50), metadata={
        "description": "Retries of a request answered 429/503, or whose connection failed or timed out."})
    retry_backoff = fields.Float(load_default=1.0, validate=validate.Range(min=0.0), metadata={
        "description": "Back-off in seconds when no Retry-After is sent; doubles per retry."})
    max_retry_seconds = fields.Float(load_default=300.0, validate=validate.Range(min=1), metadata={
        "description": "Most seconds one request may take, all its attempts (each waiting up to read_timeout) "
                       "and back-offs together, before it fails."})
    max_in_flight = fields.Integer(load_default=4, validate=validate.Range(1, 16), metadata={
        "description": "Writes sent at once; halved while Winningtemp throttles (429/503), regrown slowly. "
                       "1 = one at a time."})
    max_wait_seconds = fields.Float(load_default=300.0, validate=validate.Range(min=0), metadata={
        "description": "Longest wait for a rate-limit window (Retry-After, X-RateLimit-Reset) before giving up."})

    request_deadline = fields.Float(load_default=120.0, validate=validate.Range(min=1), metadata={
        "description": "Most seconds one request may take from sending to the last byte of its answer, however "
                       "the server trickles it (read_timeout bounds each wait for data only)."})
    max_response_mb = fields.Float(load_default=50.0, validate=validate.Range(min=0.1), metadata={
        "description": "Largest answer read, in megabytes (a page of 100 users is about 100 KB)."})

    @validates_schema
    def _invitations_need_extension(self, data, **kwargs):
        if data.get("invite_new_users") and data.get("extension") is False:
            raise ValidationError("invite_new_users needs the extension (auto or true): the request travels in "
                                  "it.", "invite_new_users")


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
