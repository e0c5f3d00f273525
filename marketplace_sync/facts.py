"""Per-product coverage facts (ProductFacts, ProductSaleDay), computed from the raw records.

One function, `product_facts_refresh`, computes them: for the products a change touched (the
services call it when a listing goes live or stops being live, and when an order becomes or
stops being a sale) or for every product (`manage.py coverage_backfill`). Because the live
path and the backfill are the same computation, a backfill that disagrees with the live facts
means a service forgot to call it — which is what the backfill test looks for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from catalog import public_cache
from catalog.models import Product

from .models import Listing, Order, OrderLine, ProductFacts, ProductSaleDay

CHUNK = 500  # products per transaction in a backfill

FACT_FIELDS = ["first_listed_at", "listed_now", "unlisted_at", "live_channels", "first_sale_on", "last_sale_on"]


def _listing_facts(product_ids: list[int]) -> dict[int, dict]:
    """Listing facts per product, from its listings on channels that count for coverage."""
    facts: dict[int, dict] = {}
    rows = (
        Listing.objects.filter(product_id__in=product_ids, channel__counts_for_coverage=True)
        .exclude(first_live_at=None)
        .values_list("product_id", "channel__code", "reported_state", "first_live_at", "live_until")
    )
    for product_id, channel_code, state, first_live_at, live_until in rows:
        entry = facts.setdefault(product_id, {"first": first_live_at, "live": set(), "until": None})
        entry["first"] = min(entry["first"], first_live_at)
        if state == Listing.Reported.LIVE:
            entry["live"].add(channel_code)
        elif live_until is not None:
            entry["until"] = max(entry["until"] or live_until, live_until)
    return facts


def _sale_days(product_ids: list[int]) -> list[ProductSaleDay]:
    """Sale days per product and channel, grouped by the database (by local date)."""
    rows = (
        OrderLine.objects.filter(product_id__in=product_ids, order__status__in=Order.SALE_STATUSES)
        .annotate(day=TruncDate("order__ordered_at", tzinfo=timezone.get_default_timezone()))
        .values("product_id", "order__channel_id", "day")
        .annotate(lines=Count("pk"), units=Sum("quantity"), revenue=Sum(F("quantity") * F("unit_price_vnd")))
        .order_by()
    )
    return [
        ProductSaleDay(
            product_id=row["product_id"],
            channel_id=row["order__channel_id"],
            day=row["day"],
            lines=row["lines"],
            units=row["units"] or 0,
            revenue_vnd=row["revenue"] or 0,
        )
        for row in rows
    ]


def _refresh_chunk(product_ids: list[int]) -> None:
    with transaction.atomic():
        # Lock the products, in a fixed order so that two refreshes never deadlock: two workers
        # refreshing the same product take turns instead of interleaving their writes.
        product_ids = list(
            Product.objects.select_for_update().filter(pk__in=product_ids).order_by("pk").values_list("pk", flat=True)
        )
        listing = _listing_facts(product_ids)
        days = _sale_days(product_ids)
        first_sale: dict[int, object] = {}
        last_sale: dict[int, object] = {}
        for day in days:
            first_sale[day.product_id] = min(first_sale.get(day.product_id, day.day), day.day)
            last_sale[day.product_id] = max(last_sale.get(day.product_id, day.day), day.day)
        ProductSaleDay.objects.filter(product_id__in=product_ids).delete()
        ProductSaleDay.objects.bulk_create(days, batch_size=1000)
        facts = []
        for product_id in product_ids:
            entry = listing.get(product_id)
            live = sorted(entry["live"]) if entry else []
            facts.append(
                ProductFacts(
                    product_id=product_id,
                    first_listed_at=entry["first"] if entry else None,
                    listed_now=bool(live),
                    unlisted_at=None if live or not entry else entry["until"],
                    live_channels=",".join(live),
                    first_sale_on=first_sale.get(product_id),
                    last_sale_on=last_sale.get(product_id),
                )
            )
        ProductFacts.objects.bulk_create(
            facts,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["product"],
            update_fields=[*FACT_FIELDS, "refreshed_at"],
        )


def product_facts_refresh(
    product_ids: Iterable[int] | None = None, *, progress: Callable[[int, int], None] | None = None
) -> int:
    """Recompute the facts of these products (all products when None) from the raw records.
    Returns how many products were refreshed; `progress(done, total)` is called per chunk."""
    if product_ids is None:
        ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    else:
        ids = sorted({pk for pk in product_ids if pk is not None})
    for start in range(0, len(ids), CHUNK):
        _refresh_chunk(ids[start : start + CHUNK])
        if progress:
            progress(min(start + CHUNK, len(ids)), len(ids))
    if ids:
        public_cache.bump()  # a listing went live or down, or a sale: the public pages show it
    return len(ids)


def facts_check(*, progress: Callable[[int, int], None] | None = None) -> tuple[int, list[int]]:
    """Rebuild every product's facts; return how many products were refreshed and those whose
    stored facts differed from their records (a service that forgot to refresh them)."""
    before = facts_snapshot()
    count = product_facts_refresh(progress=progress)
    after = facts_snapshot()
    return count, sorted(pk for pk in set(before) | set(after) if before.get(pk) != after.get(pk))


def facts_snapshot(product_ids: Iterable[int] | None = None) -> dict[int, tuple]:
    """The stored facts and sale days, comparable across a refresh (for the backfill check)."""
    facts = ProductFacts.objects.order_by("pk")
    days = ProductSaleDay.objects.order_by("product_id", "channel_id", "day")
    if product_ids is not None:
        facts, days = facts.filter(product_id__in=product_ids), days.filter(product_id__in=product_ids)
    result: dict[int, tuple] = {}
    sale_days = defaultdict(list)
    for row in days.values_list("product_id", "channel_id", "day", "lines", "units", "revenue_vnd"):
        sale_days[row[0]].append(row[1:])
    for row in facts.values_list("product_id", *FACT_FIELDS):
        entry = (*row[1:], tuple(sale_days.get(row[0], ())))
        if entry != EMPTY:  # no row and an empty row say the same
            result[row[0]] = entry
    return result


EMPTY = (None, False, None, "", None, None, ())
