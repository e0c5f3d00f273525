"""Data quality per product, the province's "đúng, đủ, sạch, sống" (correct, complete, clean, alive).

- **correct** (đúng): what is recorded passes every validation — a producer is named, its tax
  code (if any) is valid, certificates have consistent dates and stars, the price is set.
- **complete** (đủ): the product has every field the counted channels need (the readiness
  checklist every channel shares: producer, group, photos, description, weight, package size,
  price, stock, valid certificate).
- **clean** (sạch): no duplicate (another product of the same cooperative with the same name
  written differently, or a cooperative registered twice), and text stored normalised (NFC,
  single spaces).
- **alive** (sống): updated within 90 days, certificate valid today, stock confirmed within
  90 days.

The result is stored on each product's facts (`quality_*`) by `quality_refresh`: every night
and whenever the product or its offer changes, so roll-ups per cooperative and commune are
plain counts in the database.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import readiness
from catalog.models import Product
from cooperatives.models import Cooperative
from cooperatives.text import clean_text, match_key

from . import coverage
from .models import ProductFacts

ALIVE_DAYS = 90
CHUNK = 500
QUALITY_FIELDS = ["quality_correct", "quality_complete", "quality_clean", "quality_alive", "quality_problems"]


def _duplicate_products(products: list[Product]) -> set[int]:
    """Products sharing a name key with another product of their cooperative."""
    cooperative_ids = {product.cooperative_id for product in products if product.cooperative_id}
    names: dict[tuple[int, str], list[int]] = defaultdict(list)
    for pk, cooperative_id, name in Product.objects.filter(cooperative_id__in=cooperative_ids).values_list(
        "pk", "cooperative_id", "name"
    ):
        names[(cooperative_id, match_key(name))].append(pk)
    return {pk for group in names.values() if len(group) > 1 for pk in group}


def _duplicate_cooperatives() -> set[int]:
    """Cooperatives sharing a name key or tax code with another cooperative (read once per refresh)."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for pk, name, tax_code in Cooperative.objects.values_list("pk", "name", "tax_code"):
        by_key[f"name:{match_key(name)}"].append(pk)
        if tax_code:
            by_key[f"tax:{tax_code}"].append(pk)
    return {pk for group in by_key.values() if len(group) > 1 for pk in group}


def _tax_code_valid(cooperative) -> bool:
    field = Cooperative._meta.get_field("tax_code")
    try:
        for validator in field.validators:
            validator(cooperative.tax_code)
    except ValidationError:
        return False
    return True


def assess(product: Product, *, duplicate_products: set[int], duplicate_cooperatives: set[int], today) -> dict:
    """The four flags and the problems found, for one product (with its data prefetched)."""
    problems: dict[str, list[str]] = {"correct": [], "complete": [], "clean": [], "alive": []}
    certificates = list(product.certificates.all())
    offer = getattr(product, "offer", None)
    cooperative = product.cooperative
    # correct
    if cooperative is None:
        problems["correct"].append(_("No producer is named."))
    elif cooperative.tax_code and not _tax_code_valid(cooperative):
        problems["correct"].append(_("The cooperative's tax code is not valid."))
    for certificate in certificates:
        if certificate.decision_date and certificate.expires_on and certificate.expires_on <= certificate.decision_date:
            problems["correct"].append(_("A certificate expires before it was decided."))
        if certificate.stars is not None and not 3 <= certificate.stars <= 5:
            problems["correct"].append(_("A certificate has a star rating outside 3–5."))
    if product.live and (offer is None or not offer.price_vnd):
        problems["correct"].append(_("An approved product has no price."))
    # complete
    subject = readiness.ReadinessSubject(
        product=product, offer=offer, certificates=certificates, photo_count=len(product.images.all()), day=today
    )
    problems["complete"] = [str(item.label) for item in readiness.checklist(subject) if not item.ok]
    # clean
    if product.pk in duplicate_products:
        problems["clean"].append(_("Another product of the cooperative has the same name."))
    if cooperative is not None and cooperative.pk in duplicate_cooperatives:
        problems["clean"].append(_("The cooperative seems to be registered twice (same name or tax code)."))
    if product.name != clean_text(product.name) or (product.description or "") != clean_text(product.description):
        problems["clean"].append(_("Text is not normalised (extra spaces or decomposed accents)."))
    # alive
    horizon = timezone.now() - datetime.timedelta(days=ALIVE_DAYS)
    last_update = max(filter(None, [product.updated_at, offer.updated_at if offer else None]), default=None)
    if last_update is None or last_update < horizon:
        problems["alive"].append(_("Not updated in the last %(days)d days.") % {"days": ALIVE_DAYS})
    if not any(getattr(certificate, "valid_today", False) for certificate in certificates):
        problems["alive"].append(_("No certificate valid today."))
    if offer is None or offer.stock_confirmed_at is None or offer.stock_confirmed_at < horizon:
        problems["alive"].append(_("Stock not confirmed in the last %(days)d days.") % {"days": ALIVE_DAYS})
    return {
        "quality_correct": not problems["correct"],
        "quality_complete": not problems["complete"],
        "quality_clean": not problems["clean"],
        "quality_alive": not problems["alive"],
        "quality_problems": {key: value for key, value in problems.items() if value},
    }


