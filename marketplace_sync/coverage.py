"""Coverage toward "100% of OCOP products on e-commerce, each with sales" (selectors).

Every figure is defined in docs/coverage.md and computed here, from the products, their
certificates and the per-product facts (`facts.py`), never from the orders themselves, so a
breakdown costs a constant number of queries whatever the order volume. The dashboard, the
portal, the report command, the exports and the JSON endpoint all call `coverage_table`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import BooleanField, Case, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Certificate, Product
from cooperatives.models import AdministrativeUnit, Cooperative
from cooperatives.selectors import UNIT_HISTORY_PREFETCH, current_unit_for, legacy_district_for

from .models import Channel, Listing, ProductSaleDay

# How a certificate known only by its year counts (docs/coverage.md): from 1 January of that year
# through 31 December two years later, i.e. 36 months from the earliest day the decision can have.
YEAR_ONLY_VALID_YEARS = 3

BREAKDOWNS = ("commune", "district", "cooperative", "stars", "group", "kind", "channel")
MEASURES = ("certified", "listed", "not_listed", "with_sales", "without_sales", "with_sales_in_period")
UNKNOWN_KEY = "-"


@dataclass
class Row:
    key: str
    label: str
    certified: int = 0
    listed: int = 0
    with_sales: int = 0
    with_sales_in_period: int = 0
    estimated: int = 0  # certified only by a year-only certificate

    @staticmethod
    def _pct(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @property
    def listed_pct(self) -> float | None:
        return self._pct(self.listed, self.certified)

    @property
    def with_sales_pct(self) -> float | None:
        return self._pct(self.with_sales, self.certified)

    @property
    def with_sales_in_period_pct(self) -> float | None:
        return self._pct(self.with_sales_in_period, self.certified)

    def add(self, other: Row) -> None:
        self.certified += other.certified
        self.listed += other.listed
        self.with_sales += other.with_sales
        self.with_sales_in_period += other.with_sales_in_period
        self.estimated += other.estimated

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "certified": self.certified,
            "listed": self.listed,
            "with_sales": self.with_sales,
            "with_sales_in_period": self.with_sales_in_period,
            "listed_pct": self.listed_pct,
            "with_sales_pct": self.with_sales_pct,
            "with_sales_in_period_pct": self.with_sales_in_period_pct,
            "certified_by_year_only": self.estimated,
        }


@dataclass
class Table:
    as_of: datetime.date
    period_start: datetime.date
    by: str | None
    rows: list[Row]
    total: Row
    # Products with a certificate whose validity cannot be told (no decision date, no year):
    # outside the denominator, and listed on the data-quality worklist.
    validity_unknown: int = 0
    generated_at: datetime.datetime = field(default_factory=timezone.now)

    def as_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "period_start": self.period_start.isoformat(),
            "by": self.by,
            "total": self.total.as_dict(),
            "rows": [row.as_dict() for row in self.rows],
            "certificate_validity_unknown": self.validity_unknown,
            "definitions": "docs/coverage.md",
        }


def default_period_start(as_of: datetime.date) -> datetime.date:
    """The period for "with sales in the period" when none is chosen: the year so far."""
    return as_of.replace(month=1, day=1)


def end_of_day(day: datetime.date) -> datetime.datetime:
    """The first moment after `day`, in the province's time zone: "listed on D" means at the
    end of D (or now, for today)."""
    return timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min))


def valid_certificates(as_of: datetime.date) -> QuerySet[Certificate]:
    """Certificates in force on `as_of`: verified, and either dated (decision date to expiry)
    or known only by year (that year through the second year after)."""
    dated = Q(decision_date__lte=as_of, expires_on__gte=as_of)
    year_only = Q(
        decision_date__isnull=True,
        decision_year__lte=as_of.year,
        decision_year__gt=as_of.year - YEAR_ONLY_VALID_YEARS,
    )
    return Certificate.objects.filter(dated | year_only, verified_at__isnull=False)


def _best_certificate(as_of: datetime.date):
    return (
        valid_certificates(as_of)
        .filter(product=OuterRef("pk"))
        .order_by(F("decision_date").desc(nulls_last=True), "-decision_year", "-stars", "-pk")
    )


def _listed_q(as_of: datetime.date, prefix: str = "facts__") -> Q:
    end = end_of_day(as_of)
    if as_of >= timezone.localdate():
        return Q(**{f"{prefix}listed_now": True})
    return Q(**{f"{prefix}first_listed_at__lt": end}) & (
        Q(**{f"{prefix}listed_now": True}) | Q(**{f"{prefix}unlisted_at__gte": end})
    )


def flag(condition: Q) -> Case:
    """A condition as a boolean column that is never NULL (NOT over NULL would drop rows)."""
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


def annotated_products(
    as_of: datetime.date,
    period_start: datetime.date | None = None,
    *,
    cooperative_ids: list[int] | None = None,
    with_stars: bool = True,
) -> QuerySet[Product]:
    """Every product with its coverage flags on `as_of`: is_certified, stars_on (unless
    with_stars is False: it costs a subquery per product), has_dated_certificate, is_listed,
    has_sales (ever, by as_of), has_sales_in_period, unit_id (its commune)."""
    period_start = period_start or default_period_start(as_of)
    best = _best_certificate(as_of)
    products = Product.objects.all()
    if cooperative_ids is not None:
        products = products.filter(cooperative_id__in=cooperative_ids)
    if with_stars:
        products = products.annotate(stars_on=Subquery(best.values("stars")[:1]))
    return products.annotate(
        is_certified=Exists(best),
        has_dated_certificate=Exists(best.filter(decision_date__isnull=False)),
        # Products without facts yet (never listed, never sold) must read False, not NULL,
        # or "not listed" would miss them.
        is_listed=flag(_listed_q(as_of)),
        has_sales=flag(Q(facts__first_sale_on__lte=as_of)),
        has_sales_in_period=Exists(
            ProductSaleDay.objects.filter(product=OuterRef("pk"), day__gte=period_start, day__lte=as_of)
        ),
        unit_id=Coalesce("origin_commune_id", "cooperative__commune_id"),
    )


def _measure_q(measure: str) -> Q:
    return {
        "certified": Q(),
        "listed": Q(is_listed=True),
        "not_listed": ~Q(is_listed=True),
        "with_sales": Q(has_sales=True),
        "without_sales": ~Q(has_sales=True),
        "with_sales_in_period": Q(has_sales_in_period=True),
    }[measure]


def _counts(products: QuerySet, *group_by: str) -> list[dict]:
    certified = products.filter(is_certified=True)
    aggregates = {
        "certified": Count("pk"),
        "listed": Count("pk", filter=Q(is_listed=True)),
        "with_sales": Count("pk", filter=Q(has_sales=True)),
        "with_sales_in_period": Count("pk", filter=Q(has_sales_in_period=True)),
        "dated": Count("pk", filter=Q(has_dated_certificate=True)),
    }
    if not group_by:
        return [certified.aggregate(**aggregates)]
    return list(certified.values(*group_by).annotate(**aggregates).order_by())


def _row(key, label, counts: dict) -> Row:
    return Row(
        key=str(key) if key not in (None, "") else UNKNOWN_KEY,
        label=label,
        certified=counts["certified"],
        listed=counts["listed"],
        with_sales=counts["with_sales"],
        with_sales_in_period=counts["with_sales_in_period"],
        estimated=counts["certified"] - counts["dated"],
    )


def unit_label(unit: AdministrativeUnit) -> str:
    """ "Xã Hưng Khánh", whether the name was stored with its type or without."""
    if unit.unit_type and not unit.name.startswith(unit.unit_type):
        return f"{unit.unit_type} {unit.name}"
    return unit.name


def unit_rollup(unit_ids: set[int], by: str) -> dict[int | None, tuple[str, str]]:
    """Where each commune (as written at certification, perhaps a pre-2025 one) rolls up:
    its 2025 commune, or its legacy district. Unknown successions go to "not determined"."""
    units = (
        AdministrativeUnit.objects.filter(pk__in=[pk for pk in unit_ids if pk])
        .select_related("parent")
        .prefetch_related(*UNIT_HISTORY_PREFETCH)
    )
    unknown = (UNKNOWN_KEY, _("Not determined"))
    result: dict[int | None, tuple[str, str]] = {None: unknown}
    for unit in units:
        target = current_unit_for(unit) if by == "commune" else legacy_district_for(unit)
        result[unit.pk] = (target.code, unit_label(target)) if target else unknown
    return result


def stars_label(stars: int | None) -> str:
    return _("%(n)s stars") % {"n": stars} if stars else _("Star not recorded")


def _live_on_channel(as_of: datetime.date, **channel) -> QuerySet[Listing]:
    """The product's listings live on a channel on `as_of` (for OuterRef("pk") = a product)."""
    live = Listing.objects.filter(product=OuterRef("pk"), **channel)
    if as_of >= timezone.localdate():
        return live.filter(reported_state=Listing.Reported.LIVE)
    end = end_of_day(as_of)
    return live.filter(first_live_at__lt=end).filter(Q(reported_state=Listing.Reported.LIVE) | Q(live_until__gte=end))


