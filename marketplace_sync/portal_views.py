"""The marketplaces' pages of the member portal: shops, orders, and each product's listings.

Every view goes through cooperatives.portal.portal_view and reads only the cooperative's own
shops, listings and orders (marketplace_sync.selectors with `cooperative=`)."""

import requests
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cooperatives.portal import portal_view

from . import selectors, services
from .models import Channel, Listing
from .views import callback_url


@portal_view
def shops(request):
    cooperative = request.portal.cooperative
    return render(
        request,
        "marketplace_sync/portal/shops.html",
        {"rows": selectors.portal_shops(cooperative=cooperative), "title": _("Shops")},
    )


@portal_view
@require_POST
def shop_connect(request, channel_code):
    channel = get_object_or_404(Channel, code=channel_code, kind=Channel.Kind.API, is_active=True)
    try:
        url = services.account_connect_start(
            cooperative=request.portal.cooperative,
            channel=channel,
            user=request.user,
            callback_url=callback_url(channel.code),
        )
    except services.SyncError as error:
        messages.error(request, error.message)
        return redirect("portal:shops", cooperative_id=request.portal.cooperative.pk)
    return redirect(url)


@portal_view
@require_POST
def shop_disconnect(request, account_id):
    account = selectors.portal_account(cooperative=request.portal.cooperative, account_id=account_id)
    services.account_disconnect(account=account, user=request.user)
    messages.success(request, _("The %(channel)s shop is disconnected.") % {"channel": account.channel.name})
    return redirect("portal:shops", cooperative_id=request.portal.cooperative.pk)


@portal_view
def orders(request):
    cooperative = request.portal.cooperative
    return render(
        request,
        "marketplace_sync/portal/orders.html",
        {
            "orders": selectors.portal_orders(cooperative=cooperative)[:200],
            "totals": selectors.order_totals(cooperative=cooperative),
            "sandbox_listings": selectors.sandbox_buyable_listings(cooperative=cooperative)
            if settings.SANDBOX_BUYER_ENABLED
            else [],
            "title": _("Orders"),
        },
    )


@portal_view
@require_POST
def sandbox_order(request, listing_id):
    """Demo only: play a buyer on the local sandbox, to see a sale come back."""
    if not settings.SANDBOX_BUYER_ENABLED:
        raise Http404
    listing = get_object_or_404(
        Listing.objects.select_related("channel", "product__offer"),
        pk=listing_id,
        account__cooperative=request.portal.cooperative,
    )
    try:
        services.sandbox_order_create(channel_code=listing.channel.code, sku=listing.product.offer.sku, quantity=1)
    except (services.SyncError, requests.RequestException) as error:
        messages.error(request, getattr(error, "message", str(error)))
    else:
        messages.success(
            request,
            _("A sandbox buyer ordered 1 × %(product)s on %(channel)s. The order appears here in a few seconds.")
            % {"product": listing.product.name, "channel": listing.channel.name},
        )
    return redirect("portal:orders", cooperative_id=request.portal.cooperative.pk)


@portal_view
def coverage_page(request):
    """The cooperative's own coverage figures, and what to do next for each product. A helper
    also sees one row per cooperative they assist; nobody sees another cooperative's data."""
    from . import coverage, worklists

    cooperative = request.portal.cooperative
    own = coverage.coverage_table(cooperative_ids=[cooperative.pk])
    assisted = None
    if request.portal.is_helper and len(request.portal.memberships) > 1:
        ids = [membership.cooperative_id for membership in request.portal.memberships]
        assisted = coverage.coverage_table(by="cooperative", cooperative_ids=ids)
    blocked = list(worklists.with_blocking_data(worklists.not_listed(cooperative_ids=[cooperative.pk]))[:100])
    return render(
        request,
        "marketplace_sync/portal/coverage.html",
        {
            "table": own,
            "assisted": assisted,
            "blocked": [(product, worklists.not_listed_blocker(product)) for product in blocked],
            "no_sale": worklists.no_sale(cooperative_ids=[cooperative.pk])[:100],
            "no_sale_days": worklists.DEFAULT_NO_SALE_DAYS,
            "certificates": [
                (product, worklists.certificate_note(product))
                for product in worklists.certificates_due(cooperative_ids=[cooperative.pk])[:100]
            ],
            "title": _("Progress"),
        },
    )


@portal_view
def ledger(request):
    """What the cooperative is owed for its direct sales on the showcase, row by row."""
    cooperative = request.portal.cooperative
    return render(
        request,
        "marketplace_sync/portal/ledger.html",
        {
            "entries": selectors.ledger_entries(cooperative=cooperative)[:500],
            "totals": selectors.ledger_totals(cooperative=cooperative),
            "title": _("Direct sales"),
        },
    )
