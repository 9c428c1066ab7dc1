"""The Personio source: settings, the record schema, and flattening Personio's attribute objects.

Data flow: :class:`PersonioSource.read` asks the client for employees, flattens each
``{"label", "value", "type", "universal_id"}`` attribute to its value (nested
department/office/team to an org unit ``{id, name}``, supervisor to their e-mail or id and
``supervisor_id``), renames the
tenant's birthday attribute (``dynamic_<n>`` with ``universal_id == date_of_birth``)
to ``birthday``, and yields the dict; the engine validates it with :class:`RecordSchema`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

from hrsync import SecretField, Source, SourceError, standard_field

from .client import PersonioClient

DEFAULT_BASE_URL = "https://api.personio.de"
#: Where an admin allows attributes for an API credential (Personio's v1 docs, 2026-09; older accounts differ).
CREDENTIALS_PATH = "Marketplace → Connected integrations; in older accounts Settings → Integrations → API credentials"
#: Without these, people cannot be matched, named or told apart from leavers: the run stops.
REQUIRED_FIELDS = {"email", "first_name", "last_name", "status"}
REQUIRED_FIELDS_WHY = "skip everyone for a missing e-mail, or create former employees as active"
#: What is checked for readability when the engine does not say which fields it uses (the harness).
DEFAULT_FIELDS = {"id", "email", "first_name", "last_name", "status", "gender", "hire_date", "termination_date",
                  "birthday"}
BIRTHDAY_UNIVERSAL_ID = "date_of_birth"
LEADING_DATE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})")


class ConfigSchema(Schema):
    class Meta:
        unknown = RAISE

    client_id = SecretField(required=True, metadata={
        "description": "Personio API client ID (Marketplace → Connected integrations in Personio)."})
    client_secret = SecretField(required=True, metadata={"description": "Personio API client secret."})
    base_url = fields.URL(load_default=DEFAULT_BASE_URL, require_tld=False, metadata={
        "description": "API root; change only for a sandbox or a proxy."})
    app_id = fields.String(load_default="HRSYNC", validate=validate.Regexp(r"^[A-Z][A-Z0-9_]*\Z",
                           error="Use UPPER_SNAKE_CASE, e.g. ACME_HRSYNC."),
                           metadata={"description": "X-Personio-App-ID sent on every request (UPPER_SNAKE_CASE)."})
    partner_id = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Z][A-Z0-9_]*\Z",
                               error="Use UPPER_SNAKE_CASE, e.g. ACME."), metadata={
        "description": "X-Personio-Partner-ID sent on every request, when Personio gave you one."})
    page_size = fields.Integer(load_default=100, validate=validate.Range(1, 100), metadata={
        "description": "Employees per page (Personio allows at most 100)."})
    birthday_attribute = fields.String(load_default=None, validate=validate.Regexp(r"^dynamic_\d+\Z"), metadata={
        "description": "Attribute key of the birthday (dynamic_<n>) when its universal_id is not date_of_birth."})
    connect_timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0.1),
                                   metadata={"description": "Seconds to connect."})
    read_timeout = fields.Float(load_default=60.0, validate=validate.Range(min=0.1),
                                metadata={"description": "Seconds to wait for an answer."})
    max_retries = fields.Integer(load_default=8, validate=validate.Range(0, 50),
                                 metadata={"description": "Retries per request on 429, 5xx, timeouts."})
    retry_backoff = fields.Float(load_default=1.0, validate=validate.Range(min=0.0), metadata={
        "description": "First back-off in seconds; doubles per retry (Personio's 429 has no Retry-After)."})
    max_requests_per_minute = fields.Float(load_default=290.0, validate=validate.Range(min=0), metadata={
        "description": "Pace requests below Personio's sustained limit (300/min); 0 = no limit."})
    max_requests_per_second = fields.Float(load_default=14.0, validate=validate.Range(min=0), metadata={
        "description": "Pace requests below Personio's burst limit (15/s); 0 = no pacing."})
    max_retry_seconds = fields.Float(load_default=300.0, validate=validate.Range(min=1), metadata={
        "description": "Most seconds one request may take, all its attempts (each waiting up to read_timeout) "
                       "and back-offs together, before the run stops."})
    request_deadline = fields.Float(load_default=120.0, validate=validate.Range(min=1), metadata={
        "description": "Most seconds one request may take from sending to the last byte of its answer, however "
                       "the server trickles it (read_timeout bounds each wait for data only)."})
    max_response_mb = fields.Float(load_default=50.0, validate=validate.Range(min=0.1), metadata={
        "description": "Largest answer read, in megabytes (a page of 100 employees is about 100 KB)."})


class PersonioDate(fields.Date):
    """A Personio date: the leading YYYY-MM-DD, whatever offset follows; never converted to UTC."""

    def _deserialize(self, value, attr, data, **kwargs) -> str | None:
        if value in (None, ""):
            return None
        match = LEADING_DATE.match(str(value))
        if not match:
            raise ValidationError(f"Not a date: {value!r}.")
        try:
            return dt.date.fromisoformat(match.group(1)).isoformat()
        except ValueError:
            raise ValidationError(f"Not a valid date: {match.group(1)!r}.") from None


class RecordSchema(Schema):
    """One Personio employee, in hrsync's standard field names."""

    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, metadata={"description": "Personio employee id.", "standard": "id"})
    email = standard_field("email")
    first_name = standard_field("first_name")
    last_name = standard_field("last_name")
    preferred_name = standard_field("preferred_name")
    gender = standard_field("gender")
    status = standard_field("status")
    hire_date = PersonioDate(allow_none=True, metadata={"description": "Hire date.", "standard": "hire_date"})
    termination_date = PersonioDate(allow_none=True, metadata={"description": "Termination date.",
                                                                  "standard": "termination_date"})
    birthday = PersonioDate(allow_none=True, metadata={"description": "Date of birth.", "standard": "birthday"})
    position = standard_field("position")
    department = standard_field("department")
    office = standard_field("office")
    team = standard_field("team")
    supervisor = standard_field("supervisor")
    supervisor_id = standard_field("supervisor_id")
    employment_type = standard_field("employment_type")
    last_modified_at = standard_field("last_modified_at")

    @pre_load
    def _clean(self, data: dict, **kwargs) -> dict:
        data = dict(data)
        if data.get("id") is not None:
            data["id"] = str(data["id"])
        gender = data.get("gender")
        data["gender"] = gender.strip().lower() if isinstance(gender, str) and gender.strip() else None
        status = data.get("status")
        data["status"] = status.strip().lower() if isinstance(status, str) and status.strip() else None
        for name in ("email", "first_name", "last_name", "preferred_name", "position", "employment_type"):
            if isinstance(data.get(name), str):
                data[name] = data[name].strip() or None
        return data


