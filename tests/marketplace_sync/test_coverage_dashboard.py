"""The coverage dashboard in the admin: figures, drill-down, exports, permissions, query counts."""

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from catalog.models import Offer, Product
from cooperatives.models import AdministrativeUnit
from cooperatives.units import load_administrative_units
from marketplace_sync import coverage, facts
from marketplace_sync.connectors.base import ListingStatus
from marketplace_sync.models import Listing
from tests import factories

from .conftest import sellable_product
from .test_coverage import certified, report_listing, sell, shop

pytestmark = pytest.mark.django_db


def listed_long_ago(listing, days=100):
    """As if the listing had gone live `days` days ago."""
    from datetime import timedelta

    from django.utils import timezone

    Listing.objects.filter(pk=listing.pk).update(first_live_at=timezone.now() - timedelta(days=days))
    facts.product_facts_refresh([listing.product_id])


@pytest.fixture
def province(coop_a, coop_b, member_a, member_b):
    """Three certified products: one live on Shopee and sold, two not listed."""
    load_administrative_units()
    commune = AdministrativeUnit.objects.filter(level="commune", valid_to__isnull=True).order_by("code").first()
    tea = sellable_product(coop_a, member_a)
    Product.objects.filter(pk=tea.pk).update(origin_commune=commune)
    account = shop(coop_a)
    listing = Listing.objects.create(product=tea, account=account, channel=account.channel)
    report_listing(listing, ListingStatus.LIVE)
    sell(tea, account)
    certified(coop_b, member_b, "Mật ong bạc hà", origin_commune=commune)
    certified(coop_b, member_b, "Gạo nếp Tú Lệ")
    return tea


def test_the_officer_sees_the_headline_and_the_breakdown(client, officer, province):
    client.force_login(officer)

    response = client.get(reverse("coverage_dashboard"), {"by": "cooperative"})

    assert response.status_code == 200
    table = response.context["table"]
    assert (table.total.certified, table.total.listed, table.total.with_sales) == (3, 1, 1)
    html = response.content.decode()
    assert "33,3%" in html  # 1 of 3, written the Vietnamese way
    assert "HTX Chè Khe Năm" in html and "HTX Dịch vụ nông nghiệp Tú Lệ" in html
    assert "docs/coverage.md" in html  # the definitions are on the page


def test_every_figure_drills_down_to_its_products(client, officer, province, coop_b):
    client.force_login(officer)
    response = client.get(reverse("coverage_dashboard"), {"by": "cooperative"})
    row, links = next((row, links) for row, links in response.context["rows"] if row.key == str(coop_b.pk))

    behind = client.get(links["not_listed"])

    names = [product.name for product in behind.context["page"]]
    assert sorted(names) == ["Gạo nếp Tú Lệ", "Mật ong bạc hà"]
    assert row.certified - row.listed == len(names)


def test_the_exports_hold_the_numbers_on_the_screen(client, officer, province):
    client.force_login(officer)
    screen = client.get(reverse("coverage_dashboard"), {"by": "stars"}).context["table"]

    xlsx = client.get(reverse("coverage_dashboard"), {"by": "stars", "format": "xlsx"})
    csv = client.get(reverse("coverage_dashboard"), {"by": "stars", "format": "csv"})

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    total = [cell.value for cell in sheet[sheet.max_row]]
    assert total[2:4] == [screen.total.certified, screen.total.listed]
    assert "attachment" in csv["Content-Disposition"]
    text = csv.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Mã,Số sao")  # Vietnamese headers
    assert "0987" not in text and "@" not in text  # no phone numbers, no e-mail: no buyer data


def test_a_cooperative_member_cannot_open_the_dashboard(client, member_a, province):
    client.force_login(member_a)
    response = client.get(reverse("coverage_dashboard"))
    assert response.status_code in (302, 403)


def test_the_admin_home_shows_the_headline(client, officer, province):
    client.force_login(officer)
    response = client.get(reverse("wagtailadmin_home"))
    assert "33,3%" in response.content.decode()


def test_a_date_in_the_future_is_refused_with_a_message(client, officer, province):
    client.force_login(officer)
    response = client.get(reverse("coverage_dashboard"), {"as_of": "2099-01-01"})
    assert response.status_code == 200
    assert "chưa đến" in response.content.decode()


