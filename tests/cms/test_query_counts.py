"""Every public page costs the same number of database queries with 20 products as with 2,000.

The first 20 products are made the way the platform makes them: a member fills them in, adds
photos, a price and a certificate, an officer approves them; one cooperative's are live on
Shopee. The other 1,980 are written in bulk (the service path would take minutes) with what an
approved product has: the live row (the approved version, the only thing public pages read), a
verified certificate in force, a price, a photo, the live Shopee listing for that cooperative's
products and their coverage facts. The test checks they are public by the catalog's own public
selector, so every page and every filter has as much to show as with real products. The news
grow too, past one page of the news list.

Pagination costs nothing extra: the paginator counts the rows whether there is one page or 84.
Each page is requested once before it is counted: the first view of a photo makes its
renditions (image files and their rows), once in the site's life, not once per visitor.
"""

import datetime
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from wagtail.images import get_image_model

from catalog.models import Certificate, Offer, Product, ProductImage
from catalog.search import search_fields_for
from catalog.selectors import public_product_list
from cms.models import (
    NEWS_PER_PAGE,
    HomeFeaturedProduct,
    HomePage,
    NewsIndexPage,
    NewsPage,
    ProductIndexPage,
    ProgressPage,
    StandardPage,
)
from cooperatives.models import AdministrativeUnit
from cooperatives.units import load_administrative_units
from marketplace_sync import facts
from marketplace_sync.connectors.base import ListingStatus
from marketplace_sync.models import Listing, MarketplaceAccount
from tests import factories
from tests.marketplace_sync.conftest import approve, sellable_product
from tests.marketplace_sync.test_coverage import _merged_communes, report_listing, shop

pytestmark = pytest.mark.django_db

FEW = 20
MANY = 2_000
STARS_CYCLE = (3, 4, 5)


@dataclass
class Catalogue:
    shopee: MarketplaceAccount
    commune: AdministrativeUnit  # coop A's 2025 commune
    products: list[Product] = field(default_factory=list)
    draft: Product | None = None

    @property
    def editors_choice(self) -> list[Product]:
        return [self.products[3], self.draft, self.products[0], self.products[1]]


def add_news(count: int) -> None:
    """News items after those there are, one day apart; every other one with a photo."""
    index = NewsIndexPage.objects.get()
    photo = get_image_model().objects.get(title="Hội chợ OCOP")
    start = NewsPage.objects.count() + 1
    for number in range(start, start + count):
        index.add_child(
            instance=NewsPage(
                title=f"Tin số {number}",
                slug=f"tin-{number}",
                date=datetime.date(2026, 1, 1) + datetime.timedelta(days=number),
                intro="Tóm tắt.",
                image=photo if number % 2 else None,
            )
        )


@pytest.fixture
def site_pages():
    """The pages editors add under the home page: progress, news, a standard page."""
    home = HomePage.objects.get()
    home.add_child(instance=ProgressPage(title="Tiến độ đưa sản phẩm OCOP lên sàn", slug="tien-do"))
    home.add_child(instance=NewsIndexPage(title="Tin tức", slug="tin-tuc"))
    get_image_model().objects.create(title="Hội chợ OCOP", file=factories.jpeg_upload("hoi-cho.jpg"))
    add_news(4)
    home.add_child(instance=StandardPage(title="Giới thiệu", slug="gioi-thieu", body="<p>Chương trình OCOP.</p>"))


@pytest.fixture
def catalogue(coop_a, member_a, coop_b, member_b, officer) -> Catalogue:
    """FEW products through the platform: coop A's honey (sold on Shopee) and coop B's tea."""
    load_administrative_units()
    _old_first, _old_second, commune = _merged_communes()
    other_commune = (
        AdministrativeUnit.objects.filter(level=AdministrativeUnit.Level.COMMUNE, valid_to=None)
        .exclude(pk=commune.pk)
        .order_by("code")
        .first()
    )
    coop_a.commune, coop_b.commune = commune, other_commune
    coop_a.save()
    coop_b.save()
    result = Catalogue(shopee=shop(coop_a), commune=commune)
    for number in range(FEW):
        cooperative, member, name = (
            (coop_a, member_a, "Mật ong bạc hà") if number % 2 == 0 else (coop_b, member_b, "Chè Shan tuyết")
        )
        product = sellable_product(cooperative, member, name=f"{name} số {number}", price=100_000 + 10_000 * number)
        product.certificates.update(stars=STARS_CYCLE[number % 3])
        product = approve(product, officer)
        if cooperative == coop_a:
            # (approval may already have queued the listing on the cooperative's connected shop)
            listing, _created = Listing.objects.get_or_create(
                product=product, account=result.shopee, defaults={"channel": result.shopee.channel}
            )
            report_listing(listing, ListingStatus.LIVE)
            Listing.objects.filter(pk=listing.pk).update(external_url=f"https://shopee.vn/product/1/{product.pk}")
        result.products.append(product)
    result.draft = factories.make_product(coop_a, member_a, name="Mật ong bản nháp")
    return result


