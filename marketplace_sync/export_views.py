"""Pages for the channels worked by hand (Postmart, Voso), and the public product feeds.

`urlpatterns` are the public feeds, to be mounted at the site root. `portal_urlpatterns` are
member-portal pages, relative to a cooperative's prefix (`/portal/hop-tac-xa/<id>/`); every
view there goes through `portal_view` and reads only `request.portal.cooperative`'s objects.
"""

import tempfile

from django import forms
from django.contrib import messages
from django.db import transaction
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import cache_page
from django.views.decorators.http import require_POST, require_safe

from catalog.models import Product
from cooperatives.portal import portal_view

from . import exports, feeds
from .models import Channel, Listing, Order

FEED_CACHE_SECONDS = 5 * 60
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RECENT_ORDERS = 20


# --- Public feeds ------------------------------------------------------------------------------------


def _feed_channel_or_404(code: str) -> None:
    if not Channel.objects.filter(code=code, kind=Channel.Kind.FEED, is_active=True).exists():
        raise Http404


@cache_page(FEED_CACHE_SECONDS)
@require_safe
def google_merchant_feed(request):
    _feed_channel_or_404("google_merchant")
    return HttpResponse(feeds.google_merchant_feed(), content_type="application/rss+xml; charset=utf-8")


@cache_page(FEED_CACHE_SECONDS)
@require_safe
def meta_catalog_feed(request):
    _feed_channel_or_404("meta_catalog")
    return HttpResponse((chunk.encode() for chunk in feeds.meta_catalog_csv()), content_type="text/csv; charset=utf-8")


# --- Member portal -------------------------------------------------------------------------------------


class ListingUrlForm(forms.Form):
    url = forms.CharField(
        label=gettext_lazy("Address of the product's page"),
        max_length=exports.LISTING_URL_MAX,
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://", "inputmode": "url"}),
    )


class OrderFileForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Order export (.xlsx or .csv)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )


def _channel_or_404(channel_code: str) -> Channel:
    return get_object_or_404(Channel, code=channel_code, kind=Channel.Kind.EXPORT, is_active=True)


def _product_or_404(cooperative, product_id: int) -> Product:
    return get_object_or_404(Product.objects.select_related("offer"), pk=product_id, cooperative=cooperative)


def _channel_url(cooperative, channel: Channel) -> str:
    return reverse("portal:export_channel", kwargs={"cooperative_id": cooperative.pk, "channel_code": channel.code})


def _channel_page(request, channel: Channel, *, bound_form=None, report=None, order_form=None, status=200):
    cooperative = request.portal.cooperative
    products = (
        Product.objects.filter(cooperative=cooperative)
        .select_related("offer")
        .prefetch_related("images")
        .order_by("name", "pk")
    )
    listings = {
        listing.product_id: listing
        for listing in Listing.objects.filter(channel=channel, account__cooperative=cooperative)
    }
    rows, not_approved = [], 0
    for product in products:
        if not product.live:
            not_approved += 1
            continue
        listing = listings.get(product.pk)
        offer = getattr(product, "offer", None)
        form = bound_form[1] if bound_form and bound_form[0] == product.pk else None
        if form is None:
            live_url = listing.external_url if listing and listing.reported_state == Listing.Reported.LIVE else ""
            form = ListingUrlForm(initial={"url": live_url}, prefix=f"p{product.pk}")
        rows.append(
            {
                "product": product,
                "offer": offer,
                "listing": listing,
                "is_live": bool(listing and listing.reported_state == Listing.Reported.LIVE),
                "reasons": exports.not_ready_reasons(product),
                "price_changed": bool(
                    listing
                    and listing.reported_state == Listing.Reported.LIVE
                    and offer is not None
                    and listing.synced_price_vnd != offer.price_vnd
                ),
                "form": form,
            }
        )
    orders = (
        Order.objects.filter(cooperative=cooperative, channel=channel)
        .prefetch_related("lines")
        .order_by("-ordered_at", "-pk")[:RECENT_ORDERS]
    )
    context = {
        "title": channel.name,
        "channel": channel,
        "rows": rows,
        "ready_count": sum(1 for row in rows if not row["reasons"]),
        "live_count": sum(1 for row in rows if row["is_live"]),
        "not_approved": not_approved,
        "domains": exports.channel_domains(channel.code),
        "order_form": order_form or OrderFileForm(),
        "orders_help": exports.ORDER_COLUMNS_HELP,
        "report": report,
        "orders": orders,
    }
    return render(request, "marketplace_sync/portal/export_channel.html", context, status=status)


