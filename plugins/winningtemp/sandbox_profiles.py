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
* ``entra`` - answers as Entra-style servers write them: capitalised attribute names,
  ``"True"``/``"False"`` strings, a duplicate as ``400 uniqueness``; a PATCH whose filter
  matches nothing adds the value.
* ``no-list`` - an unfiltered ``GET /Users`` is refused (``400 tooMany``); lookups work.
* ``no-groups`` - users only: ``/ResourceTypes`` lists no Group and ``/Groups`` is not served.
* ``rate-limited`` - Winningtemp's rate-limit headers on every answer (``X-RateLimit-Reset``
  an ISO-8601 UTC timestamp with 7 fractional digits); past the limit, ``429``.
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
    """A SCIM document as Entra-style servers write it: Capitalised names, booleans as strings."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return [entra_dress(v) for v in value]
    if isinstance(value, dict):
        return {(k if k.startswith("urn:") or k in ("schemas", "Resources") else k[:1].upper() + k[1:]):
                entra_dress(v) for k, v in value.items()}
    return value
