"""Profiles of the SCIM sandbox: the ways real SCIM services say no, on top of one scim2-server.

A sandbox that accepts whatever we send proves nothing. Each profile builds scim2-server's
provider (its schemas, resource types and policy) and tells the WSGI wrapper
(:mod:`.sandbox_wsgi`) how to misbehave:

* ``documented`` - only what Winningtemp documents: core User with userName, name
  (givenName, familyName), emails, externalId, active; no extension; anything else is a
  ``400 invalidSyntax``. The default, and what ``hrsync demo`` runs against.
* ``extended`` - the full core User plus the HR extension, advertised in ``/ResourceTypes``.
* ``strict`` - the full core User, no extension, ``400`` on any unknown attribute.
* ``lenient`` - the full core User, no extension, unknown attributes dropped silently.
* ``entra`` - speaks with Entra ID, the client Winningtemp documents: answers with capitalised
  attribute names (``UserName``, ``Name.GivenName``: valid, RFC 7643 §2.1 makes names
  case-insensitive), a duplicate as ``400 uniqueness``; a PATCH whose filter matches nothing
  adds the value, and ``remove`` with a value removes that value. Like every profile it
  accepts Entra's ``"True"``/``"False"`` strings and capitalised names in requests.
* ``no-list`` - an unfiltered ``GET /Users`` is refused (``400 tooMany``); lookups work.
* ``no-groups`` - users only: ``/ResourceTypes`` lists no Group and ``/Groups`` is not served.
* ``rate-limited`` - Winningtemp's rate-limit headers on every answer (``X-RateLimit-Reset``
  an ISO-8601 UTC timestamp with 7 fractional digits); past the limit, ``429``.

A profile may model a client's dialect in what it accepts; what it serves is valid SCIM
(tests/test_scim_conformance.py runs scim2-tester against each). Answers that are not valid
SCIM, such as booleans written as strings, are fault switches (:func:`string_booleans`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXTENSION_ATTRIBUTES = ["gender", "birthDate", "hireDate", "terminationDate", "sendInvitation"]
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
DOCUMENTED_ATTRIBUTES = {"userName", "name", "emails", "externalId", "active"}


@dataclass(frozen=True)
class Profile:
    name: str
    extension: bool = False
    documented_only: bool = False
    #: scim2-models ScimPolicy settings (unknown, unmatched_path_filter, remove_value_as_filter).
    policy: dict[str, str] = field(default_factory=dict)
    entra: bool = False
    no_list: bool = False
    #: (requests, seconds) per rate-limit window, or None.
    rate_limit: tuple[int, float] | None = None
    #: Whether ``/Groups`` is served (and listed in ``/ResourceTypes``), as scim2-server serves it.
    groups: bool = True


PROFILES = {p.name: p for p in [
    Profile("documented", documented_only=True),
    Profile("extended", extension=True),
    Profile("strict"),
    Profile("lenient", policy={"unknown": "ignore"}),
    Profile("entra", entra=True, policy={"unmatched_path_filter": "create", "remove_value_as_filter": "apply"}),
    Profile("no-list", no_list=True),
    Profile("rate-limited", rate_limit=(20, 1.0)),
    Profile("no-groups", groups=False),
]}


def _attribute(name: str) -> dict[str, Any]:
    return {"name": name, "type": "boolean" if name == "sendInvitation" else "string", "multiValued": False,
            "required": False, "caseExact": False, "mutability": "readWrite", "returned": "default",
            "uniqueness": "none", "description": name}


def build_provider(profile: Profile, urn: str, extension_attributes: list[str] | None = None):
    """scim2-server's ScimProvider for ``profile``: schemas, resource types, policy, bearer auth."""
    from scim2_models import ResourceType, Schema, ScimPolicy, ScimProvider
    from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
    from scim2_server.utils import (
        load_default_resource_types,
        load_default_schemas,
        load_default_service_provider_config,
    )

    schemas = load_default_schemas()
    resource_types = load_default_resource_types()
    user_type = resource_types["User"].model_dump()
    user_type["schemaExtensions"] = []
    if profile.documented_only:
        user = schemas[CORE_USER].model_dump()
        user["attributes"] = [a for a in user["attributes"] if a["name"] in DOCUMENTED_ATTRIBUTES]
        for attribute in user["attributes"]:
            if attribute["name"] == "name":
                attribute["subAttributes"] = [s for s in attribute["subAttributes"]
                                              if s["name"] in ("givenName", "familyName")]
        user_schemas = [Schema.model_validate(user)]
    else:
        user_schemas = [schemas[CORE_USER]]
    if profile.extension:
        user_schemas.append(Schema.model_validate({"id": urn, "name": "WinningtempUser",
                                                   "description": "HR fields carried by hrsync",
                                                   "attributes": [_attribute(a) for a in
                                                                  extension_attributes or EXTENSION_ATTRIBUTES]}))
        user_type["schemaExtensions"].append({"schema": urn, "required": False})
    config = load_default_service_provider_config()
    config.authentication_schemes = [BEARER_TOKEN_SCHEME]
    policy = ScimPolicy(**{key: getattr(ScimPolicy, _ENUMS[key])(value) for key, value in profile.policy.items()})
    types = [ResourceType.model_validate(user_type)]
    if profile.groups:
        user_schemas.append(schemas[GROUP])
        types.append(resource_types["Group"])
    return ScimProvider.from_discovery(user_schemas, types, config=config, policy=policy)


_ENUMS = {"unknown": "Unknown", "unmatched_path_filter": "UnmatchedPathFilter",
          "remove_value_as_filter": "RemoveValue"}


def entra_dress(value: Any) -> Any:
    """A SCIM document with Capitalised attribute names, as Winningtemp's documentation writes them (still valid
    SCIM: names are case-insensitive, RFC 7643 §2.1); values are untouched."""
    if isinstance(value, list):
        return [entra_dress(v) for v in value]
    if isinstance(value, dict):
        return {(k if k.startswith("urn:") or k in ("schemas", "Resources") else k[:1].upper() + k[1:]):
                entra_dress(v) for k, v in value.items()}
    return value


def string_booleans(value: Any) -> Any:
    """A SCIM document with its booleans written ``"True"``/``"False"``, as some servers answer: not valid SCIM
    (RFC 7643 §2.3.2), so a fault switch (``string_booleans``), not a profile."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return [string_booleans(v) for v in value]
    if isinstance(value, dict):
        return {k: string_booleans(v) for k, v in value.items()}
    return value