def _breakdown_rows(products: QuerySet, by: str) -> list[Row]:
    if by in ("commune", "district"):
        counts = _counts(products, "unit_id")
        rollup = unit_rollup({row["unit_id"] for row in counts}, by)
        rows: dict[str, Row] = {}
        for entry in counts:
            key, label = rollup.get(entry["unit_id"], rollup[None])
            rows.setdefault(key, Row(key, label)).add(_row(key, label, entry))
        return list(rows.values())
    if by == "cooperative":
        counts = _counts(products, "cooperative_id", "cooperative__name")
        return [
            _row(entry["cooperative_id"], entry["cooperative__name"] or _("Producer not named"), entry)
            for entry in counts
        ]
    if by == "stars":
        counts = _counts(products, "stars_on")
        return [_row(entry["stars_on"], stars_label(entry["stars_on"]), entry) for entry in counts]
    if by == "group":
        counts = _counts(products, "category__group_code", "category__group")
        return [
            _row(entry["category__group_code"], entry["category__group"] or _("Not classified"), entry)
            for entry in counts
        ]
    if by == "kind":
        labels = dict(Cooperative.Kind.choices)
        counts = _counts(products, "cooperative__kind")
        return [
            _row(entry["cooperative__kind"], str(labels.get(entry["cooperative__kind"], _("Not recorded"))), entry)
            for entry in counts
        ]
    raise ValueError(by)