def flatten(attributes: dict[str, Any], birthday_key: str | None) -> dict[str, Any]:
    """Personio attribute objects → plain values under standard names."""
    out: dict[str, Any] = {}
    for key, attr in attributes.items():
        value = attr.get("value") if isinstance(attr, dict) else attr
        if isinstance(value, dict) and "attributes" in value:
            nested = value["attributes"] or {}
            if value.get("type") == "Employee":
                manager = _attr_value(nested.get("id"))
                out[f"{key}_id"] = None if manager is None else str(manager)
                value = _attr_value(nested.get("email")) or manager
                value = None if value is None else str(value)
            else:  # department, office, team (null when unset): an org unit
                value = {"id": nested.get("id"), "name": nested.get("name")}
        out[key] = value
    if birthday_key:
        out["birthday"] = out.pop(birthday_key, None)
    return out


def _attr_value(attr: Any) -> Any:
    return attr.get("value") if isinstance(attr, dict) else attr


class PersonioSource(Source):
    """Employees of a Personio account (API v1)."""

    name = "personio"
    title = "Personio"
    ConfigSchema = ConfigSchema
    RecordSchema = RecordSchema
    key_field = "id"

    @classmethod
    def id_origin(cls, settings):
        # One API credential reads one company: its ids mean the same people in every connection using it.
        return f"{settings['base_url'].rstrip('/').lower()} {settings['client_id'].reveal()}"

    def __init__(self, settings, context) -> None:
        super().__init__(settings, context)
        s = self.settings
        retries, connect, read = context.network_limits(retries=s["max_retries"], connect=s["connect_timeout"],
                                                        read=s["read_timeout"])
        self.client = PersonioClient(
            base_url=s["base_url"], client_id=s["client_id"].reveal(), client_secret=s["client_secret"].reveal(),
            app_id=s["app_id"], partner_id=s["partner_id"], on_notice=context.warn, page_size=s["page_size"],
            connect_timeout=connect, read_timeout=read, max_retries=retries,
            retry_backoff=s["retry_backoff"], max_retry_seconds=s["max_retry_seconds"],
            max_requests_per_second=s["max_requests_per_second"],
            max_requests_per_minute=s["max_requests_per_minute"], connection=context.connection,
            request_deadline=s["request_deadline"], max_response_mb=s["max_response_mb"], stopping=context.stopping,
        )
        self.birthday_key: str | None = None
        self.unreadable: set[str] = set()

    def open(self) -> None:
        """Learn what the API credential may read; stop when it cannot read what the sync needs."""
        readable = {a.get("key"): a for a in self.client.attributes()}
        self.birthday_key = self._birthday_key(readable)
        wanted = self.context.wanted_fields
        considered = DEFAULT_FIELDS if wanted is None else wanted
        self.unreadable = {f for f in considered if f != "id" and f in self.RecordSchema().fields
                           and self._key(f) not in readable}
        missing = sorted(self.unreadable & REQUIRED_FIELDS)
        if missing:
            raise SourceError(
                f"Personio's API credential cannot read {_names(missing)}, which the sync needs: it would "
                f"{REQUIRED_FIELDS_WHY}. Nothing was changed. Allow {'them' if len(missing) > 1 else 'it'} among "
                f"the readable employee attributes of this integration in Personio ({CREDENTIALS_PATH}).",
                connection=self.context.connection)
        lacking = sorted(self.unreadable - {"birthday"})  # the birthday has its own message
        if lacking:
            them = "them" if len(lacking) > 1 else "it"
            self.context.warn(
                f"Personio's API credential cannot read {_names(lacking)}; hrsync leaves {them} as they are in the "
                f"app. Allow {them} among the readable employee attributes of this integration in Personio "
                f"({CREDENTIALS_PATH}).")
        # Ask only for what the sync uses: no salary, no IBAN in memory (id always comes back).
        if wanted is not None:
            self.client.attributes_wanted = sorted(
                k for k in (self._key(f) for f in wanted if f != "id") if k is not None and k in readable)

    def unavailable_fields(self) -> set[str]:
        return set(self.unreadable)

    def confirm_absent(self, source_ids: set[str]) -> set[str]:
        """Looked up one by one (``GET /v1/company/employees/{id}``): gone when Personio answers 404."""
        return {source_id for source_id in source_ids if source_id.isdigit() and not self.client.exists(source_id)}

    def check(self) -> None:
        self.client.authenticate()
        self.open()
        self.client.get("/v1/company/employees", {"limit": 1, "offset": 0})

    def _key(self, field: str) -> str | None:
        if field == "birthday":
            return self.birthday_key
        return "supervisor" if field == "supervisor_id" else field

    def _birthday_key(self, readable: dict[str, dict]) -> str | None:
        """The tenant's birthday attribute key, or None (reported once) when it is not readable."""
        configured = self.settings.get("birthday_attribute")
        if configured:
            if configured in readable:
                return configured
            self.context.warn(
                f"The birthday attribute {configured} (source setting birthday_attribute) is not readable with "
                "these API credentials; birthdays are left as they are in the app. Allow that attribute among the "
                f"readable employee attributes of this integration in Personio ({CREDENTIALS_PATH}).")
            return None
        for key, attr in readable.items():
            if attr.get("universal_id") == BIRTHDAY_UNIVERSAL_ID:
                return key
        if "birthday" in (DEFAULT_FIELDS if self.context.wanted_fields is None else self.context.wanted_fields):
            self.context.warn(
                "No birthday attribute (universal_id date_of_birth) is readable with these API credentials; "
                "birthdays are left as they are in the app. Allow the date-of-birth attribute among the readable "
                f"employee attributes of this integration in Personio ({CREDENTIALS_PATH}), or name it with the "
                "source setting birthday_attribute.")
        return None

    def read(self):
        for attributes in self.client.employees():
            yield flatten(attributes, self.birthday_key)

    def close(self) -> None:
        self.client.close()


def _names(fields: list[str]) -> str:
    labels = [f.replace("_", " ") for f in fields]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
