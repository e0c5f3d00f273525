"""The sync engine end to end: real sandboxes over HTTP, a real Celery worker, real OAuth."""

import pytest

from catalog import services as catalog_services
from catalog.models import Offer
from marketplace_sync import services
from marketplace_sync.models import Listing, MarketplaceAccount, SyncAttempt, SyncJob, WhoMustAct

from .conftest import API_CHANNELS, approve, connect_shop, listing_states, sellable_product, wait_until

# serialized_rollback: data migrations (groups, channels, the workflow) survive the flush.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.celery_worker]


def _all_live(product, channels=API_CHANNELS):
    states = listing_states(product)
    return all(states.get(code) == Listing.Reported.LIVE for code in channels) and states


def test_an_approved_product_goes_live_on_every_connected_channel(client, sandboxes, worker, coop_a, member_a, officer):
    # given the cooperative's four shops, connected through each marketplace's own page
    accounts = [connect_shop(client, member_a, coop_a, code) for code in API_CHANNELS]
    assert all(account.status == MarketplaceAccount.Status.CONNECTED for account in accounts)
    assert all(account.access_token and account.access_expires_at for account in accounts)
    # when the connection ends, where the marketplace says so (Tiki publishes no lifetime)
    assert all(account.authorization_expires_at for account in accounts if account.channel.code != "tiki")

    # when the trade department approves a complete product
    product = approve(sellable_product(coop_a, member_a), officer)

    # then the worker sends it everywhere; each marketplace reviews it; it goes live
    states = wait_until(lambda: _all_live(product), timeout=60, message="live everywhere")
    assert set(states) == set(API_CHANNELS)
    for listing in Listing.objects.filter(product=product).select_related("channel", "account"):
        items = sandboxes.items(listing.channel.code, listing.account.shop_id)
        assert len(items) == 1, f"{listing.channel.code}: {items}"
        assert listing.external_id and listing.external_url and listing.first_live_at
        assert listing.who_must_act == WhoMustAct.NOBODY
    # and every HTTP call is on record
    assert SyncAttempt.objects.filter(job__listing__product=product).count() >= 8


def test_price_and_stock_changes_reach_every_live_listing(client, sandboxes, worker, coop_a, member_a, officer):
    connect_shop(client, member_a, coop_a, "shopee")
    connect_shop(client, member_a, coop_a, "tiktok_shop")
    product = approve(sellable_product(coop_a, member_a, price=150_000, stock=30), officer)
    wait_until(lambda: _all_live(product, ("shopee", "tiktok_shop")), timeout=60, message="live")

    catalog_services.offer_update(
        product=product,
        user=member_a,
        change=catalog_services.OfferChange(price_vnd=185_000, stock=12, safety_buffer=2),
    )

    def pushed():
        return all(
            listing.synced_price_vnd == 185_000 and listing.synced_stock == 10
            for listing in Listing.objects.filter(product=product)
        )

    wait_until(pushed, timeout=30, message="new price and stock pushed")


def test_a_429_storm_is_ridden_out_and_every_item_lands_once(client, sandboxes, worker, coop_a, member_a, officer):
    account = connect_shop(client, member_a, coop_a, "shopee")
    # the marketplace allows 2 requests per second while we believe it allows 10
    sandboxes.control("shopee", "faults", {"requests_per_second": 2})
    products = [approve(sellable_product(coop_a, member_a, name=f"Chè Khe Năm loại {n}"), officer) for n in range(4)]

    wait_until(lambda: all(_all_live(p, ("shopee",)) for p in products), timeout=90, message="all live")
    items = sandboxes.items("shopee", account.shop_id)
    assert len(items) == 4
    assert len({item["item_sku"] for item in items}) == 4
    assert SyncAttempt.objects.filter(account=account, status_code=429).exists()


def test_server_errors_are_retried_until_the_item_lands(client, sandboxes, worker, coop_a, member_a, officer):
    account = connect_shop(client, member_a, coop_a, "lazada")
    # the marketplace fails every call…
    sandboxes.control("lazada", "faults", {"error_rate": 1.0})
    product = approve(sellable_product(coop_a, member_a), officer)
    wait_until(
        lambda: SyncAttempt.objects.filter(account=account, status_code__gte=500).exists(), message="a server error"
    )
    assert listing_states(product)["lazada"] == Listing.Reported.FAILED
    # …until it recovers; the job is retried (with backoff) and the item lands, once
    sandboxes.control("lazada", "faults", {"error_rate": 0.0})
    wait_until(lambda: _all_live(product, ("lazada",)), timeout=90, message="live after the errors")
    assert len(sandboxes.items("lazada", account.shop_id)) == 1
    assert SyncJob.objects.get(listing__product=product, action=SyncJob.Action.PUBLISH).attempts >= 2


