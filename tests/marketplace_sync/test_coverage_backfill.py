"""The backfill agrees with the live facts after any sequence of events (property-based)."""

import datetime

from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from marketplace_sync import facts
from marketplace_sync.connectors.base import ListingStatus, OrderStatus
from marketplace_sync.models import Listing, ProductFacts
from tests import factories

from .conftest import sellable_product
from .test_coverage import report_listing, sell, shop

listing_events = st.tuples(st.just("listing"), st.integers(0, 3), st.sampled_from(list(ListingStatus)))
order_events = st.tuples(
    st.just("order"),
    st.integers(0, 1),  # which product
    st.integers(0, 3),  # which order number
    st.sampled_from(list(OrderStatus)),
    st.integers(0, 90),  # days ago
)


class BackfillAgreesWithLiveFacts(TestCase):
    @classmethod
    def setUpTestData(cls):
        coop = factories.make_cooperative("HTX Chè Khe Năm")
        member = factories.make_portal_user("thanhvien", coop)
        cls.products = [sellable_product(coop, member, name=f"Chè {n}") for n in (1, 2)]
        cls.accounts = [shop(coop, "shopee"), shop(coop, "lazada")]
        cls.listings = [
            Listing.objects.create(product=product, account=account, channel=account.channel)
            for product in cls.products
            for account in cls.accounts
        ]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.one_of(listing_events, order_events), min_size=1, max_size=12))
    def test_backfill_agrees(self, events):
        for minutes, event in enumerate(events, start=1):
            if event[0] == "listing":
                report_listing(self.listings[event[1]], event[2])
            else:
                _kind, product, number, status, days_ago = event
                sell(
                    self.products[product],
                    self.accounts[number % 2],
                    status,
                    number=f"ORD-{number}",
                    when=timezone.now() - datetime.timedelta(days=days_ago),
                    minutes=minutes,
                )
        live = facts.facts_snapshot()

        facts.product_facts_refresh()

        assert facts.facts_snapshot() == live
        # and the facts say what the listings say
        for product in self.products:
            live_now = Listing.objects.filter(product=product, reported_state=Listing.Reported.LIVE).exists()
            stored = ProductFacts.objects.filter(product=product).first()
            assert (stored.listed_now if stored else False) == live_now
