"""News: the list newest first and paginated, the latest three on the home page, in Vietnamese
and under /en/; editors add news and standard pages where the page types allow."""

import datetime
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from wagtail.images import get_image_model
from wagtail.test.utils.form_data import nested_form_data, rich_text

from cms.models import NEWS_PER_PAGE, HomePage, NewsIndexPage, NewsPage, StandardPage
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def news_index():
    return HomePage.objects.get().add_child(instance=NewsIndexPage(title="Tin tức", slug="tin-tuc"))


def add_news(index, title, date, *, live=True, **fields) -> NewsPage:
    slug = f"tin-{date:%Y%m%d}-{title.split()[-1].lower()}"
    page = index.add_child(
        instance=NewsPage(title=title, slug=slug, date=date, intro=f"Tóm tắt: {title}.", live=live, **fields)
    )
    if not live:
        page.save_revision()  # an editor's draft, never published
    return page


def titles(html: str) -> list[str]:
    return re.findall(r'<a href="[^"]*"><strong>(Tin [^<]*)</strong></a>', html)


def test_the_news_list_is_newest_first_and_paginated(client, news_index):
    first_day = datetime.date(2026, 1, 1)
    for number in range(NEWS_PER_PAGE + 2):
        add_news(news_index, f"Tin số {number}", first_day + datetime.timedelta(days=number))
    add_news(news_index, "Tin bản nháp", datetime.date(2026, 6, 1), live=False)

    first_page = client.get("/tin-tuc/").content.decode()
    second_page = client.get("/tin-tuc/", {"page": 2}).content.decode()

    newest = [f"Tin số {number}" for number in range(NEWS_PER_PAGE + 1, -1, -1)]
    assert titles(first_page) == newest[:NEWS_PER_PAGE]
    assert titles(second_page) == ["Tin số 1", "Tin số 0"]
    assert "Tin bản nháp" not in first_page + second_page
    assert "Trang 1/2" in first_page and 'href="?page=2"' in first_page


def test_the_home_page_shows_the_three_latest_news(client, news_index):
    for number, day in enumerate((3, 9, 5, 7)):
        add_news(news_index, f"Tin số {number}", datetime.date(2026, 3, day))
    add_news(news_index, "Tin bản nháp", datetime.date(2026, 3, 20), live=False)

    html = client.get("/").content.decode()

    assert titles(html) == ["Tin số 1", "Tin số 3", "Tin số 2"]  # 9, 7 and 5 March
    assert "Tin số 0" not in html and "Tin bản nháp" not in html
    assert 'href="/tin-tuc/"' in html


def test_a_news_page_shows_its_date_summary_body_and_image(client, news_index):
    image = get_image_model().objects.create(title="Hội chợ", file=factories.jpeg_upload("hoi-cho.jpg"))
    news = add_news(
        news_index,
        "Tin hội chợ",
        datetime.date(2023, 12, 28),
        body="<p>Nội dung chi tiết của tin.</p>",
        image=image,
    )

    response = client.get(news.url)

    html = response.content.decode()
    assert response.status_code == 200
    assert "28/12/2023" in html and "Tóm tắt: Tin hội chợ." in html and "Nội dung chi tiết của tin." in html
    assert "<picture>" in html and 'href="/tin-tuc/"' in html
    sitemap = client.get(reverse("sitemap")).content.decode()
    assert f"{news.url}</loc>" in sitemap and "/tin-tuc/</loc>" in sitemap


def test_news_are_served_in_english_under_en(client, news_index):
    address = add_news(news_index, "Tin số 1", datetime.date(2026, 3, 1)).url
    assert address == "/tin-tuc/tin-20260301-1/"

    index = client.get("/en/tin-tuc/")
    home = client.get("/en/")

    assert index.status_code == 200 and index.headers["Content-Language"] == "en"
    assert f'href="/en{address}"' in index.content.decode()
    assert f'href="/en{address}"' in home.content.decode() and ">News<" in home.content.decode()
    assert client.get(f"/en{address}").status_code == 200


def test_page_types_let_editors_add_news_and_standard_pages_where_they_belong():
    home_children = HomePage.allowed_subpage_models()
    assert NewsIndexPage in home_children and StandardPage in home_children
    assert NewsIndexPage.allowed_subpage_models() == [NewsPage]
    assert NewsPage.allowed_parent_page_models() == [NewsIndexPage]


def test_a_site_editor_adds_a_standard_page_under_the_home_page(client, site_editor):
    home = HomePage.objects.get()
    client.force_login(site_editor)

    response = client.post(
        reverse("wagtailadmin_pages:add", args=["cms", "standardpage", home.pk]),
        nested_form_data(
            {
                "title": "Giới thiệu",
                "slug": "gioi-thieu",
                "body": rich_text("<p>Trang giới thiệu chương trình OCOP của tỉnh.</p>"),
                "action-publish": "action-publish",
            }
        ),
    )

    assert response.status_code == 302
    client.logout()
    assert "Trang giới thiệu chương trình OCOP" in client.get("/gioi-thieu/").content.decode()
    english = client.get("/en/gioi-thieu/")
    assert english.status_code == 200 and english.headers["Content-Language"] == "en"


def test_load_demo_creates_the_news_once(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", verbosity=0)
    call_command("load_demo", verbosity=0)

    index = NewsIndexPage.objects.get()
    assert index.title == "Tin tức" and index.get_parent().specific_class is HomePage
    news = NewsPage.objects.child_of(index)
    assert news.count() == 2
    assert any("100% sản phẩm OCOP" in item.title for item in news)