def _channel_rows(products: QuerySet, as_of: datetime.date, period_start: datetime.date) -> list[Row]:
    """Per counted channel: certified products live there / with sales there. The same
    denominator on every row; a product live on two channels counts on both."""
    rows = []
    for channel in Channel.objects.filter(counts_for_coverage=True).order_by("sort_order", "name"):
        live = _live_on_channel(as_of, channel=channel)
        sold = ProductSaleDay.objects.filter(product=OuterRef("pk"), channel=channel)
        counts = (
            products.filter(is_certified=True)
            .annotate(
                on_channel=Exists(live),
                sold_ever=Exists(sold.filter(day__lte=as_of)),
                sold_period=Exists(sold.filter(day__gte=period_start, day__lte=as_of)),
            )
            .aggregate(
                certified=Count("pk"),
                listed=Count("pk", filter=Q(on_channel=True)),
                with_sales=Count("pk", filter=Q(sold_ever=True)),
                with_sales_in_period=Count("pk", filter=Q(sold_period=True)),
                dated=Count("pk", filter=Q(has_dated_certificate=True)),
            )
        )
        rows.append(_row(channel.code, channel.name, counts))
    return rows


def coverage_table(
    *,
    as_of: datetime.date | None = None,
    period_start: datetime.date | None = None,
    by: str | None = None,
    cooperative_ids: list[int] | None = None,
) -> Table:
    """The coverage figures on `as_of` (default today), in total and broken down `by` one of
    BREAKDOWNS, for all cooperatives or only `cooperative_ids` (a member's, a helper's)."""
    as_of = min(as_of or timezone.localdate(), timezone.localdate())
    period_start = period_start or default_period_start(as_of)
    if by is not None and by not in BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}")
    products = annotated_products(as_of, period_start, cooperative_ids=cooperative_ids, with_stars=by == "stars")
    label = _("Whole province") if cooperative_ids is None else _("Total")
    rows: list[Row] = []
    if by and by != "channel":
        # These breakdowns partition the products: the total is the sum of the rows (one query less).
        rows = sorted(_breakdown_rows(products, by), key=lambda row: (row.key == UNKNOWN_KEY, row.label))
        total = Row("total", label)
        for row in rows:
            total.add(row)
    else:
        total = _row("total", label, _counts(products)[0])
        if by == "channel":
            rows = _channel_rows(products, as_of, period_start)
    unknown = (
        products.filter(is_certified=False)
        .filter(
            Exists(
                Certificate.objects.filter(
                    product=OuterRef("pk"), decision_date__isnull=True, decision_year__isnull=True
                )
            )
        )
        .count()
    )
    return Table(as_of, period_start, by, rows, total, validity_unknown=unknown)


