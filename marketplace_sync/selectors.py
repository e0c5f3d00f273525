"""Reads of shops, listings, orders and the queue, with their joins."""

from django.db.models import Count, Q, Sum
from django.http import Http404

from . import registry
from .models import Channel, Listing, MarketplaceAccount, Order, SyncJob


def portal_shops(*, cooperative) -> list[dict]:
    """Every API channel with the cooperative's shop on it (or none yet)."""
    accounts = {a.channel_id: a for a in MarketplaceAccount.objects.filter(cooperative=cooperative)}
    rows = []
    for channel in Channel.objects.filter(is_active=True, kind=Channel.Kind.API).order_by("sort_order"):
        if registry.has_connector(channel.code):
            rows.append({"channel": channel, "account": accounts.get(channel.pk)})
    return rows


def portal_account(*, cooperative, account_id: int) -> MarketplaceAccount:
    try:
        return MarketplaceAccount.objects.select_related("channel").get(cooperative=cooperative, pk=account_id)
    except MarketplaceAccount.DoesNotExist as error:
        raise Http404 from error


def product_listings(*, product) -> list[Listing]:
    return list(
        Listing.objects.filter(product=product).select_related("channel", "account").order_by("channel__sort_order")
    )


def portal_orders(*, cooperative):
    return (
        Order.objects.filter(cooperative=cooperative)
        .select_related("channel")
        .prefetch_related("lines")
        .order_by("-ordered_at", "-pk")
    )


def portal_order(*, cooperative, order_id: int) -> Order:
    try:
        return portal_orders(cooperative=cooperative).get(pk=order_id)
    except Order.DoesNotExist as error:
        raise Http404 from error


def order_totals(*, cooperative) -> dict:
    sales = Order.objects.filter(cooperative=cooperative, status__in=Order.SALE_STATUSES)
    return sales.aggregate(orders=Count("pk"), revenue=Sum("total_vnd"))


def queue_depth_by_channel() -> list[dict]:
    """Jobs waiting, running and failed in the last day, per channel (the admin's queue panel)."""
    return list(
        SyncJob.objects.values("listing__channel__code", "listing__channel__name")
        .annotate(
            waiting=Count("pk", filter=Q(status=SyncJob.Status.PENDING)),
            running=Count("pk", filter=Q(status=SyncJob.Status.RUNNING)),
            failed=Count("pk", filter=Q(status=SyncJob.Status.FAILED)),
        )
        .order_by("listing__channel__name")
    )


def sandbox_buyable_listings(*, cooperative) -> list[Listing]:
    """Live listings a demo buyer can order on the local sandboxes."""
    return list(
        Listing.objects.filter(account__cooperative=cooperative, reported_state=Listing.Reported.LIVE)
        .select_related("channel", "product")
        .order_by("channel__sort_order", "product__name")
    )


def public_buy_links(*, product) -> list[Listing]:
    """Where a visitor can buy the product: its live listings with a marketplace address, on
    channels that are shops (not feeds, not the showcase itself), in the channels' order."""
    return list(
        Listing.objects.filter(
            product=product,
            reported_state=Listing.Reported.LIVE,
            channel__kind__in=(Channel.Kind.API, Channel.Kind.EXPORT),
            channel__is_active=True,
        )
        .exclude(external_url="")
        .select_related("channel")
        .order_by("channel__sort_order", "channel__name")
    )
