"""Whether Winningtemp's answer really says what hrsync takes it to say: a write done, a list page whole.

A write counts only with a well-formed success (RFC 7644 §3.3, §3.5.2): a create is ``201`` (or
``200``) with the user and its ``id``; a PATCH is ``204``, or ``200`` with the user. A ``200``
carrying a SCIM error, an empty or foreign body, or any other status is not a write, whatever its
code says. A list page is consistent (RFC 7644 §3.4.2.4) when it holds no more users than were asked
for, than its ``itemsPerPage`` says, or than ``totalResults`` leaves. Pure functions, no HTTP.
"""

from __future__ import annotations

from typing import Any

import requests

from . import scim

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def body_of(response: requests.Response) -> Any:
    """The answer's JSON, or None when it has none or it is not JSON."""
    try:
        return response.json() if response.content else None
    except ValueError:
        return None


def scim_problem(response: requests.Response) -> tuple[str, str | None]:
    """The SCIM error as text (status, scimType, detail) and its scimType."""
    body = body_of(response)
    detail = scim.get(body, "detail")
    scim_type = scim.get(body, "scimType")
    text = f"HTTP {response.status_code}"
    if scim_type:
        text += f" ({scim_type})"
    if detail:
        text += f": {str(detail)[:300]}"
    return text, scim_type if isinstance(scim_type, str) else None


def _is_error(body: Any) -> bool:
    schemas = scim.get(body, "schemas")
    return isinstance(schemas, list) and any(str(s).lower() == ERROR_SCHEMA.lower() for s in schemas)


def _as_user(response: requests.Response, body: Any) -> str | None:
    """Why ``body`` is not a user (None when it is one)."""
    if _is_error(body):
        return f"a SCIM error ({scim_problem(response)[0]})"
    if not isinstance(body, dict):
        return "no user" if body is None else "something that is not a user"
    user_id = scim.get(body, "id")
    if user_id in (None, "") or isinstance(user_id, (dict, list, bool)) or scim.get(body, "Resources") is not None:
        return "something that is not a user with an id"
    return None


def write_problem(response: requests.Response, *, create: bool) -> str | None:
    """Why this answer does not confirm the write (None when it does)."""
    status = response.status_code
    if not create and status == 204:
        return None
    if status not in ((200, 201) if create else (200,)):
        return f"it answered HTTP {status}, which is not a success a SCIM {'create' if create else 'update'} gives"
    problem = _as_user(response, body_of(response))
    return None if problem is None else f"it answered HTTP {status} with {problem}"


def page_problem(body: Any, start: int, asked: int, resources: list[Any]) -> str | None:
    """Why a list page's metadata contradicts its users (None when it does not)."""
    total, per_page = scim.get(body, "totalResults"), scim.get(body, "itemsPerPage")
    try:
        total = None if total is None else int(total)
        per_page = None if per_page is None else int(per_page)
    except (TypeError, ValueError):
        return f"totalResults {total!r} or itemsPerPage {per_page!r} is not a number"
    if total is None:
        return "it says no totalResults"
    if len(resources) > asked:
        return f"the page starting at {start} holds {len(resources)} users although {asked} were asked for"
    if per_page is not None and per_page != len(resources):
        return f"the page starting at {start} says itemsPerPage {per_page} but holds {len(resources)} users"
    if start - 1 + len(resources) > total:
        return (f"the page starting at {start} holds {len(resources)} users, more than totalResults {total} "
                "leaves")
    return None