def coverage_total(
    *, as_of: datetime.date, period_start: datetime.date | None = None, cooperative_ids: list[int] | None = None
) -> Row:
    """Only the total row of `coverage_table` (one query): for the month-by-month trend."""
    products = annotated_products(as_of, period_start, cooperative_ids=cooperative_ids, with_stars=False)
    return _row("total", _("Total"), _counts(products)[0])


def data_version() -> str:
    """Changes whenever anything coverage reads from changes (facts, products, certificates):
    a cache key for figures of past days."""
    from django.db.models import Max

    from .models import ProductFacts

    facts = ProductFacts.objects.aggregate(n=Count("pk"), last=Max("refreshed_at"))
    certificates = Certificate.objects.aggregate(
        n=Count("pk"), last=Max("pk"), verified=Max("verified_at"), products=Count("product_id", distinct=True)
    )
    return ":".join(str(value) for value in [*facts.values(), *certificates.values(), Product.objects.count()])


def coverage_products(
    *,
    as_of: datetime.date | None = None,
    period_start: datetime.date | None = None,
    by: str | None = None,
    key: str | None = None,
    measure: str = "certified",
    cooperative_ids: list[int] | None = None,
) -> QuerySet[Product]:
    """The certified products behind one figure of `coverage_table` (the drill-down)."""
    as_of = min(as_of or timezone.localdate(), timezone.localdate())
    period_start = period_start or default_period_start(as_of)
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}")
    products = annotated_products(as_of, period_start, cooperative_ids=cooperative_ids).filter(is_certified=True)
    if by == "channel" and key is not None:
        products = _filter_by_channel(products, key, measure, as_of, period_start)
    else:
        products = products.filter(_measure_q(measure))
        if by and key is not None:
            products = _filter_by_key(products, by, key)
    return products.select_related("cooperative", "category").order_by("name", "pk")


def _filter_by_key(products: QuerySet, by: str, key: str) -> QuerySet:
    unknown = key == UNKNOWN_KEY
    if by in ("commune", "district"):
        unit_ids = set(products.values_list("unit_id", flat=True).distinct())
        rollup = unit_rollup(unit_ids, by)
        wanted = [pk for pk, (code, _label) in rollup.items() if code == key and pk is not None]
        condition = Q(unit_id__in=wanted)
        if unknown:
            condition |= Q(unit_id__isnull=True)
        return products.filter(condition)
    if by == "cooperative":
        return products.filter(cooperative__isnull=True) if unknown else products.filter(cooperative_id=key)
    if by == "stars":
        return products.filter(stars_on__isnull=True) if unknown else products.filter(stars_on=key)
    if by == "group":
        return products.filter(category__isnull=True) if unknown else products.filter(category__group_code=key)
    if by == "kind":
        return (
            products.filter(Q(cooperative__isnull=True) | Q(cooperative__kind=""))
            if unknown
            else products.filter(cooperative__kind=key)
        )
    raise ValueError(by)


def _filter_by_channel(
    products: QuerySet, key: str, measure: str, as_of: datetime.date, period_start: datetime.date
) -> QuerySet:
    """On a channel row, "listed" and "with sales" mean on that channel."""
    sold = ProductSaleDay.objects.filter(product=OuterRef("pk"), channel__code=key, day__lte=as_of)
    if measure in ("listed", "not_listed"):
        live = Exists(_live_on_channel(as_of, channel__code=key))
        return products.filter(live if measure == "listed" else ~live)
    if measure in ("with_sales", "without_sales"):
        return products.filter(Exists(sold) if measure == "with_sales" else ~Exists(sold))
    if measure == "with_sales_in_period":
        return products.filter(Exists(sold.filter(day__gte=period_start)))
    return products


# --- Exports ---------------------------------------------------------------------------------------------------


