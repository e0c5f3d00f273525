"""The trade department's worklists: what blocks each product, and who must act (selectors).

Each worklist is a queryset filtered in the database (so it pages and counts cheaply) plus,
for the rows on one page only, a reason and who must act, worked out from prefetched data
(a fixed number of queries per page).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import F, Max, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog import readiness
from catalog import selectors as catalog_selectors
from catalog.models import Product

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
    """Products whose certificate expires within `within_days` (and no other lasts beyond), or
    whose certificates have all expired, soonest first. One grouped query over certificates:
    `expiry` is the last expiry date of the product's dated certificates, `year_only_year` the
    latest year of those known only by year (valid through 31 December two years later),
    `valid_now` whether either is still in force today."""
    today = timezone.localdate()
    horizon = today + datetime.timedelta(days=within_days)
    last_year_only_year_valid_now = today.year - coverage.YEAR_ONLY_VALID_YEARS + 1
    # a year-only certificate of year Y lasts beyond the horizon when 31/12/(Y+2) > horizon
    last_year_only_year_lasting = (
        horizon.year - coverage.YEAR_ONLY_VALID_YEARS + (2 if (horizon.month, horizon.day) == (12, 31) else 1)
    )
    verified = Q(certificates__verified_at__isnull=False)
    products = Product.objects.all()
    if cooperative_ids is not None:
        products = products.filter(cooperative_id__in=cooperative_ids)
    valid_now = Q(expiry__gte=today) | Q(year_only_year__gte=last_year_only_year_valid_now)
    lasting = Q(expiry__gt=horizon) | Q(year_only_year__gte=last_year_only_year_lasting)
    return (
        products.filter(verified)
        .annotate(
            expiry=Max("certificates__expires_on", filter=verified),
            year_only_year=Max(
                "certificates__decision_year", filter=verified & Q(certificates__decision_date__isnull=True)
            ),
        )
        # As flags (never NULL): NOT over a NULL aggregate would drop the row.
        .annotate(valid_now=coverage.flag(valid_now), lasting=coverage.flag(lasting))
        .filter(Q(valid_now=True, lasting=False) | Q(valid_now=False))
        .select_related("cooperative")
        .order_by("-valid_now", F("expiry").asc(nulls_last=True), "name", "pk")
    )


def certificate_note(product) -> str:
    """What the certificates worklist says about a product of `certificates_due`."""
    today = timezone.localdate()
    if product.valid_now:
        if product.expiry and product.expiry >= today:
            return _("Expires on %(date)s") % {"date": product.expiry.strftime("%d/%m/%Y")}
        return _("Dated by year only: expires by the end of this year at the latest")
    if product.expiry:
        return _("Expired on %(date)s: not counted until re-certified") % {"date": product.expiry.strftime("%d/%m/%Y")}
    return _("Expired (a certificate of %(year)s, dated by year only): not counted until re-certified") % {
        "year": product.year_only_year
    }


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
