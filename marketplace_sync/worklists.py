"""The trade department's worklists: what blocks each product, and who must act (selectors).

Each worklist is a queryset filtered in the database (so it pages and counts cheaply) plus,
for the rows on one page only, a reason and who must act, worked out from prefetched data
(a fixed number of queries per page).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog import readiness
from catalog import selectors as catalog_selectors
from catalog.models import Certificate, Product

from . import coverage
from .models import Listing, MarketplaceAccount, WhoMustAct

EXPIRY_WARNING_DAYS = 90
CONNECTION_WARNING_DAYS = 30
DEFAULT_NO_SALE_DAYS = 60

WORKLISTS = {
    "not_listed": gettext_lazy("Certified, not listed"),
    "no_sale": gettext_lazy("Listed, no sale lately"),
    "certificates": gettext_lazy("Certificates expiring or expired"),
    "connections": gettext_lazy("Shop connections expiring"),
    "failing": gettext_lazy("Listings failing to sync"),
    "quality": gettext_lazy("Data quality"),
}


@dataclass
class Blocker:
    reason: str
    who_must_act: str

    @property
    def who_label(self) -> str:
        return str(WhoMustAct(self.who_must_act).label)


# --- Not listed ------------------------------------------------------------------------------------------------


def not_listed(*, as_of: datetime.date | None = None, cooperative_ids=None) -> QuerySet[Product]:
    return coverage.coverage_products(as_of=as_of, measure="not_listed", cooperative_ids=cooperative_ids)


def with_blocking_data(products) -> QuerySet[Product]:
    """What `not_listed_blocker` reads, prefetched for a page of products."""
    return (
        catalog_selectors.with_moderation_status(products)
        .select_related("offer", "cooperative")
        .prefetch_related(
            "certificates",
            "images",
            Prefetch(
                "listings",
                queryset=Listing.objects.filter(channel__counts_for_coverage=True).select_related("channel"),
                to_attr="counted_listings",
            ),
            Prefetch(
                "cooperative__marketplace_accounts",
                queryset=MarketplaceAccount.objects.filter(
                    status=MarketplaceAccount.Status.CONNECTED, channel__counts_for_coverage=True
                ),
                to_attr="connected_accounts",
            ),
        )
    )


def not_listed_blocker(product: Product) -> Blocker:
    """Why a certified product is not live anywhere, and who must act next: the first of
    producer unknown, not approved, not ready, rejected, failing, in review, no shop."""
    if product.cooperative_id is None:
        return Blocker(
            _("The register does not name the producer: assign the product to its cooperative."),
            WhoMustAct.TRADE_DEPARTMENT,
        )
    if not product.live:
        state = catalog_selectors.moderation_status(product).state
        if state == catalog_selectors.ProductState.IN_REVIEW:
            return Blocker(_("Waiting for the trade department's review."), WhoMustAct.TRADE_DEPARTMENT)
        if state == catalog_selectors.ProductState.NEEDS_CHANGES:
            return Blocker(_("The trade department asked for changes: the cooperative must make them."),
                           WhoMustAct.COOPERATIVE)  # fmt: skip
        return Blocker(
            _("Not yet completed and sent for review by the cooperative (photos, description, price)."),
            WhoMustAct.COOPERATIVE,
        )
    subject = readiness.ReadinessSubject(
        product=product,
        offer=getattr(product, "offer", None),
        certificates=list(product.certificates.all()),
        photo_count=len(product.images.all()),
    )
    missing = [item for item in readiness.checklist(subject) if not item.ok]
    if missing:
        who = (
            WhoMustAct.TRADE_DEPARTMENT
            if all(item.who_acts == readiness.Responsible.TRADE_DEPARTMENT for item in missing)
            else WhoMustAct.COOPERATIVE
        )
        return Blocker(
            _("Not ready: %(what)s") % {"what": "; ".join(str(item.message or item.label) for item in missing)}, who
        )
    listings = getattr(product, "counted_listings", [])
    for state in (Listing.Reported.REJECTED, Listing.Reported.BANNED, Listing.Reported.FAILED):
        for listing in listings:
            if listing.reported_state == state:
                text = listing.explanation or listing.raw_reason or listing.get_reported_state_display()
                return Blocker(f"{listing.channel.name}: {text}", listing.who_must_act or WhoMustAct.OPERATOR)
    in_review = [listing.channel.name for listing in listings if listing.reported_state == Listing.Reported.IN_REVIEW]
    if in_review:
        return Blocker(_("In the marketplace's review: %(channels)s.") % {"channels": ", ".join(in_review)},
                       WhoMustAct.MARKETPLACE)  # fmt: skip
    if not getattr(product.cooperative, "connected_accounts", []):
        return Blocker(
            _("The cooperative has no connected shop: connect one in the portal, or record a Postmart or Voso page."),
            WhoMustAct.COOPERATIVE,
        )
    if any(listing.reported_state in (Listing.Reported.QUEUED, Listing.Reported.NOT_SENT) for listing in listings):
        return Blocker(_("Queued: it is being sent to the marketplaces."), WhoMustAct.NOBODY)
    return Blocker(
        _("Approved and ready, but not sent to the cooperative's shops: use “push now” on its listings."),
        WhoMustAct.OPERATOR,
    )


# --- Listed, no sale lately ---------------------------------------------------------------------------------


def no_sale(*, days: int = DEFAULT_NO_SALE_DAYS, cooperative_ids=None) -> QuerySet[Product]:
    """Live now, first listed more than `days` days ago, and no sale in those `days` days
    (a product listed last week has not had its chance yet)."""
    since = timezone.localdate() - datetime.timedelta(days=days)
    products = coverage.coverage_products(measure="listed", cooperative_ids=cooperative_ids)
    return products.filter(
        Q(facts__last_sale_on__isnull=True) | Q(facts__last_sale_on__lt=since),
        facts__first_listed_at__lt=coverage.end_of_day(since),
    ).select_related("facts")


# --- Certificates -----------------------------------------------------------------------------------------------


def certificates_due(*, within_days: int = EXPIRY_WARNING_DAYS, cooperative_ids=None) -> QuerySet[Product]:
    """Products whose certificate expires within `within_days`, or whose certificates have all
    expired (not re-certified), soonest first. `expiry` is annotated (None for year-only)."""
    today = timezone.localdate()
    horizon = today + datetime.timedelta(days=within_days)
    valid_today = coverage.valid_certificates(today).filter(product=OuterRef("pk"))
    longest = valid_today.order_by("-expires_on")
    latest_expired = Certificate.objects.filter(product=OuterRef("pk"), verified_at__isnull=False).order_by(
        "-expires_on"
    )
    products = Product.objects.all()
    if cooperative_ids is not None:
        products = products.filter(cooperative_id__in=cooperative_ids)
    year_only_ending = Q(decision_date__isnull=True, decision_year=today.year - coverage.YEAR_ONLY_VALID_YEARS + 1)
    ends_soon = valid_today.filter(
        Q(expires_on__lte=horizon) | (year_only_ending if horizon.year > today.year else Q(pk=None))
    )
    # ...but not if another certificate of the product stays valid beyond the horizon
    lasting = coverage.valid_certificates(horizon).filter(product=OuterRef("pk"))
    expired = Certificate.objects.filter(product=OuterRef("pk"), verified_at__isnull=False, expires_on__lt=today)
    return (
        products.annotate(
            valid_now=Exists(valid_today),
            ends_soon=Exists(ends_soon),
            lasting=Exists(lasting),
            has_expired=Exists(expired),
            expiry=Subquery(longest.values("expires_on")[:1]),
            expired_on=Subquery(latest_expired.values("expires_on")[:1]),
        )
        .filter((Q(valid_now=True, ends_soon=True) & ~Q(lasting=True)) | Q(valid_now=False, has_expired=True))
        .select_related("cooperative")
        .order_by("valid_now", "expiry", "expired_on", "name")
    )


# --- Connections, failing listings -----------------------------------------------------------------------


def connections_due(*, within_days: int = CONNECTION_WARNING_DAYS, cooperative_ids=None):
    """Shop connections expiring within `within_days`, or already expired or revoked."""
    horizon = timezone.now() + datetime.timedelta(days=within_days)
    accounts = MarketplaceAccount.objects.filter(
        Q(status=MarketplaceAccount.Status.CONNECTED, authorization_expires_at__lte=horizon)
        | Q(status=MarketplaceAccount.Status.EXPIRED)
    )
    if cooperative_ids is not None:
        accounts = accounts.filter(cooperative_id__in=cooperative_ids)
    return accounts.select_related("cooperative", "channel").order_by("authorization_expires_at", "pk")


def failing_listings(*, cooperative_ids=None):
    listings = Listing.objects.filter(
        reported_state__in=(Listing.Reported.FAILED, Listing.Reported.REJECTED, Listing.Reported.BANNED)
    )
    if cooperative_ids is not None:
        listings = listings.filter(product__cooperative_id__in=cooperative_ids)
    return listings.select_related("product", "channel", "account__cooperative").order_by("-updated_at", "-pk")