def test_a_timeout_after_the_marketplace_created_the_item_adopts_it(
    client, sandboxes, worker, coop_a, member_a, officer
):
    account = connect_shop(client, member_a, coop_a, "tiktok_shop")
    # the first create is stored by the marketplace, but its answer comes after our 2 s timeout
    sandboxes.control("tiktok_shop", "faults", {"timeout_after_create_s": 3, "timeout_after_create_count": 1})
    product = approve(sellable_product(coop_a, member_a), officer)

    wait_until(lambda: _all_live(product, ("tiktok_shop",)), timeout=90, message="live")
    assert len(sandboxes.items("tiktok_shop", account.shop_id)) == 1  # adopted, not duplicated
    assert SyncAttempt.objects.filter(account=account, error_code="timeout").exists()


def test_an_expired_token_is_refreshed_and_the_push_continues(client, sandboxes, worker, coop_a, member_a, officer):
    account = connect_shop(client, member_a, coop_a, "shopee")
    old_token = account.access_token
    sandboxes.control("shopee", "expire-token", {"shop_id": account.shop_id})

    product = approve(sellable_product(coop_a, member_a), officer)

    wait_until(lambda: _all_live(product, ("shopee",)), timeout=60, message="live after refresh")
    account.refresh_from_db()
    assert account.access_token != old_token


def test_a_rejected_item_says_why_and_that_the_cooperative_must_act(
    client, sandboxes, worker, coop_a, member_a, officer
):
    connect_shop(client, member_a, coop_a, "shopee")
    product = sellable_product(coop_a, member_a, name="Chè Khe Năm GIẢM GIÁ SỐC gọi 0912345678")
    product = approve(product, officer)

    listing = wait_until(
        lambda: Listing.objects.filter(product=product, reported_state=Listing.Reported.REJECTED).first(),
        timeout=60,
        message="rejected",
    )
    assert listing.raw_reason
    assert listing.who_must_act == WhoMustAct.COOPERATIVE
    assert listing.raw_reason in listing.explanation


def test_a_product_not_ready_for_a_channel_is_explained_and_not_sent(
    client, sandboxes, worker, coop_a, member_a, officer
):
    account = connect_shop(client, member_a, coop_a, "tiktok_shop")
    # TikTok Shop wants a title of at least 25 characters
    product = approve(sellable_product(coop_a, member_a, name="Chè búp"), officer)

    listing = wait_until(
        lambda: (
            Listing.objects.filter(product=product, reported_state=Listing.Reported.NOT_SENT)
            .exclude(explanation="")
            .first()
        ),
        timeout=30,
        message="explained",
    )
    assert "TikTok" in listing.explanation
    assert listing.who_must_act == WhoMustAct.COOPERATIVE
    assert sandboxes.items("tiktok_shop", account.shop_id) == []
    assert SyncJob.objects.filter(listing=listing, status=SyncJob.Status.FAILED).exists()


def test_stock_never_goes_below_the_safety_buffer_on_a_marketplace(
    client, sandboxes, worker, coop_a, member_a, officer
):
    account = connect_shop(client, member_a, coop_a, "tiki")
    product = approve(sellable_product(coop_a, member_a, stock=3), officer)  # buffer 2 → 1 sellable
    wait_until(lambda: _all_live(product, ("tiki",)), timeout=60, message="live")
    listing = Listing.objects.get(product=product)
    assert listing.synced_stock == 1
    offer = Offer.objects.get(product=product)
    assert offer.sellable_stock == 1
    assert services.credentials(account).shop_id == account.shop_id


def test_a_refused_change_to_a_live_item_leaves_it_live_and_says_why(
    client, sandboxes, worker, coop_a, member_a, officer
):
    """The marketplace keeps selling the item as it was; coverage must still count it listed."""
    from marketplace_sync.models import ProductFacts

    connect_shop(client, member_a, coop_a, "tiktok_shop")
    product = approve(sellable_product(coop_a, member_a, name="Chè Shan tuyết cổ thụ Suối Giàng"), officer)
    wait_until(lambda: listing_states(product).get("tiktok_shop") == Listing.Reported.LIVE, timeout=60, message="live")

    # TikTok Shop wants a title of at least 25 characters: the new name is refused.
    catalog_services.product_update_content(product=product, user=member_a, changes={"name": "Chè búp"})
    approve(product, officer)

    listing = wait_until(
        lambda: Listing.objects.filter(product=product, channel__code="tiktok_shop").exclude(explanation="").first(),
        timeout=30,
        message="explained",
    )
    services.listing_request_sync(listing=listing, action=SyncJob.Action.REFRESH)  # still says why after
    wait_until(
        lambda: not SyncJob.objects.filter(listing=listing, status__in=["pending", "running"]).exists(),
        message="refresh done",
    )
    listing.refresh_from_db()
    assert listing.reported_state == Listing.Reported.LIVE
    assert "TikTok" in listing.explanation and listing.who_must_act == WhoMustAct.COOPERATIVE
    assert ProductFacts.objects.get(product=product).listed_now
