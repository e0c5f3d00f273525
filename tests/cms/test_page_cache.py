"""Anonymous public pages are cached whole and go stale the moment what they show changes."""

import pytest
from django.core.cache import cache

from catalog import services as catalog_services
from catalog.models import Offer
from cms.models import ProductIndexPage
from marketplace_sync import services
from marketplace_sync.connectors.base import ListingStatus, OrderStatus, RemoteListing
from marketplace_sync.models import Listing
from tests.marketplace_sync.conftest import approve, sellable_product
from tests.marketplace_sync.test_coverage import report_listing, sell, shop

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def page_cache(settings):
    settings.PUBLIC_PAGE_CACHE_SECONDS = 600
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pages"}}
    cache.clear()
    yield
    cache.clear()


def product_url(product) -> str:
    index = ProductIndexPage.objects.get()
    return index.url + index.reverse_subpage("product_detail", args=[product.pk]).lstrip("/")


def test_a_second_visit_is_served_from_the_cache_without_queries(
    client, coop_a, member_a, officer, django_assert_num_queries
):
    product = approve(sellable_product(coop_a, member_a), officer)
    url = product_url(product)
    first = client.get(url)
    assert first["X-Public-Cache"] == "miss"

    with django_assert_num_queries(0):
        second = client.get(url)

    assert second["X-Public-Cache"] == "hit" and second.content == first.content
    assert second.has_header("X-Frame-Options")  # the security headers are still added


def test_a_price_change_an_order_and_a_listing_going_live_show_at_once(client, coop_a, member_a, officer):
    product = approve(sellable_product(coop_a, member_a, price=150_000, stock=3), officer)
    url = product_url(product)
    client.get(url)

    catalog_services.offer_update(
        product=product, user=member_a, change=catalog_services.OfferChange(price_vnd=175_000, stock=3, safety_buffer=2)
    )
    assert '"price": "175000"' in client.get(url).content.decode()

    account = shop(coop_a)
    sell(product, account, OrderStatus.PAID)  # stock moves by an UPDATE, not a save()
    assert Offer.objects.get(product=product).stock == 2
    assert "OutOfStock" in client.get(url).content.decode()

    listing = Listing.objects.create(product=product, account=account, channel=account.channel)
    services._apply_remote(  # the marketplace reports the item live, with its address
        listing, RemoteListing(external_id="5", status=ListingStatus.LIVE, url="https://shopee.vn/product/5/5")
    )
    assert "Mua trên Shopee" in client.get(url).content.decode()

    report_listing(listing, ListingStatus.BANNED)  # and later bans it
    assert "Mua trên Shopee" not in client.get(url).content.decode()


def test_signed_in_people_and_the_admin_are_never_served_a_cached_page(client, coop_a, member_a, officer):
    product = approve(sellable_product(coop_a, member_a), officer)
    client.get(product_url(product))
    client.force_login(officer)
    response = client.get(product_url(product))
    assert not response.has_header("X-Public-Cache")


def test_the_list_filters_are_worked_out_once_per_content_version(client, coop_a, coop_b, member_a, member_b, officer):
    """A visitor with a cookie always gets a fresh page, but the filter choices (old communes
    rolled up to 2025 ones) come from the cache until the content changes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cooperatives.models import AdministrativeUnit
    from cooperatives.units import load_administrative_units

    load_administrative_units()
    first_commune, second_commune = AdministrativeUnit.objects.filter(level="commune", valid_to=None)[:2]
    coop_a.commune, coop_b.commune = first_commune, second_commune
    coop_a.save()
    coop_b.save()
    approve(sellable_product(coop_a, member_a), officer)
    index_url = ProductIndexPage.objects.get().url
    client.cookies["seen"] = "1"  # no whole-page cache for this visitor
    with CaptureQueriesContext(connection) as first:
        client.get(index_url)
    with CaptureQueriesContext(connection) as second:
        page = client.get(index_url)
    assert len(second) < len(first)
    assert [c for c, _label in page.context["form"].fields["commune"].choices if c] == [first_commune.code]

    approve(sellable_product(coop_b, member_b, name="Mật ong bạc hà"), officer)  # bumps the version
    choices = client.get(index_url).context["form"].fields["commune"].choices
    assert {c for c, _label in choices if c} == {first_commune.code, second_commune.code}


def test_the_home_and_progress_figures_are_computed_once_per_content_version(client, coop_a, member_a, officer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cms.models import HomePage, ProgressPage

    HomePage.objects.get().add_child(instance=ProgressPage(title="Tiến độ", slug="tien-do"))
    product = approve(sellable_product(coop_a, member_a), officer)
    client.cookies["seen"] = "1"  # a fresh page each time: only the parts are cached
    for page in (HomePage.objects.get(), ProgressPage.objects.get()):
        with CaptureQueriesContext(connection) as first:
            client.get(page.url)
        with CaptureQueriesContext(connection) as second:
            client.get(page.url)
        assert len(second) < len(first), page

    assert client.get(HomePage.objects.get().url).context["coverage"].listed == 0
    account = shop(coop_a)
    listing = Listing.objects.create(product=product, account=account, channel=account.channel)
    report_listing(listing, ListingStatus.LIVE)  # the facts change, and with them the content version
    assert client.get(HomePage.objects.get().url).context["coverage"].listed == 1


def test_a_csrf_or_language_cookie_still_gets_the_cached_page_in_the_right_language(client, coop_a, member_a, officer):
    """A visitor who opened the buy page carries a CSRF cookie, one who switched language a
    language cookie: neither changes a public page, so both are served from the cache; a session
    (signed in, flash messages) never is. The language is part of the key."""
    from django.conf import settings

    product = approve(sellable_product(coop_a, member_a), officer)
    url = product_url(product)
    client.get(url)
    client.cookies[settings.CSRF_COOKIE_NAME] = "x" * 32
    assert client.get(url)["X-Public-Cache"] == "hit"

    # The address decides the language (Vietnamese without a prefix), whatever the cookie says.
    client.get("/")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    vietnamese = client.get("/")
    assert vietnamese["X-Public-Cache"] == "hit" and vietnamese["Content-Language"] == "vi"
    client.get("/en/")
    english = client.get("/en/")
    assert english["X-Public-Cache"] == "hit" and english["Content-Language"] == "en"

    client.cookies[settings.SESSION_COOKIE_NAME] = "abc"
    assert not client.get(url).has_header("X-Public-Cache")
