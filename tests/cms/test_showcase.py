"""The product list's filters, the cooperative's page, and what an expired certificate shows."""

import datetime

import pytest

from catalog.models import Offer, Product
from cms.models import ProductIndexPage
from cooperatives.units import load_administrative_units
from marketplace_sync.connectors.base import ListingStatus
from marketplace_sync.models import Listing
from tests import factories
from tests.marketplace_sync.conftest import approve, sellable_product
from tests.marketplace_sync.test_coverage import _merged_communes, report_listing, shop

pytestmark = pytest.mark.django_db


def listed_names(client, **params) -> list[str]:
    response = client.get(ProductIndexPage.objects.get().url, params)
    assert response.status_code == 200
    return sorted(product.name for product in response.context["products"])


@pytest.fixture
def catalogue(coop_a, member_a, coop_b, member_b, officer):
    load_administrative_units()
    old_first, old_second, new = _merged_communes()
    tea = approve(sellable_product(coop_a, member_a, name="Chè Shan tuyết", price=150_000), officer)
    honey = approve(sellable_product(coop_b, member_b, name="Mật ong bạc hà", price=320_000), officer)
    Product.objects.filter(pk=tea.pk).update(origin_commune=old_first)  # certified in a commune merged in 2025
    Product.objects.filter(pk=honey.pk).update(origin_commune=old_second)
    tea.certificates.update(stars=5)
    account = shop(coop_a)
    listing = Listing.objects.create(product=tea, account=account, channel=account.channel)
    report_listing(listing, ListingStatus.LIVE)
    Listing.objects.filter(pk=listing.pk).update(external_url="https://shopee.vn/product/9/9")
    return {"tea": tea, "honey": honey, "commune": new}


def test_filters_by_commune_star_channel_and_price(client, catalogue):
    assert listed_names(client) == ["Chè Shan tuyết", "Mật ong bạc hà"]
    assert listed_names(client, commune=catalogue["commune"].code) == ["Chè Shan tuyết", "Mật ong bạc hà"]
    assert listed_names(client, stars="5") == ["Chè Shan tuyết"]
    assert listed_names(client, channel="shopee") == ["Chè Shan tuyết"]
    assert listed_names(client, price_min="200000") == ["Mật ong bạc hà"]
    assert listed_names(client, price_max="200000", stars="4") == []


def test_a_bad_filter_value_is_ignored_not_an_error(client, catalogue):
    assert listed_names(client, price_min="rẻ", stars="9") == ["Chè Shan tuyết", "Mật ong bạc hà"]


def test_the_cooperative_page_shows_all_its_approved_products(client, catalogue, coop_a, member_a):
    factories.make_product(coop_a, member_a, name="Chè bản nháp")
    index = ProductIndexPage.objects.get()

    response = client.get(index.url + index.reverse_subpage("cooperative_detail", args=[coop_a.slug]).lstrip("/"))

    html = response.content.decode()
    assert response.status_code == 200 and coop_a.name in html
    assert "Chè Shan tuyết" in html and "Chè bản nháp" not in html and "Mật ong" not in html


def test_an_expired_certificate_shows_the_product_without_its_star_and_says_so(client, coop_a, member_a, officer):
    product = approve(sellable_product(coop_a, member_a, name="Miến đao"), officer)
    product.certificates.update(decision_date=datetime.date(2020, 1, 1), expires_on=datetime.date(2023, 1, 1))
    index = ProductIndexPage.objects.get()

    html = client.get(index.url + index.reverse_subpage("product_detail", args=[product.pk]).lstrip("/")).content
    text = html.decode()

    assert "★" not in text.split("<main>")[1].split("</h1>")[1][:400]
    assert "01/01/2023" in text


def test_the_product_list_costs_the_same_queries_with_more_products(
    client, catalogue, coop_a, member_a, officer, django_assert_max_num_queries
):
    url = ProductIndexPage.objects.get().url
    with django_assert_max_num_queries(100) as few:
        client.get(url, {"stars": "5"})
    for index in range(4):
        product = approve(sellable_product(coop_a, member_a, name=f"Chè số {index}"), officer)
        Offer.objects.filter(product=product).update(stock=5 + index)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url, {"stars": "5"})
