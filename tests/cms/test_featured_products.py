"""Featured products on the home page: chosen by the site's editors in the page editor, shown
in their order, approved products only, with the newest approved products when none is chosen."""

import datetime
import re

import pytest
from django.urls import reverse
from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text

from catalog import services as catalog_services
from cms import selectors
from cms.models import HomeFeaturedProduct, HomePage
from tests import factories
from tests.marketplace_sync.conftest import approve, sellable_product

pytestmark = pytest.mark.django_db


def publish_featured(products, *, publish=True):
    """What an editor does in the page editor: choose products, then publish (or only save)."""
    home = HomePage.objects.get()
    home.featured_products = [HomeFeaturedProduct(product=product) for product in products]
    revision = home.save_revision()
    if publish:
        revision.publish()


def featured_cards(client, url="/") -> list[tuple[str, str]]:
    """(name, star badge) of each card in the home page's featured section, in page order."""
    html = client.get(url).content.decode()
    section = re.search(r'<section class="featured".*?</section>', html, re.S)
    if section is None:
        return []
    cards = re.findall(r"<strong>(.*?)</strong></a>.*?<span class=\"stars\">(.*?)</span>", section.group(0), re.S)
    return [(name, badge.strip()) for name, badge in cards]


def names(cards) -> list[str]:
    return [name for name, _badge in cards]


@pytest.fixture
def shelf(coop_a, member_a, officer):
    """Three approved products, approved in this order, and one draft."""
    products = {
        name: approve(sellable_product(coop_a, member_a, name=name), officer)
        for name in ("Chè Shan tuyết", "Mật ong bạc hà", "Miến đao")
    }
    products["draft"] = factories.make_product(coop_a, member_a, name="Gạo nếp bản nháp")
    return products


def test_the_home_page_shows_the_editors_choice_in_their_order(client, shelf):
    publish_featured([shelf["Miến đao"], shelf["Chè Shan tuyết"], shelf["Mật ong bạc hà"]])

    assert names(featured_cards(client)) == ["Miến đao", "Chè Shan tuyết", "Mật ong bạc hà"]
    html = client.get("/").content.decode()
    assert f'href="/san-pham/{shelf["Miến đao"].pk}/"' in html and '<img alt="Miến đao"' in html  # link and photo
    assert names(featured_cards(client, "/en/")) == ["Miến đao", "Chè Shan tuyết", "Mật ong bạc hà"]
    assert f'href="/en/san-pham/{shelf["Miến đao"].pk}/"' in client.get("/en/").content.decode()

    publish_featured([shelf["Mật ong bạc hà"], shelf["Miến đao"]])  # reordered and one removed
    assert names(featured_cards(client)) == ["Mật ong bạc hà", "Miến đao"]


def test_a_featured_product_that_is_not_approved_is_never_shown(client, shelf, coop_a, member_a):
    waiting = sellable_product(coop_a, member_a, name="Măng tre chờ duyệt")
    catalog_services.product_submit_for_review(product=waiting, user=member_a)

    publish_featured([shelf["draft"], waiting, shelf["Miến đao"]])

    html = client.get("/").content.decode()
    assert names(featured_cards(client)) == ["Miến đao"]
    assert "Gạo nếp bản nháp" not in html and "Măng tre chờ duyệt" not in html


def test_a_star_only_with_a_valid_certificate(client, shelf):
    expired = shelf["Mật ong bạc hà"]
    expired.certificates.update(decision_date=datetime.date(2020, 1, 1), expires_on=datetime.date(2023, 1, 1))
    publish_featured([shelf["Chè Shan tuyết"], expired])

    cards = dict(featured_cards(client))

    assert cards["Chè Shan tuyết"] == "4 ★ OCOP"
    assert "★" not in cards["Mật ong bạc hà"]


def test_without_a_choice_the_newest_approved_products_are_shown(client, shelf):
    assert names(featured_cards(client)) == ["Miến đao", "Mật ong bạc hà", "Chè Shan tuyết"]
    assert [p.name for p in selectors.featured_products([], limit=2)] == ["Miến đao", "Mật ong bạc hà"]


def test_when_no_chosen_product_is_public_the_newest_are_shown(client, shelf):
    publish_featured([shelf["draft"]])

    assert names(featured_cards(client)) == ["Miến đao", "Mật ong bạc hà", "Chè Shan tuyết"]


def test_a_choice_saved_but_not_published_does_not_reach_visitors(client, shelf):
    publish_featured([shelf["Chè Shan tuyết"]])
    publish_featured([shelf["Miến đao"]], publish=False)

    assert names(featured_cards(client)) == ["Chè Shan tuyết"]


def test_a_site_editor_chooses_featured_products_with_the_product_chooser(client, site_editor, shelf):
    home = HomePage.objects.get()
    client.force_login(site_editor)
    edit_url = reverse("wagtailadmin_pages:edit", args=[home.pk])
    chooser_url = reverse("approved_product_chooser:choose")

    editor = client.get(edit_url)
    chooser = client.get(chooser_url)

    assert editor.status_code == 200 and chooser_url in editor.content.decode()
    assert chooser.status_code == 200 and "Miến đao" in chooser.json()["html"]
    assert shelf["draft"].name not in chooser.json()["html"]  # only approved products to choose from

    response = client.post(
        edit_url,
        nested_form_data(
            {
                "title": home.title,
                "slug": home.slug,
                "intro": rich_text(home.intro),
                "featured_products": inline_formset(
                    [{"product": shelf["Mật ong bạc hà"].pk}, {"product": shelf["Chè Shan tuyết"].pk}]
                ),
                "action-publish": "action-publish",
            }
        ),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    client.logout()
    assert names(featured_cards(client)) == ["Mật ong bạc hà", "Chè Shan tuyết"]