def _refresh_chunk(product_ids: list[int], today: datetime.date, duplicate_cooperatives: set[int]) -> None:
    valid_ids = set(coverage.valid_certificates(today).filter(product_id__in=product_ids).values_list("pk", flat=True))
    products = list(
        Product.objects.filter(pk__in=product_ids)
        .select_related("offer", "cooperative")
        .prefetch_related("certificates", "images")
    )
    for product in products:
        for certificate in product.certificates.all():
            certificate.valid_today = certificate.pk in valid_ids
    duplicate_products = _duplicate_products(products)
    rows = [
        ProductFacts(
            product_id=product.pk,
            quality_checked_at=timezone.now(),
            **assess(
                product,
                duplicate_products=duplicate_products,
                duplicate_cooperatives=duplicate_cooperatives,
                today=today,
            ),
        )
        for product in products
    ]
    with transaction.atomic():
        ProductFacts.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["product"],
            update_fields=[*QUALITY_FIELDS, "quality_checked_at"],
        )


def quality_refresh(product_ids: Iterable[int] | None = None) -> int:
    """Assess these products (all when None) and store the result on their facts."""
    today = timezone.localdate()
    if product_ids is None:
        ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    else:
        ids = sorted({pk for pk in product_ids if pk is not None})
    duplicate_cooperatives = _duplicate_cooperatives()
    for start in range(0, len(ids), CHUNK):
        _refresh_chunk(ids[start : start + CHUNK], today, duplicate_cooperatives)
    return len(ids)


# --- Reading -------------------------------------------------------------------------------------------------

FLAGS = ("correct", "complete", "clean", "alive")


def flag_labels() -> dict[str, str]:
    return {"correct": _("Correct"), "complete": _("Complete"), "clean": _("Clean"), "alive": _("Alive")}


def _products(cooperative_ids=None):
    products = Product.objects.all()
    if cooperative_ids is not None:
        products = products.filter(cooperative_id__in=cooperative_ids)
    return products


def rollup(*, by: str, cooperative_ids=None) -> list[dict]:
    """Per cooperative or per commune (2025): how many products pass each test, and all four."""
    from django.db.models import Count, Q
    from django.db.models.functions import Coalesce

    aggregates = {
        "products": Count("pk"),
        **{flag: Count("pk", filter=Q(**{f"facts__quality_{flag}": True})) for flag in FLAGS},
        "all_four": Count("pk", filter=Q(**{f"facts__quality_{flag}": True for flag in FLAGS})),
    }
    products = _products(cooperative_ids)
    if by == "cooperative":
        rows = products.values("cooperative_id", "cooperative__name").annotate(**aggregates).order_by()
        result = [
            {
                "key": str(row["cooperative_id"] or coverage.UNKNOWN_KEY),
                "label": row["cooperative__name"] or _("Producer not named"),
                **row,
            }  # fmt: skip
            for row in rows
        ]
    elif by == "commune":
        rows = list(
            products.annotate(unit_id=Coalesce("origin_commune_id", "cooperative__commune_id"))
            .values("unit_id")
            .annotate(**aggregates)
            .order_by()
        )
        units = coverage.unit_rollup({row["unit_id"] for row in rows}, "commune")
        merged: dict[str, dict] = {}
        for row in rows:
            key, label = units.get(row["unit_id"], units[None])
            entry = merged.setdefault(key, {"key": key, "label": label, "products": 0, "all_four": 0,
                                            **dict.fromkeys(FLAGS, 0)})  # fmt: skip
            for field in ("products", "all_four", *FLAGS):
                entry[field] += row[field]
        result = list(merged.values())
    else:
        raise ValueError(by)
    for row in result:
        row["all_four_pct"] = round(100 * row["all_four"] / row["products"], 1) if row["products"] else None
    return sorted(result, key=lambda row: (row["key"] == coverage.UNKNOWN_KEY, row["label"]))


def failing(*, cooperative_ids=None):
    """Products that fail at least one test (or were never assessed), worst first."""
    from django.db.models import Q

    passing_all = Q(**{f"facts__quality_{flag}": True for flag in FLAGS})
    return (
        _products(cooperative_ids)
        .exclude(passing_all)
        .select_related("cooperative", "facts")
        .order_by("cooperative__name", "name", "pk")
    )
