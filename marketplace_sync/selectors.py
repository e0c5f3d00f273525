"""Reads of shops, listings, orders and the queue, with their joins."""

from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import Coalesce
from django.http import Http404

from . import registry
from .models import Channel, DirectCheckout, Listing, MarketplaceAccount, Order, SellerLedgerEntry, SyncJob


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
        .select_related("channel", "direct_checkout")
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


# --- Seller ledger (direct sales) ---------------------------------------------------------------------


def ledger_entries(*, cooperative=None):
    entries = SellerLedgerEntry.objects.select_related("checkout", "checkout__product", "cooperative")
    if cooperative is not None:
        entries = entries.filter(cooperative=cooperative)
    return entries.order_by("-created_at", "-pk")


def ledger_totals(*, cooperative) -> dict:
    """What the cooperative has earned by direct sales, and what the operator still has to
    transfer to it (sales paid out by Stripe Connect are not the operator's to transfer)."""
    entries = SellerLedgerEntry.objects.filter(cooperative=cooperative)
    transfer = Q(settlement=DirectCheckout.Settlement.BANK_TRANSFER)
    return entries.aggregate(
        owed=Coalesce(Sum("owed_vnd"), 0),
        outstanding=Coalesce(Sum("owed_vnd", filter=transfer & Q(settled_at__isnull=True)), 0),
        paid_out=Coalesce(Sum("owed_vnd", filter=transfer & Q(settled_at__isnull=False)), 0),
    )


def ledger_outstanding_by_cooperative():
    """One row per cooperative the operator owes money to: the settlement list."""
    return (
        SellerLedgerEntry.objects.filter(settlement=DirectCheckout.Settlement.BANK_TRANSFER, settled_at__isnull=True)
        .values(
            "cooperative_id",
            "cooperative__name",
            "cooperative__bank_account_name",
            "cooperative__bank_account_number",
            "cooperative__bank_name",
        )
        .annotate(outstanding=Sum("owed_vnd"), entries=Count("pk"), oldest=Min("created_at"))
        .order_by("cooperative__name")
    )