def test_the_dashboard_and_the_drill_down_run_a_constant_number_of_queries(
    client, officer, province, coop_a, member_a, django_assert_max_num_queries
):
    client.force_login(officer)
    url = reverse("coverage_dashboard")
    with django_assert_max_num_queries(200) as small:
        client.get(url, {"by": "commune"})
    with django_assert_max_num_queries(200) as small_drill:
        client.get(reverse("coverage_products"), {"measure": "certified"})
    units = list(AdministrativeUnit.objects.filter(level="commune").order_by("pk")[:15])
    account = shop(factories.make_cooperative("HTX Thêm"), "lazada")
    for index, unit in enumerate(units):
        product = certified(coop_a, member_a, f"Sản phẩm {index}", origin_commune=unit, stars=3 + index % 3)
        listing = Listing.objects.create(product=product, account=account, channel=account.channel)
        if index % 2:
            report_listing(listing, ListingStatus.LIVE)

    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(url, {"by": "commune"})
    with django_assert_max_num_queries(len(small_drill.captured_queries)):
        client.get(reverse("coverage_products"), {"measure": "certified"})


# --- Worklists --------------------------------------------------------------------------------------------------


def _worklist(client, name, **params):
    response = client.get(reverse("coverage_worklist", args=[name]), params)
    assert response.status_code == 200
    return {row[0]: row for row, _link in response.context["rows"]}


def test_the_not_listed_worklist_says_what_blocks_each_product_and_who_must_act(
    client, officer, coop_a, member_a, coop_b, member_b
):
    from .conftest import approve

    certified(coop_b, member_b, "Gạo nếp Tú Lệ")  # a draft: the cooperative has work to do
    ready = approve(sellable_product(coop_a, member_a, name="Chè búp"), officer)  # approved, no shop
    rejected = approve(sellable_product(coop_a, member_a, name="Chè xanh"), officer)
    sold_out = approve(sellable_product(coop_a, member_a, name="Chè hết hàng"), officer)
    Offer.objects.filter(product=sold_out).update(stock=0, price_vnd=None)  # approved, then not ready
    account = shop(coop_a)
    listing = Listing.objects.create(product=rejected, account=account, channel=account.channel)
    report_listing(listing, ListingStatus.REJECTED, raw="Hình ảnh không rõ")
    client.force_login(officer)

    rows = _worklist(client, "not_listed")

    assert set(rows) == {"Gạo nếp Tú Lệ", "Chè búp", "Chè xanh", "Chè hết hàng"}
    assert rows["Chè hết hàng"][2].startswith("Chưa đủ điều kiện") and rows["Chè hết hàng"][3] == "Hợp tác xã"
    assert rows["Gạo nếp Tú Lệ"][3] == "Hợp tác xã"
    assert "Shopee" in rows["Chè xanh"][2] and rows["Chè xanh"][3] == "Hợp tác xã"
    assert ready.live and rows["Chè búp"][3]


def test_the_certificate_worklist_lists_what_expires_soon_and_what_expired(client, officer, coop_a, member_a):
    from dateutil.relativedelta import relativedelta
    from django.utils import timezone

    today = timezone.localdate()
    certified(coop_a, member_a, "Sắp hết hạn", decision_date=today - relativedelta(months=36) + relativedelta(days=30))
    certified(coop_a, member_a, "Đã hết hạn", decision_date=today - relativedelta(months=40))
    certified(coop_a, member_a, "Còn lâu")
    client.force_login(officer)

    rows = _worklist(client, "certificates")

    assert set(rows) == {"Sắp hết hạn", "Đã hết hạn"}
    assert "đã hết hiệu lực" in rows["Đã hết hạn"][2].lower()


def test_the_no_sale_connection_and_failing_worklists(client, officer, province, coop_a, member_a):
    from datetime import timedelta

    from django.utils import timezone

    quiet = sellable_product(coop_a, member_a, name="Chè ế")
    account = shop(coop_a, "lazada")
    account.authorization_expires_at = timezone.now() + timedelta(days=10)
    account.save()
    listing = Listing.objects.create(product=quiet, account=account, channel=account.channel)
    report_listing(listing, ListingStatus.LIVE)
    recent = Listing.objects.create(
        product=certified(coop_a, member_a, "Chè mới lên sàn"), account=account, channel=account.channel
    )
    report_listing(recent, ListingStatus.LIVE)  # listed today: not yet "no sale lately"
    listed_long_ago(listing)
    broken = Listing.objects.create(
        product=certified(coop_a, member_a, "Măng khô"),
        account=account,
        channel=account.channel,
        reported_state=Listing.Reported.FAILED,
        who_must_act="operator",
        explanation="Lazada không phản hồi.",
    )
    client.force_login(officer)

    assert set(_worklist(client, "no_sale")) == {"Chè ế"}  # the tea sold today; this one never
    assert list(_worklist(client, "connections")) == ["HTX Chè Khe Năm"]
    failing = _worklist(client, "failing")
    assert failing["Măng khô"][3] == "Lazada không phản hồi." and broken.pk


