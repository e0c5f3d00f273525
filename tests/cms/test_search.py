"""Public search in Vietnamese: with or without diacritics, any case, NFC or NFD, best match first.

Runs on SQLite locally and on PostgreSQL in CI (.ci/run): the same results on both."""

import unicodedata

import pytest
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import Product
from catalog.search import search_products
from tests import factories
from tests.marketplace_sync.conftest import approve, sellable_product

pytestmark = pytest.mark.django_db

HONEY = ["Mật ong hoa tự nhiên Mù Cang Chải", "Mật ong Minh Quán", "Mật ong đa hoa tự nhiên"]  # from data/


@pytest.fixture
def shelf(coop_a, member_a, officer):
    products = {name: approve(sellable_product(coop_a, member_a, name=name), officer) for name in HONEY}
    cinnamon_tea = sellable_product(coop_a, member_a, name="Trà quế (Sơn Hà)")
    catalog_services.product_update_content(
        product=cinnamon_tea, user=member_a, changes={"description": "Trà quế thơm, pha cùng mật ong rừng."}
    )
    products["Trà quế (Sơn Hà)"] = approve(cinnamon_tea, officer)
    products["An đường cao"] = approve(sellable_product(coop_a, member_a, name="An đường cao"), officer)
    factories.make_product(coop_a, member_a, name="Mật ong bản nháp chưa duyệt")  # a draft: never shown
    return products


def names(query: str) -> list[str]:
    return [product.name for product in search_products(Product.objects.filter(live=True), query)]


@pytest.mark.parametrize(
    "query",
    [
        "mat ong",
        "mật ong",
        "MẬT ONG",
        unicodedata.normalize("NFD", "mật ong"),  # typed on a phone that sends combining marks
        "Mật " + unicodedata.normalize("NFD", "ong"),
        "  mat   ONG ",
    ],
)
def test_honey_is_found_however_it_is_typed_names_first(shelf, query):
    found = names(query)
    assert sorted(found[:3]) == sorted(HONEY)  # name matches first…
    assert found[3:] == ["Trà quế (Sơn Hà)"]  # …then the product that only mentions honey


def test_the_closest_name_comes_first(shelf):
    assert names("mat ong minh")[0] == "Mật ong Minh Quán"
    assert names("MẬT ONG HOA")[:2] == ["Mật ong hoa tự nhiên Mù Cang Chải", "Mật ong đa hoa tự nhiên"]


def test_d_with_stroke_folds_and_a_word_must_start_with_the_term(shelf):
    assert names("duong") == ["An đường cao"]
    assert names("ĐƯỜNG") == ["An đường cao"]
    assert "An đường cao" not in names("uong")  # not the middle of a word


def test_nothing_for_an_empty_or_punctuation_query(shelf):
    assert names("") == [] and names(" -- !! ") == []


def test_the_search_page_lists_approved_products_only_with_a_constant_number_of_queries(
    client, shelf, django_assert_max_num_queries
):
    with django_assert_max_num_queries(30) as first:
        response = client.get(reverse("search"), {"q": "mat ong"})
    html = response.content.decode()
    assert response.status_code == 200
    assert all(name in html for name in HONEY) and "bản nháp" not in html
    assert html.index("Mật ong") < html.index("Trà quế")

    response = client.get(reverse("search"), {"q": "khong co san pham nao"})
    assert "Không có sản phẩm" in response.content.decode() or "No approved product" in response.content.decode()
    assert len(first.captured_queries) <= 30
