"""What the SCIM service says it supports (RFC 7644 §4), read once per run and by ``hrsync check``.

Data flow: :func:`discover` reads ``/ServiceProviderConfig``, ``/ResourceTypes`` and
``/Schemas``; a 404 on any of them means "not advertised". The sink then sends the HR
extension only when the User resource type lists its URN among ``schemaExtensions``
(setting ``extension: auto``), and says plainly which fields Winningtemp does not receive.
Parsing is tolerant (:mod:`.scim`): case-insensitive names, string booleans, a
ListResponse or a bare list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import scim
from .client import ScimClient


@dataclass
class Capabilities:
    """What the service advertised. ``None`` means it did not say."""

    extensions: set[str] = field(default_factory=set)  # extension URNs of the User resource type, lower-cased
    extension_attributes: dict[str, set[str]] = field(default_factory=dict)  # URN → attribute names, lower-cased
    patch: bool | None = None
    filter: bool | None = None
    resource_types_advertised: bool = False
    #: Whether ``/ResourceTypes`` lists a Group resource type (groups are used only then).
    groups: bool = False

    def advertises(self, urn: str) -> bool:
        return urn.lower() in self.extensions


def _resources(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, list):
        return [r for r in document if isinstance(r, dict)]
    return [r for r in scim.get(document, "Resources") or [] if isinstance(r, dict)]


def _supported(config: Any, feature: str) -> bool | None:
    return scim.as_bool(scim.get(scim.get(config, feature), "supported"))


def discover(client: ScimClient) -> Capabilities:
    caps = Capabilities()
    config = client.discover("/ServiceProviderConfig")
    if config is not None:
        caps.patch, caps.filter = _supported(config, "patch"), _supported(config, "filter")
    resource_types = client.discover("/ResourceTypes")
    if resource_types is not None:
        caps.resource_types_advertised = True
        for resource_type in _resources(resource_types):
            names = {str(scim.get(resource_type, key) or "").lower() for key in ("id", "name")}
            caps.groups = caps.groups or "group" in names
            if "user" not in names:
                continue
            for extension in scim.get(resource_type, "schemaExtensions") or []:
                urn = scim.get(extension, "schema")
                if isinstance(urn, str):
                    caps.extensions.add(urn.lower())
    schemas = client.discover("/Schemas") if caps.extensions else None
    for schema in _resources(schemas) if schemas is not None else []:
        urn = str(scim.get(schema, "id") or "").lower()
        if urn in caps.extensions:
            caps.extension_attributes[urn] = {str(scim.get(a, "name") or "").lower()
                                              for a in scim.get(schema, "attributes") or []}
    return caps
