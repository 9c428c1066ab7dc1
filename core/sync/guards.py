"""Circuit breakers: stop a run before its first write when the plan looks like an outage.

Data flow: the engine calls :func:`check_source_size` once the source was read, and
:func:`check_deactivations` (and the others) once the plan is made; each raises
:class:`~hrsync.errors.GuardError`, which stops the run with nothing written. Pure:
they look only at counts, the plan and the stored links. ``--override-guards`` skips them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

from ..config.schema import GuardsConfig
from ..errors import GuardError
from ..plan import CREATE, DEACTIVATE, UPDATE, Action
from ..state.store import Link


def _known(links: Mapping[str, Link]) -> int:
    return sum(1 for link in links.values() if not link.deactivated)


def check_source_size(count: int, links: Mapping[str, Link], limits: GuardsConfig, *, source: str,
                      connection: str) -> None:
    """An empty or sharply shrunken source list is an outage or a permission change, not leavers."""
    known = _known(links)
    if known == 0:
        return
    if count == 0:
        raise GuardError(
            f"{source} returned nobody, but {known} people are linked. Nothing was changed: this looks like "
            "an outage or a permission change. Check the source credentials' access; if the list is really "
            "empty, re-run with --override-guards.", connection=connection, guard="empty_source")
    limit = limits.max_shrink_percent
    shrink = 100.0 * (known - count) / known
    if shrink > limit:
        raise GuardError(
            f"{source} returned {count} people, {shrink:.0f}% fewer than the {known} linked "
            f"(limit {limit:g}%). Nothing was changed. Check the source (filters, permissions); if the drop "
            "is real, re-run with --override-guards.", connection=connection, guard="source_shrink")


def _cap(count: int, known: int, max_count: int, max_pct: float, what: str, advice: str, *, connection: str,
         guard: str) -> None:
    """Stop the run when ``count`` people would change more than the limits allow."""
    known = max(1, known)
    pct = 100.0 * count / known
    if count > max_count or pct > max_pct:
        raise GuardError(
            f"This run would {what} {count} people ({pct:.0f}% of {known} linked); the limits are {max_count} "
            f"people and {max_pct:g}%. Nothing was changed. {advice} If it is right, re-run with "
            "--override-guards.", connection=connection, guard=guard)


def check_reactivations(actions: Iterable[Action], links: Mapping[str, Link], limits: GuardsConfig, *,
                        connection: str, uncreated: Set[str] = frozenset()) -> None:
    """Cap how many inactive people one run may make active again: linked ones, and leavers an earlier run
    left uncreated (``uncreated``) who would now be created active.

    A credential that stops showing status or termination dates, or a bulk import mistake, makes every
    former employee look active: the same mass change as an outage, the other way round, whatever its cause.
    """
    returning = [a for a in actions if (a.kind == UPDATE and a.source_id in links
                                        and "active" in a.changes and a.changes["active"].new is True
                                        and links[a.source_id].active is False)
                 or (a.kind == CREATE and a.source_id in uncreated and a.desired.get("active") is not False)]
    if returning:
        _cap(len(returning), len(links), limits.max_reactivations, limits.max_reactivation_percent,
             "make inactive people active again:", "This is what a source that stopped showing status or "
             "termination dates looks like: check the source's permissions.", connection=connection,
             guard="reactivations")


def check_deactivations(actions: Iterable[Action], links: Mapping[str, Link], limits: GuardsConfig, *,
                        connection: str) -> None:
    """Cap how many linked people one run may deactivate (count and share of the linked)."""
    # Counted: people gone from the source, and linked people the source now marks as
    # leavers. Users matched for the first time this run are the initial reconciliation
    # (reviewed with --dry-run), not a sign of an outage.
    leaving = [a for a in actions
               if a.kind == DEACTIVATE or (a.kind == UPDATE and a.source_id in links
                                           and "active" in a.changes and a.changes["active"].new is False)]
    if leaving:
        _cap(len(leaving), _known(links), limits.max_deactivations, limits.max_deactivation_percent,
             "deactivate", "Review the plan with --dry-run.", connection=connection, guard="deactivations")


def check_membership_removals(removals: int, managed: int, limits: GuardsConfig, *, connection: str) -> None:
    """Cap how many group memberships one run may remove (count, and share of the memberships hrsync keeps):
    a source that suddenly shows everyone in no department must not empty the groups."""
    if removals == 0:
        return
    base = max(1, managed)
    pct = 100.0 * removals / base
    max_count, max_pct = limits.max_membership_removals, limits.max_membership_removal_percent
    if removals > max_count or pct > max_pct:
        raise GuardError(
            f"This run would remove {removals} group memberships ({pct:.0f}% of the {managed} hrsync keeps); the "
            f"limits are {max_count} and {max_pct:g}%. Nothing was changed. Review the plan with --dry-run; if it "
            "is right, re-run with --override-guards.", connection=connection, guard="membership_removals")
