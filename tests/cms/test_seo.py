"""What a product page tells search engines, chat apps and buyers: JSON-LD, sitemap, buy buttons."""

import json
import re

import pytest
from django.urls import reverse

from catalog.models import Offer
from cms.models import ProductIndexPage
from marketplace_sync.connectors.base import ListingStatus
from marketplace_sync.models import Listing
from tests import factories
from tests.marketplace_sync.conftest import approve, sellable_product
from tests.marketplace_sync.test_coverage import report_listing, shop

pytestmark = pytest.mark.django_db


def product_url(product) -> str:
    index = ProductIndexPage.objects.get()
    return index.url + index.reverse_subpage("product_detail", args=[product.pk]).lstrip("/")


def json_ld(html: str) -> dict:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def test_the_product_page_carries_schema_org_product_and_offer(client, coop_a, member_a, officer):
    product = approve(sellable_product(coop_a, member_a, price=185_000, stock=30), officer)

    html = client.get(product_url(product)).content.decode()

    data = json_ld(html)
    assert data["@type"] == "Product" and data["name"] == product.name
    assert data["sku"] == product.offer.sku and data["brand"]["name"] == coop_a.name
    assert data["offers"] == {
        "@type": "Offer",
        "price": "185000",
        "priceCurrency": "VND",
        "availability": "https://schema.org/InStock",
        "url": data["url"],
    }
    assert data["image"] and data["image"][0].startswith("http")
    assert f'<link rel="canonical" href="{data["url"]}">' in html
    assert 'hreflang="en"' in html and "/en/" in html and 'property="og:title"' in html


def test_a_sold_out_product_is_out_of_stock_in_json_ld(client, coop_a, member_a, officer):
    product = approve(sellable_product(coop_a, member_a), officer)
    Offer.objects.filter(product=product).update(stock=2, safety_buffer=2)  # nothing left to sell
    data = json_ld(client.get(product_url(product)).content.decode())
    assert data["offers"]["availability"] == "https://schema.org/OutOfStock"


def test_buy_buttons_are_shown_for_live_listings_only(client, coop_a, member_a, officer):
    product = approve(sellable_product(coop_a, member_a), officer)
    shopee_account, lazada_account = shop(coop_a), shop(coop_a, "lazada")
    shopee = Listing.objects.create(product=product, account=shopee_account, channel=shopee_account.channel)
    Listing.objects.create(
        product=product, account=lazada_account, channel=lazada_account.channel, reported_state="rejected"
    )
    report_listing(shopee, ListingStatus.LIVE)
    Listing.objects.filter(pk=shopee.pk).update(external_url="https://shopee.vn/product/1/2")

    html = client.get(product_url(product)).content.decode()

    assert "Mua trên Shopee" in html and "https://shopee.vn/product/1/2" in html
    assert "Mua trên Lazada" not in html


def test_the_sitemap_lists_every_public_product_and_no_draft(client, coop_a, member_a, officer):
    public = [approve(sellable_product(coop_a, member_a, name=f"Chè {n}"), officer) for n in range(3)]
    draft = factories.make_product(coop_a, member_a, name="Bản nháp")

    xml = client.get(reverse("sitemap")).content.decode()

    assert "<urlset" in xml
    for product in public:
        assert product_url(product) in xml
    assert product_url(draft) not in xml
    index = ProductIndexPage.objects.get()
    assert index.reverse_subpage("cooperative_detail", args=[coop_a.slug]) in xml


def test_the_product_page_has_a_qr_code_of_its_own_address(client, coop_a, member_a, officer):
    import segno

    product = approve(sellable_product(coop_a, member_a), officer)
    html = client.get(product_url(product)).content.decode()

    canonical = re.search(r'<link rel="canonical" href="([^"]+)">', html).group(1)
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert svg == segno.make(canonical, error="m").svg_inline(scale=4, dark="#1d1d1b", title=canonical)


def test_photos_are_served_as_webp_with_a_jpeg_fallback_and_their_size(client, coop_a, member_a, officer):
    product = approve(sellable_product(coop_a, member_a), officer)
    html = client.get(product_url(product)).content.decode()

    picture = re.search(r"<picture>.*?</picture>", html, re.S).group(0)
    assert 'type="image/webp"' in picture and ".jpg" in picture.split("<img")[1]
    img = re.search(r"<img[^>]*>", picture).group(0)
    assert 'width="480"' in img and 'height="480"' in img
    pictures = re.findall(r"<picture>.*?</picture>", html, re.S)
    assert 'loading="lazy"' not in pictures[0] and all('loading="lazy"' in p for p in pictures[1:])
    assert "//fonts.googleapis" not in html and "cdn" not in html.lower()  # everything served by the site
