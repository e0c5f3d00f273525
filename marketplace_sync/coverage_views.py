"""The coverage dashboard in the Wagtail admin: headline, breakdowns, trend, drill-down, exports.

Every number comes from `coverage.coverage_table`; the page shows the definitions next to the
figures (docs/coverage.md), and every count links to the products behind it.
"""

from __future__ import annotations

import datetime
import hashlib
from urllib.parse import urlencode

from dateutil.relativedelta import relativedelta
from django import forms
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import coverage, quality, worklists

PERMISSION = "marketplace_sync.view_listing"  # officers and report viewers
PRODUCTS_PER_PAGE = 50
TREND_MONTHS = 12
TREND_CACHE_SECONDS = 6 * 3600


class CoverageFilterForm(forms.Form):
    as_of = forms.DateField(
        label=gettext_lazy("On"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    period_start = forms.DateField(
        label=gettext_lazy("Sales period from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    by = forms.ChoiceField(label=gettext_lazy("Break down by"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["by"].choices = [("", _("— no breakdown —")), *coverage.breakdown_labels().items()]

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        as_of = data.get("as_of") or today
        if as_of > today:
            self.add_error("as_of", _("Coverage cannot be told for a day that has not come yet."))
            as_of = today
        period_start = data.get("period_start") or coverage.default_period_start(as_of)
        if period_start > as_of:
            self.add_error("period_start", _("The period cannot start after the reporting date."))
            period_start = coverage.default_period_start(as_of)
        data["as_of"], data["period_start"] = as_of, period_start
        return data


def _filters(request) -> tuple[CoverageFilterForm, dict]:
    today = timezone.localdate()
    values = {"as_of": today, "period_start": coverage.default_period_start(today), "by": "commune"}
    form = CoverageFilterForm(request.GET or None, initial=values)
    if form.is_bound:
        form.is_valid()
        values.update({key: value for key, value in form.cleaned_data.items() if key in values})
        values["by"] = form.cleaned_data.get("by") or None
    return form, values


def _require(request) -> None:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied


def trend(*, as_of: datetime.date, months: int = TREND_MONTHS, cooperative_ids=None) -> list[dict]:
    """The headline at the end of each of the last `months` months (the current month: as_of),
    sales counted within each month. A month that has a snapshot shows the snapshot (history
    as it was then); the others are worked out from today's facts (docs/coverage.md)."""
    ends = []
    for back in range(months - 1, -1, -1):
        month_start = (as_of - relativedelta(months=back)).replace(day=1)
        ends.append((month_start, min(as_of, month_start + relativedelta(months=1) - datetime.timedelta(days=1))))
    frozen = coverage.snapshot_totals([day for _start, day in ends]) if cooperative_ids is None else {}
    version = coverage.data_version()
    points = []
    for month_start, day in ends:
        total = frozen.get(day)
        if total is None:
            # A past month's figures change only when the data does: cached under its version.
            raw = f"{cooperative_ids}:{day}:{month_start}:{version}"
            key = "coverage-trend:" + hashlib.sha256(raw.encode()).hexdigest()
            total = cache.get(key)
            if total is None:
                total = coverage.coverage_total(as_of=day, period_start=month_start, cooperative_ids=cooperative_ids)
                cache.set(key, total, TREND_CACHE_SECONDS)
        points.append(
            {
                "month": month_start,
                "certified": total.certified,
                "listed_pct": total.listed_pct or 0,
                "with_sales_pct": total.with_sales_pct or 0,
                "with_sales_in_period_pct": total.with_sales_in_period_pct or 0,
                "frozen": day in frozen,
            }
        )
    return points


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(content: bytes, fmt: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX_TYPE if fmt == "xlsx" else "text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


def export_response(table: coverage.Table, fmt: str) -> HttpResponse:
    content = coverage.table_to_xlsx(table) if fmt == "xlsx" else coverage.table_to_csv(table)
    return _download(content, fmt, f"do-phu-ocop-{table.by or 'tong'}-{table.as_of:%Y%m%d}")


def drill_links(table: coverage.Table, row: coverage.Row | None = None) -> dict[str, str]:
    """For each measure, the address of the products behind the row's figure."""
    params = {"as_of": table.as_of.isoformat(), "period_start": table.period_start.isoformat()}
    if row is not None and table.by:
        params.update(by=table.by, key=row.key, label=row.label)
    base = reverse("coverage_products")
    return {measure: f"{base}?{urlencode({**params, 'measure': measure})}" for measure in coverage.MEASURES}


def coverage_dashboard(request):
    _require(request)
    form, values = _filters(request)
    table = coverage.coverage_table(**values)
    fmt = request.GET.get("format")
    if fmt in ("xlsx", "csv"):
        return export_response(table, fmt)
    query = request.GET.copy()
    query.pop("format", None)
    return render(
        request,
        "marketplace_sync/admin/coverage_dashboard.html",
        {
            "form": form,
            "table": table,
            "rows": [(row, drill_links(table, row)) for row in table.rows],
            "total_links": drill_links(table),
            "by_label": coverage.breakdown_labels().get(table.by or "", ""),
            "trend": trend(as_of=table.as_of),
            "query": query.urlencode(),
            "worklists": worklists.WORKLISTS,
        },
    )


MEASURE_LABELS = {
    "certified": gettext_lazy("Certified"),
    "listed": gettext_lazy("Listed on e-commerce"),
    "not_listed": gettext_lazy("Not listed yet"),
    "with_sales": gettext_lazy("With sales (ever)"),
    "without_sales": gettext_lazy("No sale yet"),
    "with_sales_in_period": gettext_lazy("With sales in the period"),
}


def coverage_products_view(request):
    """The products behind one figure of the dashboard."""
    _require(request)
    form, values = _filters(request)
    measure = request.GET.get("measure", "certified")
    if measure not in coverage.MEASURES:
        measure = "certified"
    key = request.GET.get("key") or None
    by = values["by"] if key is not None else None
    products = coverage.coverage_products(
        as_of=values["as_of"], period_start=values["period_start"], by=by, key=key, measure=measure
    ).select_related("facts", "origin_commune", "cooperative__commune")
    page = Paginator(products, PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "marketplace_sync/admin/coverage_products.html",
        {
            "page": page,
            "measure_label": MEASURE_LABELS[measure],
            "by_label": coverage.breakdown_labels().get(by or "", ""),
            "key": key,
            "label": request.GET.get("label", ""),
            "as_of": values["as_of"],
            "period_start": values["period_start"],
        },
    )


# --- Worklists -------------------------------------------------------------------------------------------------


def _product_link(product) -> str:
    return reverse("wagtailsnippets_catalog_product:edit", args=[product.pk])


def _date(value) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def worklist_table(name: str, objects, *, days: int) -> tuple[list[str], list[list], list[str]]:
    """Headers, rows (plain values, as exported) and each row's link, for a page of a worklist."""
    if name == "not_listed":
        products = list(objects)  # prefetched by worklist_queryset
        headers = [_("Product"), _("Cooperative"), _("What blocks it"), _("Who must act")]
        rows = []
        for product in products:
            blocker = worklists.not_listed_blocker(product)
            rows.append([product.name, str(product.cooperative or "—"), blocker.reason, blocker.who_label])
        return headers, rows, [_product_link(product) for product in products]
    if name == "no_sale":
        headers = [_("Product"), _("Cooperative"), _("Live on"), _("Last sale"), _("Who must act")]
        rows = [
            [
                p.name,
                str(p.cooperative or "—"),
                p.facts.live_channels,
                _date(p.facts.last_sale_on),
                _("The cooperative"),
            ]
            for p in objects
        ]
        return headers, rows, [_product_link(p) for p in objects]
    if name == "certificates":
        headers = [_("Product"), _("Cooperative"), _("Certificate"), _("Who must act")]
        rows = []
        for product in objects:
            text = worklists.certificate_note(product)
            rows.append([product.name, str(product.cooperative or "—"), text, _("The cooperative")])
        return headers, rows, [_product_link(product) for product in objects]
    if name == "connections":
        headers = [_("Cooperative"), _("Channel"), _("Shop"), _("Connection expires"), _("Status"), _("Who must act")]
        rows = [
            [
                str(account.cooperative or "—"),
                account.channel.name,
                account.shop_name or account.shop_id,
                _date(account.authorization_expires_at and timezone.localtime(account.authorization_expires_at)),
                account.get_status_display(),
                _("The cooperative"),
            ]
            for account in objects
        ]
        index = reverse("shop_connections:index")
        return (
            headers,
            rows,
            [f"{index}?{urlencode({'q': account.shop_name or account.shop_id})}" for account in objects],
        )
    if name == "failing":
        headers = [_("Product"), _("Channel"), _("State"), _("What to do"), _("Who must act"), _("Since")]
        rows = [
            [
                listing.product.name,
                listing.channel.name,
                listing.get_reported_state_display(),
                listing.explanation or listing.raw_reason or listing.last_error[:200],
                listing.get_who_must_act_display(),
                _date(timezone.localtime(listing.updated_at)),
            ]
            for listing in objects
        ]
        return headers, rows, [reverse("listings:inspect", args=[listing.pk]) for listing in objects]
    if name == "quality":
        labels = quality.flag_labels()
        headers = [_("Product"), _("Cooperative"), _("Fails"), _("Problems"), _("Who must act")]
        rows = []
        for product in objects:
            facts = getattr(product, "facts", None)
            if facts is None or facts.quality_checked_at is None:
                rows.append([product.name, str(product.cooperative or "—"), _("Not assessed yet"), "", _("Nobody")])
                continue
            fails = [labels[flag] for flag in quality.FLAGS if not getattr(facts, f"quality_{flag}")]
            problems = "; ".join(text for texts in facts.quality_problems.values() for text in texts)
            who = _("The trade department") if product.cooperative_id is None else _("The cooperative")
            rows.append([product.name, str(product.cooperative or "—"), ", ".join(fails), problems, who])
        return headers, rows, [_product_link(product) for product in objects]
    raise ValueError(name)


def worklist_queryset(name: str, *, days: int, cooperative_ids=None):
    return {
        "not_listed": lambda: worklists.with_blocking_data(worklists.not_listed(cooperative_ids=cooperative_ids)),
        "no_sale": lambda: worklists.no_sale(days=days, cooperative_ids=cooperative_ids),
        "certificates": lambda: worklists.certificates_due(cooperative_ids=cooperative_ids),
        "connections": lambda: worklists.connections_due(cooperative_ids=cooperative_ids),
        "failing": lambda: worklists.failing_listings(cooperative_ids=cooperative_ids),
        "quality": lambda: quality.failing(cooperative_ids=cooperative_ids),
    }[name]()


def _sheet_response(name: str, headers: list[str], rows: list[list], fmt: str) -> HttpResponse:
    if fmt == "csv":
        content = coverage.csv_bytes(headers, rows)
    else:
        content = coverage.xlsx_bytes(headers, rows, sheet_title=str(worklists.WORKLISTS[name]))
    return _download(content, fmt, f"danh-sach-{name.replace('_', '-')}-{timezone.localdate():%Y%m%d}")


def worklist_view(request, name: str):
    _require(request)
    if name not in worklists.WORKLISTS:
        raise Http404
    try:
        days = max(1, min(int(request.GET.get("days", worklists.DEFAULT_NO_SALE_DAYS)), 3650))
    except ValueError:
        days = worklists.DEFAULT_NO_SALE_DAYS
    objects = worklist_queryset(name, days=days)
    fmt = request.GET.get("format")
    if fmt in ("xlsx", "csv"):
        # The whole list, in pages of the worklist's own size, so memory stays flat.
        headers, rows = [], []
        paginator = Paginator(objects, 500)
        for number in paginator.page_range:
            headers, page_rows, _links = worklist_table(name, list(paginator.page(number)), days=days)
            rows.extend(page_rows)
        if not rows:
            headers, _rows, _links = worklist_table(name, [], days=days)
        return _sheet_response(name, headers, rows, fmt)
    page = Paginator(objects, PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
    headers, rows, links = worklist_table(name, list(page), days=days)
    quality_by = request.GET.get("by") if request.GET.get("by") in ("cooperative", "commune") else "commune"
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    return render(
        request,
        "marketplace_sync/admin/worklist.html",
        {
            "name": name,
            "title": worklists.WORKLISTS[name],
            "worklists": worklists.WORKLISTS,
            "page": page,
            "headers": headers,
            "rows": list(zip(rows, links, strict=True)),
            "days": days,
            "query": query.urlencode(),
            "quality_by": quality_by,
            "quality_rows": quality.rollup(by=quality_by) if name == "quality" else None,
            "quality_labels": quality.flag_labels(),
        },
    )