def grow_in_bulk(catalogue: Catalogue, total: int) -> None:
    """Bring the public catalogue to `total` products, each as complete as the first ones."""
    template = catalogue.products[0]
    photo = template.images.first().image
    shopee_cooperative = catalogue.shopee.cooperative
    other_cooperative = catalogue.products[1].cooperative
    now = timezone.now()
    decided = timezone.localdate() - datetime.timedelta(days=100)
    products = []
    for number in range(len(catalogue.products), total):
        honey = number % 2 == 0
        product = Product(
            cooperative=shopee_cooperative if honey else other_cooperative,
            name=f"{'Mật ong bạc hà' if honey else 'Chè Shan tuyết'} số {number}",
            category=template.category,
            description=template.description,
            weight_grams=template.weight_grams,
            package_length_cm=template.package_length_cm,
            package_width_cm=template.package_width_cm,
            package_height_cm=template.package_height_cm,
            live=True,
            has_unpublished_changes=False,
            first_published_at=now,
            last_published_at=now,
        )
        for column, value in search_fields_for(product, category=template.category).items():
            setattr(product, column, value)
        products.append(product)
    Product.objects.bulk_create(products, batch_size=500)
    Offer.objects.bulk_create(
        [
            Offer(product=p, sku=Offer.sku_for(p.pk), price_vnd=100_000 + 1_000 * (i % 300), stock=30, safety_buffer=2)
            for i, p in enumerate(products)
        ],
        batch_size=500,
    )
    Certificate.objects.bulk_create(
        [
            Certificate(
                product=p,
                stars=STARS_CYCLE[i % 3],
                decision_number="2585/QĐ-UBND",
                issuing_body="UBND tỉnh Yên Bái",
                decision_date=decided,
                decision_year=decided.year,
                expires_on=Certificate.default_expiry(decided),
                source=Certificate.Source.REGISTER,
                verified_at=now,
            )
            for i, p in enumerate(products)
        ],
        batch_size=500,
    )
    ProductImage.objects.bulk_create(
        [ProductImage(product=p, image=photo, sort_order=0) for p in products], batch_size=500
    )
    Listing.objects.bulk_create(
        [
            Listing(
                product=p,
                account=catalogue.shopee,
                channel=catalogue.shopee.channel,
                reported_state=Listing.Reported.LIVE,
                first_live_at=now,
                external_id=f"item-bulk-{p.pk}",
                external_url=f"https://shopee.vn/product/1/{p.pk}",
            )
            for p in products
            if p.cooperative_id == shopee_cooperative.pk
        ],
        batch_size=500,
    )
    facts.product_facts_refresh([p.pk for p in products])  # what the services do when a listing goes live


def publish_featured(products) -> None:
    home = HomePage.objects.get()
    home.featured_products = [HomeFeaturedProduct(product=product) for product in products]
    home.save_revision().publish()


def public_urls(catalogue: Catalogue) -> dict[str, str]:
    index = ProductIndexPage.objects.get()
    product = catalogue.products[0]
    product_url = index.url + index.reverse_subpage("product_detail", args=[product.pk]).lstrip("/")
    cooperative_url = index.url + index.reverse_subpage("cooperative_detail", args=[product.cooperative.slug]).lstrip(
        "/"
    )
    group = product.category.group_code
    return {
        "product list": index.url,
        "product list, commune": f"{index.url}?commune={catalogue.commune.code}",
        "product list, group": f"{index.url}?group={group}",
        "product list, stars": f"{index.url}?stars=4",
        "product list, channel": f"{index.url}?channel=shopee",
        "product list, price": f"{index.url}?price_min=120000&price_max=250000",
        "product list, all filters": (
            f"{index.url}?commune={catalogue.commune.code}&group={group}&stars=4&channel=shopee"
            "&price_min=100000&price_max=400000"
        ),
        "product page": product_url,
        "product page in English": f"/en{product_url}",
        "cooperative page": cooperative_url,
        "search": reverse("search") + "?q=mat+ong",
        "progress page": "/tien-do/",
        "news list": "/tin-tuc/",
        "news page": "/tin-tuc/tin-1/",  # with a photo
        "standard page": "/gioi-thieu/",
        "sitemap.xml": reverse("sitemap"),
    }


def count_queries(client, urls: dict[str, str]) -> dict[str, int]:
    counts = {}
    for name, url in urls.items():
        assert client.get(url).status_code == 200, name  # renditions are made on the first view
        with CaptureQueriesContext(connection) as context:
            response = client.get(url)
        assert response.status_code == 200, name
        counts[name] = len(context.captured_queries)
    return counts


def count_every_public_page(client, catalogue: Catalogue) -> dict[str, int]:
    publish_featured(catalogue.editors_choice)
    counts = count_queries(client, {"home, editors' choice": "/", "home in English": "/en/"})
    publish_featured([])
    counts |= count_queries(client, {"home, newest products": "/"})
    publish_featured(catalogue.editors_choice)
    return counts | count_queries(client, public_urls(catalogue))


def products_shown(client, url: str) -> int:
    response = client.get(url)
    form = response.context["form"]
    assert form.is_valid() and any(form.cleaned_data.values()), (url, form.errors)
    return response.context["page_obj"].paginator.count


def test_every_public_page_costs_the_same_queries_with_20_and_2000_products(client, site_pages, catalogue):
    few = count_every_public_page(client, catalogue)

    grow_in_bulk(catalogue, MANY)
    add_news(NEWS_PER_PAGE + 5)  # and more news than a page of the list holds
    assert public_product_list().count() == MANY  # genuinely public, by the catalog's own rule
    many = count_every_public_page(client, catalogue)

    print("\nqueries per page (20 → 2,000 products):")
    for name in few:
        print(f"  {name:28} {few[name]:3} → {many[name]}")
    assert many == few
    # Three of the editors' products cost what eight newest do: no query per card.
    assert few["home, editors' choice"] == few["home, newest products"]
    # The filters did filter (a bad value is ignored, which would count the plain list twice).
    urls = public_urls(catalogue)
    shown = {name: products_shown(client, url) for name, url in urls.items() if name.startswith("product list, ")}
    assert all(0 < count < MANY for name, count in shown.items() if name != "product list, group"), shown
    assert shown["product list, commune"] == shown["product list, channel"] == MANY // 2  # coop A's
