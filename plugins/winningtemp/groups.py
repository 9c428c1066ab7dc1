"""Winningtemp groups over SCIM (``/Groups``): the requests, and the sink's group methods built on them.

Data flow: the engine's group stage calls the sink's group methods (:class:`ScimGroups`, mixed into
the sink) after the people writes. A group is looked up by ``externalId`` (filter, members left
out with ``excludedAttributes=members``), else by ``displayName`` among groups without an
externalId (an admin's group, adopted by writing our externalId onto it); created with ``POST
/Groups`` and at most one batch of members; renamed with ``replace displayName``; members are
added with one ``add`` of a batch and removed with ``remove`` of ``members[value eq "…"]`` - a
large department's member list is never sent or read whole, except under ``memberships:
overwrite``, which must read it. Groups are used only when ``/ResourceTypes`` lists them.
"""

from __future__ import annotations

from typing import Any

from hrsync import ConflictError, RecordError, SinkGroup

from . import scim

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class GroupRequests:
    """The ``/Groups`` requests of :class:`~.client.ScimClient` (a mixin: it uses the client's ``_send``)."""

    def find_groups(self, attribute: str, value: str) -> list[dict[str, Any]]:
        response = self._send("GET", "/Groups", params={"filter": f"{attribute} eq {_quoted(value)}",
                                                        "excludedAttributes": "members"})
        self._check(response, None, "GET /Groups?filter")
        return [g for g in scim.get(self._json(response), "Resources") or [] if isinstance(g, dict)]

    def create_group(self, body: dict[str, Any], record: str) -> dict[str, Any]:
        response = self._send("POST", "/Groups", json=body, record=record)
        if response.status_code == 409 or (response.status_code == 400 and _scim_type(response) == "uniqueness"):
            raise ConflictError(f"Winningtemp already has a group named {body.get('displayName')}", record=record)
        self._check(response, record, "POST /Groups")
        return self._json(response)

    def patch_group(self, group_id: str, operations: list[dict[str, Any]], record: str) -> None:
        response = self._send("PATCH", f"/Groups/{group_id}", json={"schemas": [PATCH_SCHEMA],
                                                                     "Operations": operations}, record=record)
        if response.status_code == 404:
            raise RecordError("The group no longer exists in Winningtemp (deleted there?); hrsync creates it again "
                              "once its link is removed from the state.", record=record)
        self._check(response, record, "PATCH /Groups")

    def group_member_ids(self, group_id: str) -> list[str]:
        response = self._send("GET", f"/Groups/{group_id}", params={"attributes": "members"})
        self._check(response, None, "GET /Groups/{id}")
        return [str(scim.get(m, "value")) for m in scim.get(self._json(response), "members") or []
                if scim.get(m, "value") is not None]


class ScimGroups:
    """The sink's group methods over SCIM (mixed into :class:`~.sink.WinningtempSink`)."""

    holds_groups = True
    member_batch = 100
    client: Any
    context: Any
    capabilities: Any
    groups_created = 0
    prefix = ""

    def groups_available(self) -> bool:
        if self.capabilities is not None and self.capabilities.groups:
            return True
        self.context.warn("Winningtemp's SCIM service does not list Groups in /ResourceTypes, so department and "
                          "team groups were not carried (people were synced). Ask Winningtemp to enable SCIM "
                          "groups, or use the File integration sink.")
        return False

    def find_group(self, external_id: str, name: str) -> SinkGroup | None:
        external_id = self.prefix + external_id  # the connection's external_id_prefix: its groups only
        found = self.client.find_groups("externalId", external_id)
        if found:
            return _group(found[0])
        for group in self.client.find_groups("displayName", name):
            if not scim.get(group, "externalId"):  # an admin's group of that name: adopt it
                self.client.patch_group(str(scim.get(group, "id")), [
                    {"op": "replace", "path": "externalId", "value": external_id}], record=name)
                return _group({**group, "externalId": external_id})
        return None

    def create_group(self, external_id: str, name: str, member_ids: list[str]) -> SinkGroup:
        body = {"schemas": [GROUP_SCHEMA], "displayName": name, "externalId": self.prefix + external_id,
                "members": [{"value": m} for m in member_ids]}
        group = _group(self.client.create_group(body, record=name))
        self.groups_created += 1
        return group

    def rename_group(self, group_id: str, name: str) -> None:
        self.client.patch_group(group_id, [{"op": "replace", "path": "displayName", "value": name}], record=name)

    def add_members(self, group_id: str, member_ids: list[str]) -> None:
        self.client.patch_group(group_id, [{"op": "add", "path": "members",
                                            "value": [{"value": m} for m in member_ids]}], record=group_id)

    def remove_members(self, group_id: str, member_ids: list[str]) -> None:
        self.client.patch_group(group_id, [{"op": "remove", "path": f"members[value eq {_quoted(m)}]"}
                                           for m in member_ids], record=group_id)

    def group_members(self, group_id: str) -> list[str]:
        return self.client.group_member_ids(group_id)

    def group_notices(self) -> list[str]:
        if not self.groups_created:
            return []
        return [f"{self.groups_created} group{'s were' if self.groups_created != 1 else ' was'} created in "
                "Winningtemp over SCIM. Winningtemp shows groups made this way apart from the existing structure "
                "until an admin places them in the hierarchy once (Winningtemp: Settings → Groups)."]


def _scim_type(response: Any) -> Any:
    try:
        return scim.get(response.json(), "scimType")
    except ValueError:
        return None


def _group(group: dict[str, Any]) -> SinkGroup:
    return SinkGroup(str(scim.get(group, "id")), scim.get(group, "externalId"), str(scim.get(group, "displayName")))
