"""Reads of cooperatives and administrative units, with their joins."""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import AdministrativeUnit, AdministrativeUnitSuccession, Membership
from .units import normalise_code

# =============================================================================================
# Member portal: who may act for which cooperative
# =============================================================================================


def portal_memberships(*, user) -> list[Membership]:
    """The cooperatives this person may act for in the member portal, and in which role.

    This is the one place that decides portal isolation: every portal page of a cooperative
    is reachable only when the cooperative is in this list (cooperatives.portal.portal_view).
    Inactive accounts and ended memberships never count.
    """
    if not user.is_authenticated or not user.is_active:
        return []
    return list(
        Membership.objects.filter(user=user, is_active=True)
        .select_related("cooperative", "cooperative__commune")
        .order_by("cooperative__name", "cooperative_id")
    )


# =============================================================================================
# Administrative units
# =============================================================================================
#
# Units change over time (see cooperatives/units.py): a code may belong to an old commune and
# to the new one that kept it, and the old one points to its successors. These functions
# answer "which unit, on which date" without the caller knowing the history.
#
# Query budget. Each function touches the database once or twice. Called in a loop, pass
# units fetched with UNIT_HISTORY_PREFETCH (and select_related("parent")), e.g.
#
#     units = AdministrativeUnit.objects.select_related("parent").prefetch_related(*UNIT_HISTORY_PREFETCH)
#
# and current_unit_for / legacy_district_for then answer one-step histories (all the reform
# data has) from the prefetched rows, without further queries.

UNIT_HISTORY_PREFETCH = ("successions_out__successor", "successions_in__predecessor__parent")

_Level = AdministrativeUnit.Level


def _in_force_filter(on: datetime.date) -> Q:
    return (Q(valid_from__isnull=True) | Q(valid_from__lte=on)) & (Q(valid_to__isnull=True) | Q(valid_to__gte=on))


def current_communes() -> QuerySet[AdministrativeUnit]:
    """Communes in force today (current, and already begun), by name."""
    return AdministrativeUnit.objects.filter(
        _in_force_filter(timezone.localdate()), level=_Level.COMMUNE, valid_to__isnull=True
    ).order_by("name", "code")


def _successions(units: list[AdministrativeUnit], direction: str) -> dict[int, list[AdministrativeUnitSuccession]]:
    """Successions out of (or into) each unit, from the prefetch cache where there is one,
    else with one query for all the units that lack it."""
    related, own, other = (
        ("successions_out", "predecessor_id", "successor")
        if direction == "out"
        else ("successions_in", "successor_id", "predecessor")
    )
    found: dict[int, list[AdministrativeUnitSuccession]] = {}
    missing = []
    for unit in units:
        if related in getattr(unit, "_prefetched_objects_cache", {}):
            found[unit.pk] = list(getattr(unit, related).all())
        else:
            found[unit.pk] = []
            missing.append(unit.pk)
    if missing:
        joins = [other] if direction == "out" else [other, f"{other}__parent"]
        for succession in AdministrativeUnitSuccession.objects.filter(**{f"{own}__in": missing}).select_related(*joins):
            found[getattr(succession, own)].append(succession)
    return found


def current_unit_for(unit: AdministrativeUnit, *, on: datetime.date | None = None) -> AdministrativeUnit | None:
    """The one unit that `unit` had become by `on` (default today), or None when that is not known.

    Follows successions forward. None when the chain breaks (a commune abolished on 1/1/2025
    whose destination was never recorded), when it splits (several successors, or a
    succession marked partial: part of the territory went elsewhere, so no single answer is
    right), or when `on` is before the unit began. A unit in force on `on` is its own answer.
    """
    on = on or timezone.localdate()
    found: dict[int, AdministrativeUnit] = {}
    frontier, seen = [unit], {unit.pk}
    while frontier:
        to_follow = []
        for candidate in frontier:
            if candidate.is_in_force(on):
                found[candidate.pk] = candidate
            elif candidate.valid_to is None or candidate.valid_to >= on:
                return None  # not begun yet on that date: nothing to follow forward
            else:
                to_follow.append(candidate)
        successions = _successions(to_follow, "out")
        frontier = []
        for candidate in to_follow:
            steps = successions[candidate.pk]
            if not steps or any(step.is_partial for step in steps):
                return None
            for step in steps:
                if step.successor_id not in seen:
                    seen.add(step.successor_id)
                    frontier.append(step.successor)
    return next(iter(found.values())) if len(found) == 1 else None


def legacy_district_for(unit: AdministrativeUnit) -> AdministrativeUnit | None:
    """The pre-2025 district (huyện) a commune belongs to, for addresses written the old way.

    A pre-2025 commune's district is its parent. A 2025 commune has no district; it gets the
    district its predecessors shared, or None when they came from several (or none are known).
    """
    if unit.level != _Level.COMMUNE:
        return None
    parent = unit.parent
    if parent is not None and parent.level == _Level.DISTRICT:
        return parent
    districts = {}
    for step in _successions([unit], "in")[unit.pk]:
        district = step.predecessor.parent
        if district is None or district.level != _Level.DISTRICT:
            return None
        districts[district.pk] = district
    return next(iter(districts.values())) if len(districts) == 1 else None


def find_commune_by_code(code: str, *, on: datetime.date | None = None) -> AdministrativeUnit | None:
    """The commune with this statistics office code in force on `on` (default today).

    Codes were reused in 2025 (new Xã Văn Chấn kept the code 04672 of the old thị trấn Sơn
    Thịnh), so the date decides. When no unit with the code was in force that day, the most
    recent one is returned (the current one, else the one that ended last), so that an old
    code written on a certificate still finds its commune. One query.
    """
    on = on or timezone.localdate()
    units = list(AdministrativeUnit.objects.filter(level=_Level.COMMUNE, code=normalise_code(code, _Level.COMMUNE)))
    for unit in units:
        if unit.is_in_force(on):
            return unit
    if not units:
        return None
    return max(units, key=lambda unit: (unit.valid_to is None, unit.valid_to or datetime.date.min))