@portal_view
def export_channels(request):
    """The channels worked by hand, with how many of the cooperative's products are live there."""
    cooperative = request.portal.cooperative
    channels = list(Channel.objects.filter(kind=Channel.Kind.EXPORT, is_active=True).order_by("sort_order", "code"))
    live = dict(
        Listing.objects.filter(
            account__cooperative=cooperative, channel__kind=Channel.Kind.EXPORT, reported_state=Listing.Reported.LIVE
        )
        .values_list("channel_id")
        .annotate(count=Count("pk"))
    )
    rows = [{"channel": channel, "live": live.get(channel.pk, 0)} for channel in channels]
    return render(
        request,
        "marketplace_sync/portal/export_channels.html",
        {"title": _("Sell by spreadsheet"), "rows": rows},
    )


@portal_view
def export_channel(request, channel_code):
    return _channel_page(request, _channel_or_404(channel_code))


@portal_view
@require_safe
def export_download(request, channel_code):
    channel = _channel_or_404(channel_code)
    cooperative = request.portal.cooperative
    # Closed by FileResponse once sent; spills to disk above 8 MB.
    handle = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    exports.build_upload_workbook(cooperative=cooperative, channel=channel, destination=handle)
    handle.seek(0)
    day = timezone.localdate().strftime("%Y%m%d")
    filename = f"{channel.code}-{cooperative.slug}-{day}.xlsx"
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)


@portal_view
@require_POST
def export_listing_url(request, channel_code, product_id):
    channel = _channel_or_404(channel_code)
    cooperative = request.portal.cooperative
    product = _product_or_404(cooperative, product_id)
    form = ListingUrlForm(request.POST, prefix=f"p{product.pk}")
    anchor = f"{_channel_url(cooperative, channel)}#san-pham-{product.pk}"
    if not form.is_valid():
        return _channel_page(request, channel, bound_form=(product.pk, form), status=400)
    removing = "remove" in request.POST
    try:
        # One transaction: a refused address leaves no new shop record behind.
        with transaction.atomic():
            account = exports.export_account(cooperative=cooperative, channel=channel)
            if removing:
                exports.listing_take_down(product=product, account=account, user=request.user)
            else:
                exports.listing_confirm_url(
                    product=product, account=account, url=form.cleaned_data["url"], user=request.user
                )
    except exports.ExportError as error:
        form.add_error("url", error.message)
        return _channel_page(request, channel, bound_form=(product.pk, form), status=400)
    names = {"product": product.name, "channel": channel.name}
    if removing:
        messages.success(request, _("Recorded: “%(product)s” is no longer on sale on %(channel)s.") % names)
    else:
        messages.success(request, _("Recorded: “%(product)s” is on sale on %(channel)s.") % names)
    return redirect(anchor)


@portal_view
@require_POST
def export_orders_upload(request, channel_code):
    channel = _channel_or_404(channel_code)
    cooperative = request.portal.cooperative
    form = OrderFileForm(request.POST, request.FILES)
    if not form.is_valid():
        return _channel_page(request, channel, order_form=form, status=400)
    upload = form.cleaned_data["file"]
    report = exports.import_order_export(cooperative=cooperative, channel=channel, file=upload, filename=upload.name)
    if not report.saved:
        return _channel_page(request, channel, report=report, order_form=form, status=400)
    messages.success(
        request,
        _("Orders imported from %(file)s: %(new)d new, %(updated)d updated, %(unchanged)d unchanged.")
        % {
            "file": upload.name,
            "new": report.new_orders,
            "updated": report.updated_orders,
            "unchanged": report.unchanged_orders,
        },
    )
    return redirect(f"{_channel_url(cooperative, channel)}#don-hang")


urlpatterns = [
    path("feeds/google-merchant.xml", google_merchant_feed, name="feed_google_merchant"),
    path("feeds/meta-catalog.csv", meta_catalog_feed, name="feed_meta_catalog"),
]

portal_urlpatterns = [
    path("ban-thu-cong/", export_channels, name="export_channels"),
    path("ban-thu-cong/<slug:channel_code>/", export_channel, name="export_channel"),
    path("ban-thu-cong/<slug:channel_code>/tai-ve.xlsx", export_download, name="export_download"),
    path("ban-thu-cong/<slug:channel_code>/san-pham/<int:product_id>/", export_listing_url, name="export_listing_url"),
    path("ban-thu-cong/<slug:channel_code>/don-hang/", export_orders_upload, name="export_orders_upload"),
]

__all__ = ["portal_urlpatterns", "urlpatterns"]
