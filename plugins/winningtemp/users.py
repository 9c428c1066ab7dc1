"""hrsync records ↔ SCIM users, as Winningtemp documents the mapping.

Field ↔ SCIM: email → ``userName`` and the primary e-mail (``emails[primary eq true]``);
first_name → ``name.givenName``; last_name → ``name.familyName``; id → ``externalId``;
active → ``active``; gender, birthday, hire_date, termination_date → the HR extension
(``<urn>:gender``, ``birthDate``, ``hireDate``, ``terminationDate``), only when it is sent.
Reading is tolerant (:mod:`.scim`): any casing, string booleans, e-mails without
``type``/``primary``. With an ``external_id_prefix`` (settings), the externalId is the prefix and the
source id; a user whose externalId lacks the prefix reads as another connection's (:func:`source_id`).
"""

from __future__ import annotations

from typing import Any

from . import scim
from .client import USER_SCHEMA

#: standard field → attribute name inside the extension.
EXTENSION_FIELDS = {"gender": "gender", "birthday": "birthDate", "hire_date": "hireDate",
                    "termination_date": "terminationDate"}
CORE_PATHS = {"first_name": "name.givenName", "last_name": "name.familyName", "id": "externalId",
              "active": "active"}
#: The fields Winningtemp documents for SCIM (developer.winningtemp.com, "Properties").
CORE_FIELDS = {"email", "first_name", "last_name", "id", "active"}
PRIMARY_EMAIL = "emails[primary eq true].value"


def source_id(external_id: Any, prefix: str) -> Any:
    """The source id a user's externalId stands for under ``prefix``; for one without the prefix, a text that
    equals no source id and says why (so it is never linked, and a report shows whose it is)."""
    if external_id in (None, "") or not prefix:
        return external_id
    text = str(external_id)
    if text.startswith(prefix):
        return text[len(prefix):]
    return f"{text} (not this connection's: without its external_id_prefix {prefix})"


def to_record(user: dict[str, Any], urn: str | None, prefix: str = "") -> dict[str, Any]:
    """A SCIM user in standard field names; extension fields only when ``urn`` is given."""
    record = {
        "email": scim.primary_email(user),
        "first_name": scim.get_path(user, "name.givenName"),
        "last_name": scim.get_path(user, "name.familyName"),
        "id": source_id(scim.get(user, "externalId"), prefix),
        "active": scim.as_bool(scim.get(user, "active"), default=True),
    }
    if urn:
        ext = scim.get(user, urn) or {}
        for std, attr in EXTENSION_FIELDS.items():
            record[std] = scim.get(ext, attr)
    return record


def to_user(record: dict[str, Any], urn: str | None, extra: dict[str, Any] | None = None,
            prefix: str = "") -> dict[str, Any]:
    """The create request for ``record``; ``extra`` adds extension attributes (e.g. the invitation)."""
    user: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": record["email"],
        "externalId": external_id(record.get("id"), prefix),
        "active": record.get("active", True),
        "name": {k: v for k, v in (("givenName", record.get("first_name")),
                                   ("familyName", record.get("last_name"))) if v is not None},
        "emails": [{"value": record["email"], "type": "work", "primary": True}],
    }
    if urn:
        ext = {attr: record[std] for std, attr in EXTENSION_FIELDS.items() if record.get(std) is not None}
        ext.update(extra or {})
        if ext:
            user["schemas"].append(urn)
            user[urn] = ext
    return user


def external_id(source_id: Any, prefix: str) -> Any:
    """What a source id is written as: after the connection's prefix (None stays None)."""
    return source_id if source_id in (None, "") else f"{prefix}{source_id}"


def operations(changes: dict[str, Any], urn: str | None, *, whole_emails: bool = False,
               prefix: str = "") -> list[dict[str, Any]]:
    """PATCH ``replace`` operations for the changed fields only.

    An e-mail change targets the primary e-mail; ``whole_emails`` replaces the whole
    ``emails`` attribute instead (for users whose e-mails have no ``primary``: ``noTarget``).
    """
    ops = []
    for name, value in sorted(changes.items()):
        if name == "email":
            ops.append({"op": "replace", "path": "userName", "value": value})
            if whole_emails:
                ops.append({"op": "replace", "path": "emails",
                             "value": [{"value": value, "type": "work", "primary": True}]})
            else:
                ops.append({"op": "replace", "path": PRIMARY_EMAIL, "value": value})
        elif name in CORE_PATHS:
            value = external_id(value, prefix) if name == "id" else value
            ops.append({"op": "replace", "path": CORE_PATHS[name], "value": value})
        elif name in EXTENSION_FIELDS and urn:
            ops.append({"op": "replace", "path": f"{urn}:{EXTENSION_FIELDS[name]}", "value": value})
    return ops
