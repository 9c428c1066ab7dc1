"""Changes of e-mail among linked people, ordered so that no write waits on an address still held.

Data flow: the applier hands over the run's e-mail changes (:func:`order_moves`) before applying them one at
a time. A change whose new address another person of this run still holds goes after that person moved away.
When every remaining change waits on another - people swapping addresses, or a longer cycle (HR fixing a
mix-up) - one of them is first moved to a temporary address (returned as a *park*), which frees its old
address for the next in the cycle; its own change then comes last. Without this every run failed each of
them with a bare "409 uniqueness" and each user kept the other's address.
"""

from __future__ import annotations

import re

from ..connectors import MATCH_FIELD
from ..plan import Action


def _address(value: object) -> str:
    return str(value or "").strip().lower()


def temporary_address(action: Action, run_id: int) -> str:
    """A unique address, in the person's own domain, held only while a cycle of changes is applied."""
    domain = _address(action.changes[MATCH_FIELD].new).rpartition("@")[2] or "invalid"
    tag = re.sub(r"[^a-z0-9]", "", str(action.source_id).lower())[:32] or "x"
    return f"hrsync-moving-{tag}-run{run_id}@{domain}"


def order_moves(moves: list[Action], *, run_id: int) -> tuple[list[Action], list[tuple[Action, str]]]:
    """The changes in an order that frees each address before it is taken, and the parks that order needs:
    ``(action, temporary address)`` pairs, to be applied first, in order."""
    held = {id(a): _address(a.changes[MATCH_FIELD].old) for a in moves}
    pending, ordered, parks = list(moves), [], []
    while pending:
        taken = {held[id(a)] for a in pending}
        ready = [a for a in pending if _address(a.changes[MATCH_FIELD].new) not in taken
                 or _address(a.changes[MATCH_FIELD].new) == held[id(a)]]
        if not ready:  # each waits on another, so following who waits on whom reaches a cycle: park one of it
            member = _in_a_cycle(pending, held)
            held[id(member)] = temporary_address(member, run_id)
            parks.append((member, held[id(member)]))
            continue
        ordered.extend(ready)
        chosen = {id(a) for a in ready}
        pending = [a for a in pending if id(a) not in chosen]
    return ordered, parks


def _in_a_cycle(pending: list[Action], held: dict[int, str]) -> Action:
    """A change on a cycle of changes each waiting on the next (every one in ``pending`` waits on another):
    parking it frees the address the one before it waits for. (The first pending change may only lead into
    a cycle; parking that one would free nothing.)"""
    holder = {held[id(a)]: a for a in pending}
    seen: set[int] = set()
    action = pending[0]
    while id(action) not in seen:
        seen.add(id(action))
        action = holder[_address(action.changes[MATCH_FIELD].new)]
    return action