def table_columns(table: Table) -> list[tuple[str, str]]:
    """(field, header) for the exports, headers in the active language (Vietnamese by default)."""
    period = _("with sales %(start)s–%(end)s") % {
        "start": table.period_start.strftime("%d/%m/%Y"),
        "end": table.as_of.strftime("%d/%m/%Y"),
    }
    return [
        ("key", _("Code")),
        ("label", breakdown_labels().get(table.by or "", _("Scope"))),
        ("certified", _("Certified OCOP products")),
        ("listed", _("Listed on e-commerce")),
        ("listed_pct", _("Listed (%)")),
        ("with_sales", _("With sales (ever)")),
        ("with_sales_pct", _("With sales (%)")),
        ("with_sales_in_period", period.capitalize()),
        ("with_sales_in_period_pct", _("With sales in the period (%)")),
        ("certified_by_year_only", _("Certified, certificate date known only by year")),
    ]


def breakdown_labels() -> dict[str, str]:
    return {
        "commune": _("Commune (2025)"),
        "district": _("District (before 2025)"),
        "cooperative": _("Cooperative"),
        "stars": _("Stars"),
        "group": _("OCOP group"),
        "kind": _("Kind of producer"),
        "channel": _("Channel"),
    }


def table_records(table: Table) -> list[list]:
    """The rows as the exports write them: the breakdown's rows, then the total."""
    columns = [name for name, _header in table_columns(table)]
    records = [[row.as_dict()[name] for name in columns] for row in table.rows]
    records.append([table.total.as_dict()[name] for name in columns])
    return records


def csv_bytes(headers: list[str], rows: list[list]) -> bytes:
    """A CSV download: UTF-8 with a BOM, so Excel reads the Vietnamese right; empty for None."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(headers: list[str], rows: list[list], *, sheet_title: str, preamble=(), bold_last=False) -> bytes:
    """An XLSX download: optional lines above the table, a bold frozen header row."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_title[:31]
    for line in preamble:
        sheet.append([line] if line else [])
    sheet.append(headers)
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    if bold_last and rows:
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.column_dimensions["B"].width = 40
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def table_to_csv(table: Table) -> bytes:
    return csv_bytes([header for _name, header in table_columns(table)], table_records(table))


def table_to_xlsx(table: Table) -> bytes:
    preamble = [
        _("OCOP products on e-commerce on %(date)s") % {"date": table.as_of.strftime("%d/%m/%Y")},
        _("Definitions: docs/coverage.md. Figures as on the dashboard; no buyer data."),
        "",
    ]
    headers = [header for _name, header in table_columns(table)]
    return xlsx_bytes(headers, table_records(table), sheet_title=_("Coverage"), preamble=preamble, bold_last=True)


# --- Snapshots ------------------------------------------------------------------------------------------------


def snapshot_take(*, as_of: datetime.date, period_start: datetime.date | None = None) -> int:
    """Freeze the figures of `as_of` (total and every breakdown), replacing any earlier
    snapshot of that day. The sales period is the month of `as_of` unless given."""
    from django.db import transaction

    from .models import CoverageSnapshot

    period_start = period_start or as_of.replace(day=1)
    rows = []
    for by in (None, *BREAKDOWNS):
        table = coverage_table(as_of=as_of, period_start=period_start, by=by)
        for row in [table.total] if by is None else table.rows:
            rows.append(
                CoverageSnapshot(
                    as_of=as_of,
                    period_start=period_start,
                    by=by or CoverageSnapshot.TOTAL,
                    key=row.key[:40],
                    label=row.label[:255],
                    certified=row.certified,
                    listed=row.listed,
                    with_sales=row.with_sales,
                    with_sales_in_period=row.with_sales_in_period,
                    certified_by_year_only=row.estimated,
                )
            )
    with transaction.atomic():
        CoverageSnapshot.objects.filter(as_of=as_of).delete()
        CoverageSnapshot.objects.bulk_create(rows)
    return len(rows)


def snapshot_totals(days: list[datetime.date]) -> dict[datetime.date, Row]:
    """The province-wide row of the snapshots taken on these days (those that exist)."""
    from .models import CoverageSnapshot

    found = {}
    for snap in CoverageSnapshot.objects.filter(as_of__in=days, by=CoverageSnapshot.TOTAL):
        found[snap.as_of] = Row(
            snap.key,
            snap.label,
            certified=snap.certified,
            listed=snap.listed,
            with_sales=snap.with_sales,
            with_sales_in_period=snap.with_sales_in_period,
            estimated=snap.certified_by_year_only,
        )
    return found