@pytest.mark.parametrize("name", ["not_listed", "no_sale", "certificates", "connections", "failing", "quality"])
def test_worklists_export_and_keep_a_constant_number_of_queries(
    client, officer, province, coop_a, member_a, django_assert_max_num_queries, name
):
    from datetime import timedelta

    from dateutil.relativedelta import relativedelta
    from django.utils import timezone

    client.force_login(officer)
    url = reverse("coverage_worklist", args=[name])
    expiring_soon = timezone.localdate() - relativedelta(months=35)

    def add_rows(first: int, count: int) -> None:
        """Rows for every worklist: a shop whose connection ends soon, listings failing, queued
        and live without a sale, certificates ending soon."""
        account = shop(factories.make_cooperative(f"HTX Thêm {first}"), "tiki")
        account.authorization_expires_at = timezone.now() + timedelta(days=5)
        account.save()
        for index in range(first, first + count):
            product = certified(coop_a, member_a, f"Sản phẩm {index}", decision_date=expiring_soon)
            state = (Listing.Reported.FAILED, Listing.Reported.QUEUED, Listing.Reported.IN_REVIEW)[index % 3]
            listing = Listing.objects.create(
                product=product, account=account, channel=account.channel, reported_state=state
            )
            if state == Listing.Reported.IN_REVIEW:
                report_listing(listing, ListingStatus.LIVE)
                listed_long_ago(listing)

    add_rows(0, 3)
    with django_assert_max_num_queries(200) as small:
        assert client.get(url).context["rows"]
    add_rows(2, 8)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(url)

    xlsx = client.get(url, {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row >= 1 and sheet.cell(1, 1).value


def test_a_member_sees_only_their_cooperative_s_figures_in_the_portal(client, member_a, province, coop_a):
    client.force_login(member_a)

    response = client.get(reverse("portal:coverage", kwargs={"cooperative_id": coop_a.pk}))

    assert response.status_code == 200
    assert response.context["table"].total.certified == 1  # the tea; the other two are coop B's
    html = response.content.decode()
    assert "Mật ong bạc hà" not in html and "Gạo nếp Tú Lệ" not in html


def test_a_member_cannot_open_another_cooperative_s_progress(client, member_a, province, coop_b):
    client.force_login(member_a)
    response = client.get(reverse("portal:coverage", kwargs={"cooperative_id": coop_b.pk}))
    assert response.status_code == 404


def test_a_helper_sees_the_cooperatives_they_assist_and_no_other(client, helper, province, coop_a, coop_c, member_a):
    certified(coop_c, member_a, "Miến đao")
    client.force_login(helper)

    response = client.get(reverse("portal:coverage", kwargs={"cooperative_id": coop_a.pk}))

    labels = [row.label for row in response.context["assisted"].rows]
    assert sorted(labels) == sorted([coop_a.name, coop_c.name])  # not coop B


# --- Public: the API and the progress page -----------------------------------------------------------------------


def test_the_api_serves_the_same_figures_as_json_and_csv_without_signing_in(client, province):
    response = client.get(reverse("api_coverage_v1"), {"by": "channel"})

    assert response.status_code == 200
    data = response.json()
    assert data["version"] == "1"
    assert data["total"] == coverage.coverage_table(by="channel").total.as_dict()
    assert {row["key"] for row in data["rows"]} >= {"shopee", "lazada", "postmart"}
    csv = client.get(reverse("api_coverage_v1"), {"format": "csv", "lang": "en"}).content.decode("utf-8-sig")
    assert csv.splitlines()[0].startswith("Code,") and csv.splitlines()[-1].startswith("total,")


def test_the_api_says_clearly_what_is_wrong_with_a_request(client, province):
    for params in ({"as_of": "27/11/2026"}, {"by": "buyer"}, {"as_of": "2099-01-01"}, {"format": "xml"}):
        response = client.get(reverse("api_coverage_v1"), params)
        assert response.status_code == 400 and response.json()["error"]


def test_the_public_progress_page_shows_the_province_figures_and_definitions(client, province):
    from cms.models import HomePage, ProgressPage

    home = HomePage.objects.get()
    page = home.add_child(instance=ProgressPage(title="Tiến độ OCOP lên sàn", slug="tien-do"))

    response = client.get(page.url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "33,3%" in html and "Shopee" in html and "Cách tính" in html
    assert "HTX" not in html  # aggregate figures only, no cooperative or buyer rows
    assert "1 trên 3" in client.get(home.url).content.decode()
