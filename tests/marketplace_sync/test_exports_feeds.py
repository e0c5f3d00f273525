"""Export channels (Postmart, Voso) and the product feeds (Google Merchant Center, Meta).

Data is built through the platform's services. Services are called in English, so their
messages are checked as msgids; pages are checked in Vietnamese, the only language the portal
serves (it has no /en/ prefix), through the `vietnamese` fixture.
"""

import csv
import datetime
import io
import os
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import openpyxl
import polib
import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from catalog import services as catalog_services
from catalog.models import Offer, ProductImage
from cooperatives.models import AdministrativeUnit
from marketplace_sync import exports, feeds, payloads
from marketplace_sync.export_views import XLSX_CONTENT_TYPE
from marketplace_sync.models import Channel, Listing, MarketplaceAccount, Order, OrderLine
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.marketplace_sync.urls_exports")]

GOOGLE = "{http://base.google.com/ns/1.0}"


@pytest.fixture(autouse=True)
def _english_and_no_cached_feeds():
    cache.clear()  # the feeds are cached for a few minutes, and the cache outlives a test
    with translation.override("en"):
        yield
    cache.clear()


EXPORTS_PO = Path(os.environ.get("OCOP_EXPORTS_PO", "/work/tmp/po/exports.po"))


@pytest.fixture
def vietnamese(settings, tmp_path):
    """The Vietnamese users get. Until the translations of this feature (exports.po) are merged
    into locale/vi, they are compiled here and put in front of the project's catalogue."""
    if EXPORTS_PO.exists():
        folder = tmp_path / "locale" / "vi" / "LC_MESSAGES"
        folder.mkdir(parents=True)
        polib.pofile(str(EXPORTS_PO)).save_as_mofile(str(folder / "django.mo"))
        settings.LOCALE_PATHS = [tmp_path / "locale", *settings.LOCALE_PATHS]
    with translation.override("vi"):
        yield


# --- Building data -----------------------------------------------------------------------------


def _approve(product, officer):
    catalog_services.product_submit_for_review(product=product, user=officer)
    product.refresh_from_db()
    task_state = product.current_workflow_state.current_task_state.specific
    task_state.task.specific.on_action(task_state, officer, "approve")
    product.refresh_from_db()
    return product


def _product(cooperative, member, officer, name, *, price=150_000, stock=12, buffer=0, approve=True):
    product = factories.make_product(cooperative, member, name=name)
    catalog_services.offer_update(
        product=product,
        user=member,
        change=catalog_services.OfferChange(price_vnd=price, stock=stock, safety_buffer=buffer),
    )
    if approve:
        _approve(product, officer)
    product.refresh_from_db()
    return product


def _sku(product) -> str:
    return Offer.objects.get(product=product).sku


def _stock(product) -> int:
    return Offer.objects.get(product=product).stock


def _local(moment) -> datetime.datetime:
    return timezone.localtime(moment).replace(tzinfo=None)


def _channel(code="postmart") -> Channel:
    return Channel.objects.get(code=code)


def _workbook(cooperative, channel_code="postmart"):
    buffer = io.BytesIO()
    with translation.override("en"):  # a request before leaves its language active in the thread
        exports.build_upload_workbook(cooperative=cooperative, channel=_channel(channel_code), destination=buffer)
    return openpyxl.load_workbook(io.BytesIO(buffer.getvalue()), read_only=True)


def _sheet_rows(sheet) -> tuple[list, list[dict]]:
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    return header, [dict(zip(header, row, strict=True)) for row in rows[1:]]


@pytest.fixture
def commune():
    return AdministrativeUnit.objects.create(
        level=AdministrativeUnit.Level.COMMUNE, code="04672", name="Xã Văn Chấn", unit_type="Xã"
    )


@pytest.fixture
def shelf(coop_a, coop_b, member_a, member_b, officer, commune):
    """Cooperative A: two products ready to sell, three that are not; B: one ready product."""
    coop_a.commune = commune
    coop_a.address = "Thôn Khe Năm, xã Văn Chấn"
    coop_a.save()
    tea = _product(coop_a, member_a, officer, "Chè Shan tuyết Suối Giàng", price=150_000, stock=12, buffer=2)
    factories.add_valid_certificate(tea, stars=4, number="2585/QĐ-UBND")
    noodles = _product(coop_a, member_a, officer, "Miến đao Giới Phiên", price=85_000, stock=5)
    honey = _product(coop_a, member_a, officer, "Mật ong bạc hà", price=None, stock=7)
    rice = _product(coop_a, member_a, officer, "Gạo Séng Cù", price=60_000, stock=3, buffer=3)
    draft = _product(coop_a, member_a, officer, "Măng khô bản nháp", price=90_000, stock=4, approve=False)
    secret = _product(coop_b, member_b, officer, "Gạo nếp Tú Lệ BÍ MẬT", price=123_456, stock=9)
    return {"tea": tea, "noodles": noodles, "honey": honey, "rice": rice, "draft": draft, "secret": secret}


# --- The upload workbook ------------------------------------------------------------------------------


def test_the_workbook_has_one_row_per_ready_product_with_the_values_marketplaces_ask_for(coop_a, shelf, settings):
    workbook = _workbook(coop_a)

    assert workbook.sheetnames == ["Sản phẩm", "Chưa xuất"]
    header, rows = _sheet_rows(workbook["Sản phẩm"])
    assert header == [label for _key, label in exports.column_mapping("postmart")]
    assert header[:3] == ["Mã SKU", "Tên sản phẩm", "Nhóm sản phẩm OCOP"]
    by_sku = {row["Mã SKU"]: row for row in rows}
    assert set(by_sku) == {_sku(shelf["tea"]), _sku(shelf["noodles"])}

    tea = by_sku[_sku(shelf["tea"])]
    assert tea["Tên sản phẩm"] == "Chè Shan tuyết Suối Giàng"
    assert tea["Nhóm sản phẩm OCOP"] == "Thực phẩm › Chè › Chè tươi, chế biến"
    assert tea["Giá bán (VNĐ)"] == 150000 and isinstance(tea["Giá bán (VNĐ)"], int)
    assert tea["Số lượng tồn kho"] == 10  # 12 in stock, 2 held back
    assert tea["Khối lượng (g)"] == 250 and tea["Khối lượng (kg)"] == 0.25
    assert (tea["Chiều dài (cm)"], tea["Chiều rộng (cm)"], tea["Chiều cao (cm)"]) == (20, 10, 8)
    assert tea["Mô tả sản phẩm"] == factories.DESCRIPTION
    assert tea["Thương hiệu"] == tea["Nhà sản xuất"] == "HTX Chè Khe Năm"
    assert tea["Nơi sản xuất"] == "Xã Văn Chấn" and tea["Xuất xứ"] == "Việt Nam"
    assert tea["Hạng sao OCOP"] == 4 and tea["Số quyết định công nhận OCOP"] == "2585/QĐ-UBND"
    certificate = shelf["tea"].certificates.get()
    assert tea["Chứng nhận OCOP có hiệu lực đến"] == certificate.expires_on.strftime("%d/%m/%Y")
    # Photos: absolute addresses of the rendition every marketplace gets (payloads.product_images).
    assert tea["Ảnh bìa"].startswith(settings.WAGTAILADMIN_BASE_URL.rstrip("/") + "/")
    assert tea["Ảnh bìa"] == payloads.product_images(shelf["tea"])[0].url
    assert tea["Ảnh 2"] is None  # one photo only

    noodles = by_sku[_sku(shelf["noodles"])]
    assert noodles["Hạng sao OCOP"] is None and noodles["Giá bán (VNĐ)"] == 85000

    _header, skipped = _sheet_rows(workbook["Chưa xuất"])
    reasons = {row["Tên sản phẩm"]: row["Lý do"] for row in skipped}
    assert set(reasons) == {"Mật ong bạc hà", "Gạo Séng Cù", "Măng khô bản nháp"}
    assert reasons["Mật ong bạc hà"].startswith("No price")
    assert reasons["Gạo Séng Cù"].startswith("No stock to sell: stock 3, safety buffer 3")
    assert reasons["Măng khô bản nháp"].startswith("Not approved yet")
    # Downloading is not listing: nothing counts until the address is confirmed.
    assert Listing.objects.count() == 0


def test_a_custom_column_mapping_changes_the_headers_and_their_order(coop_a, shelf, settings):
    settings.EXPORT_COLUMN_MAPPINGS = {"postmart": {"name": "Product name", "sku": "SKU", "price_vnd": "Price"}}

    header, rows = _sheet_rows(_workbook(coop_a, "postmart")["Sản phẩm"])

    assert header == ["Product name", "SKU", "Price"]
    assert ["Chè Shan tuyết Suối Giàng", _sku(shelf["tea"]), 150000] in [list(row.values()) for row in rows]
    assert _sheet_rows(_workbook(coop_a, "voso")["Sản phẩm"])[0][0] == "Mã SKU"  # other channels keep theirs
    settings.EXPORT_COLUMN_MAPPINGS = {"postmart": {"sku": "SKU", "colour": "Màu"}}
    with pytest.raises(ImproperlyConfigured, match="colour"):
        exports.column_mapping("postmart")


def test_text_that_looks_like_a_formula_stays_text(coop_a, member_a, officer):
    product = factories.make_product(coop_a, member_a, name='=HYPERLINK("http://x")')
    catalog_services.offer_update(
        product=product, user=member_a, change=catalog_services.OfferChange(price_vnd=50_000, stock=3, safety_buffer=0)
    )
    _approve(product, officer)
    buffer = io.BytesIO()
    exports.build_upload_workbook(cooperative=coop_a, channel=_channel(), destination=buffer)
    workbook = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))  # not read-only: cell types are kept
    cell = workbook["Sản phẩm"]["B2"]
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"


def test_a_feed_channel_has_no_upload_workbook(coop_a):
    with pytest.raises(exports.ExportError):
        exports.build_upload_workbook(cooperative=coop_a, channel=_channel("google_merchant"), destination=io.BytesIO())


# --- "It is live at this address" ---------------------------------------------------------------------


def test_confirming_the_address_makes_the_listing_live_and_taking_it_down_withdraws_it(coop_a, shelf, member_a):
    account = exports.export_account(cooperative=coop_a, channel=_channel())
    assert account.status == MarketplaceAccount.Status.CONNECTED
    assert account.access_token == "" and account.refresh_token == ""

    listing = exports.listing_confirm_url(
        product=shelf["tea"], account=account, url=" https://postmart.vn/p/che-shan-tuyet-12345.html ", user=member_a
    )

    assert listing.reported_state == Listing.Reported.LIVE
    assert listing.desired_state == Listing.Desired.PUBLISHED
    assert listing.external_url == "https://postmart.vn/p/che-shan-tuyet-12345.html"
    assert listing.first_live_at is not None and listing.channel.code == "postmart"
    assert listing.synced_price_vnd == 150000
    first_live = listing.first_live_at
    again = exports.listing_confirm_url(
        product=shelf["tea"], account=account, url="https://www.postmart.vn/p/che-shan-tuyet-2.html", user=member_a
    )
    assert again.pk == listing.pk and again.first_live_at == first_live  # the first day stays
    assert exports.export_account(cooperative=coop_a, channel=_channel()).pk == account.pk

    taken_down = exports.listing_take_down(product=shelf["tea"], account=account, user=member_a)

    assert taken_down.reported_state == Listing.Reported.WITHDRAWN
    assert taken_down.desired_state == Listing.Desired.WITHDRAWN
    assert taken_down.first_live_at == first_live


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://shopee.vn/che-shan-tuyet-i.1.2", "is not on Postmart"),
        ("https://postmart.vn.example.com/p/1.html", "is not on Postmart"),
        ("https://notpostmart.vn/p/1.html", "is not on Postmart"),
        ("https://postmart.vn@example.com/p/1.html", "is not on Postmart"),
        ("https://voso.vn/san-pham/1", "is not on Postmart"),
        ("ftp://postmart.vn/p/1.html", "is not a web address"),
        ("postmart.vn/p/1.html", "is not a web address"),
        ("https://postmart.vn/", "home page"),
        ("", "Paste the address"),
    ],
)
def test_an_address_that_is_not_a_product_page_on_the_marketplace_is_refused(coop_a, shelf, url, expected):
    account = exports.export_account(cooperative=coop_a, channel=_channel())

    with pytest.raises(exports.ExportError) as refused:
        exports.listing_confirm_url(product=shelf["tea"], account=account, url=url)

    assert expected in refused.value.message
    assert not Listing.objects.exists()


def test_only_approved_products_of_the_accounts_cooperative_can_be_confirmed(coop_a, shelf):
    account = exports.export_account(cooperative=coop_a, channel=_channel())
    for product in (shelf["draft"], shelf["secret"]):
        with pytest.raises(exports.ExportError):
            exports.listing_confirm_url(product=product, account=account, url="https://postmart.vn/p/x-1.html")
    exports.listing_confirm_url(product=shelf["tea"], account=account, url="https://postmart.vn/p/x-1.html")
    with pytest.raises(exports.ExportError, match="already recorded for “Chè Shan tuyết Suối Giàng”"):
        exports.listing_confirm_url(product=shelf["noodles"], account=account, url="https://postmart.vn/p/x-1.html")
    assert Listing.objects.count() == 1
    # Recorded on the wrong product: taken down there, the address can go to the right one.
    exports.listing_take_down(product=shelf["tea"], account=account)
    exports.listing_confirm_url(product=shelf["noodles"], account=account, url="https://postmart.vn/p/x-1.html")
    assert Listing.objects.filter(reported_state=Listing.Reported.LIVE).get().product == shelf["noodles"]


def test_a_foreign_address_is_refused_with_a_vietnamese_explanation(coop_a, shelf, vietnamese):
    account = exports.export_account(cooperative=coop_a, channel=_channel())

    with pytest.raises(exports.ExportError) as refused:
        exports.listing_confirm_url(product=shelf["tea"], account=account, url="https://shopee.vn/che-i.1.2")

    assert "Địa chỉ này không thuộc Postmart" in refused.value.message
    assert "postmart.vn" in refused.value.message


def test_the_channel_page_records_and_removes_an_address(client, member_a, coop_a, shelf, vietnamese):
    client.force_login(member_a)
    page_url = reverse("portal:export_channel", kwargs={"cooperative_id": coop_a.pk, "channel_code": "postmart"})
    post_url = reverse(
        "portal:export_listing_url",
        kwargs={"cooperative_id": coop_a.pk, "channel_code": "postmart", "product_id": shelf["tea"].pk},
    )
    prefix = f"p{shelf['tea'].pk}-url"

    page = client.get(page_url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Chè Shan tuyết Suối Giàng" in body and "Tải bảng tính về" in body
    assert "Măng khô bản nháp" not in body  # drafts are counted, not listed
    assert "BÍ MẬT" not in body

    refused = client.post(post_url, {prefix: "https://shopee.vn/che-i.1.2"})
    assert refused.status_code == 400
    assert "Địa chỉ này không thuộc Postmart" in refused.content.decode()
    assert not Listing.objects.exists() and not MarketplaceAccount.objects.exists()

    saved = client.post(post_url, {prefix: "https://postmart.vn/p/che-shan-tuyet-12345.html"})
    assert saved.status_code == 302
    listing = Listing.objects.get(product=shelf["tea"])
    assert listing.reported_state == Listing.Reported.LIVE
    assert "Đang bán" in client.get(page_url).content.decode()

    removed = client.post(post_url, {prefix: "", "remove": "1"})
    assert removed.status_code == 302
    listing.refresh_from_db()
    assert listing.reported_state == Listing.Reported.WITHDRAWN


def test_the_list_of_spreadsheet_channels_shows_postmart_and_voso(client, member_a, coop_a):
    client.force_login(member_a)
    body = client.get(reverse("portal:export_channels", kwargs={"cooperative_id": coop_a.pk})).content.decode()
    assert "Postmart" in body and "Voso" in body and "Shopee" not in body


# --- The seller centre's order export ------------------------------------------------------------------


def _orders_csv(rows: list[list], *, delimiter=";") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(
        [
            "Mã đơn hàng",
            "Ngày đặt hàng",
            "Trạng thái",
            "Tên người nhận",
            "Số điện thoại",
            "Mã SKU",
            "Tên sản phẩm",
            "Số lượng",
            "Đơn giá",
            "Tổng tiền",
        ]
    )
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


@pytest.fixture
def good_export(shelf):
    tea, noodles = _sku(shelf["tea"]), _sku(shelf["noodles"])
    rows = [
        ["PM2605010001", "01/05/2026 08:15", "Chờ xác nhận", "Nguyễn Văn A", "0912345678", tea, "Chè", "2", "150.000"],
        ["PM2605010001", "01/05/2026 08:15", "Chờ xác nhận", "Nguyễn Văn A", "0912345678", noodles, "Miến", 1, 85000],
        ["PM2605020007", "02/05/2026 10:00", "Đã giao", "Trần Thị B", "0987654321", tea, "Chè", "1", "150000 ₫"],
    ]
    rows[0].append("385.000")
    rows[1].append("385.000")
    rows[2].append("150.000")
    return rows


def _windows_1258(text: str) -> bytes:
    """Text as Windows-1258 writes it: a precomposed base letter, then one combining tone mark."""
    encoded = b""
    for char in unicodedata.normalize("NFC", text):
        try:
            encoded += char.encode("cp1258")
        except UnicodeEncodeError:
            base, *marks = unicodedata.normalize("NFD", char)
            encoded += unicodedata.normalize("NFC", base + "".join(marks[:-1])).encode("cp1258")
            encoded += marks[-1].encode("cp1258")
    return encoded


def _import(cooperative, content: bytes, filename="don-hang.csv", channel="postmart"):
    with translation.override("en"):
        return exports.import_order_export(
            cooperative=cooperative, channel=_channel(channel), file=io.BytesIO(content), filename=filename
        )


def test_a_good_order_export_stores_orders_and_lowers_stock_once(coop_a, shelf, good_export):
    report = _import(coop_a, _orders_csv(good_export))

    assert report.saved and report.errors == []
    assert (report.orders, report.lines, report.new_orders) == (2, 3, 2)
    first = Order.objects.get(external_id="PM2605010001")
    assert first.channel.code == "postmart" and first.cooperative == coop_a
    assert first.status == Order.Status.PENDING and first.raw_status == "Chờ xác nhận"
    assert first.total_vnd == 385000
    assert _local(first.ordered_at) == datetime.datetime(2026, 5, 1, 8, 15)
    assert sorted(first.lines.values_list("sku", "quantity", "unit_price_vnd")) == sorted(
        [(_sku(shelf["tea"]), 2, 150000), (_sku(shelf["noodles"]), 1, 85000)]
    )
    assert Order.objects.get(external_id="PM2605020007").status == Order.Status.COMPLETED
    assert first.account.cooperative == coop_a and first.account.status == MarketplaceAccount.Status.CONNECTED
    assert _stock(shelf["tea"]) == 12 - 3 and _stock(shelf["noodles"]) == 5 - 1
    # No buyer data is kept: the name and phone number are nowhere in the order's rows.
    stored = str(list(Order.objects.values())) + str(list(OrderLine.objects.values()))
    assert "Nguyễn Văn A" not in stored and "0912345678" not in stored

    again = _import(coop_a, _orders_csv(good_export))

    assert again.saved and (again.new_orders, again.updated_orders, again.unchanged_orders) == (0, 0, 2)
    assert Order.objects.count() == 2 and OrderLine.objects.count() == 3
    assert _stock(shelf["tea"]) == 9 and _stock(shelf["noodles"]) == 4


def test_a_cancelled_order_in_a_later_export_puts_the_stock_back(coop_a, shelf, good_export):
    _import(coop_a, _orders_csv(good_export))
    later = [row[:] for row in good_export[:2]]
    for row in later:
        row[2] = "Đã hủy"

    report = _import(coop_a, _orders_csv(later), filename="don-hang-sau.csv")

    assert report.saved and report.updated_orders == 1
    assert Order.objects.get(external_id="PM2605010001").status == Order.Status.CANCELLED
    assert _stock(shelf["tea"]) == 12 - 1 and _stock(shelf["noodles"]) == 5
    _import(coop_a, _orders_csv(later), filename="don-hang-sau.csv")
    assert _stock(shelf["tea"]) == 11 and _stock(shelf["noodles"]) == 5


def test_an_older_export_uploaded_later_does_not_move_an_order_back(coop_a, shelf, good_export):
    delivered = [row[:] for row in good_export[:2]]
    for row in delivered:
        row[2] = "Đã giao"
    _import(coop_a, _orders_csv(delivered))

    report = _import(coop_a, _orders_csv(good_export[:2]))  # the same order, still "waiting" there

    assert report.saved and report.unchanged_orders == 1
    assert Order.objects.get(external_id="PM2605010001").status == Order.Status.COMPLETED


@pytest.mark.parametrize(
    ("column", "value", "header", "message"),
    [
        (5, "OTHER", "Mã SKU", "is not one of HTX Chè Khe Năm's products"),
        (7, "hai", "Số lượng", "is not a whole number"),
        (2, "Đang bay", "Trạng thái", "“Đang bay” is not one we know"),
        (8, "1,5", "Đơn giá", "is not an amount in whole đồng"),
        (1, "31/02/2026", "Ngày đặt hàng", "is not a date"),
    ],
)
def test_a_file_with_one_bad_row_saves_nothing_and_names_the_row_and_column(
    coop_a, shelf, good_export, column, value, header, message
):
    rows = [row[:] for row in good_export]
    rows[1][column] = _sku(shelf["secret"]) if value == "OTHER" else value  # file row 3
    before = (_stock(shelf["tea"]), _stock(shelf["noodles"]))

    report = _import(coop_a, _orders_csv(rows))

    assert not report.saved
    assert [(problem.row_number, problem.column_header) for problem in report.errors] == [(3, header)]
    assert message in report.errors[0].message
    assert not Order.objects.exists() and not MarketplaceAccount.objects.exists()
    assert (_stock(shelf["tea"]), _stock(shelf["noodles"])) == before


def test_an_xlsx_export_with_a_title_row_and_headers_written_differently_is_read(coop_a, shelf):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["DANH SÁCH ĐƠN HÀNG — Postmart"])
    sheet.append(["STT", "MÃ ĐƠN HÀNG", "trang thai don hang", "sku", "SỐ LƯỢNG", "Thành tiền", "Ngày đặt hàng"])
    sheet.append([1, 260501001, "ĐANG GIAO", _sku(shelf["tea"]), 3, 450000, datetime.datetime(2026, 5, 1, 9, 30)])
    buffer = io.BytesIO()
    workbook.save(buffer)

    report = _import(coop_a, buffer.getvalue(), filename="Don hang.xlsx")

    assert report.saved, report.errors
    order = Order.objects.get()
    assert order.external_id == "260501001" and order.status == Order.Status.SHIPPED
    assert order.lines.get().unit_price_vnd == 150000 and order.total_vnd == 450000
    assert _stock(shelf["tea"]) == 12 - 3


def test_a_file_without_the_required_columns_or_in_the_old_format_is_refused(coop_a, shelf):
    report = _import(coop_a, "Mã đơn hàng,Trạng thái,Mã SKU\nPM1,Đã giao,X\n".encode())
    assert not report.saved
    assert ("Số lượng", "The column 'Số lượng' is missing. Add it and upload the file again.") in [
        (problem.column_header, problem.message) for problem in report.errors
    ]
    old = _import(coop_a, b"\xd0\xcf\x11\xe0", filename="don-hang.xls")
    assert not old.saved and "old Excel format" in old.errors[0].message
    # Excel's "CSV (Comma delimited)" on Vietnamese Windows: code page 1258, not UTF-8.
    windows = _import(coop_a, _windows_1258("Mã đơn hàng;Trạng thái;Mã SKU;Số lượng;Đơn giá\nPM1;Đã giao;X;1;1\n"))
    assert not windows.saved and "not saved as UTF-8" in windows.errors[0].message
    assert not Order.objects.exists()


def test_uploading_orders_on_the_channel_page(client, member_a, coop_a, shelf, good_export, vietnamese):
    client.force_login(member_a)
    url = reverse("portal:export_orders_upload", kwargs={"cooperative_id": coop_a.pk, "channel_code": "voso"})
    bad = [row[:] for row in good_export]
    bad[2][7] = "0"

    refused = client.post(url, {"file": factories.SimpleUploadedFile("don.csv", _orders_csv(bad))})

    assert refused.status_code == 400
    assert "Dòng 4, cột “Số lượng”: Số lượng “0” không phải số nguyên từ 1 trở lên." in refused.content.decode()
    assert not Order.objects.exists()

    saved = client.post(url, {"file": factories.SimpleUploadedFile("don.csv", _orders_csv(good_export))})

    assert saved.status_code == 302
    assert Order.objects.filter(channel__code="voso", cooperative=coop_a).count() == 2
    page = client.get(saved["Location"]).content.decode()
    assert "PM2605010001" in page and "2 đơn mới, 0 đơn cập nhật, 0 đơn không đổi" in page


# --- Isolation ------------------------------------------------------------------------------------------


def test_a_member_gets_404_for_another_cooperatives_export_pages(client, member_a, coop_a, coop_b, shelf):
    client.force_login(member_a)
    b = {"cooperative_id": coop_b.pk, "channel_code": "postmart"}
    product_b = {"product_id": shelf["secret"].pk}
    for name, kwargs, method in (
        ("export_channels", {"cooperative_id": coop_b.pk}, client.get),
        ("export_channel", b, client.get),
        ("export_download", b, client.get),
        ("export_listing_url", {**b, **product_b}, client.post),
        ("export_listing_url", {**b, "cooperative_id": coop_a.pk, **product_b}, client.post),
        ("export_orders_upload", b, client.post),
    ):
        response = method(
            reverse(f"portal:{name}", kwargs=kwargs), {f"p{shelf['secret'].pk}-url": "https://postmart.vn/p/1"}
        )
        assert response.status_code == 404, name
        assert "BÍ MẬT" not in response.content.decode()
    assert not Listing.objects.exists()
    for code in ("shopee", "google_merchant", "khong-co"):
        url = reverse("portal:export_channel", kwargs={"cooperative_id": coop_a.pk, "channel_code": code})
        assert client.get(url).status_code == 404, code


def test_a_members_download_never_contains_another_cooperatives_products(client, member_a, coop_a, shelf):
    client.force_login(member_a)

    response = client.get(
        reverse("portal:export_download", kwargs={"cooperative_id": coop_a.pk, "channel_code": "voso"})
    )

    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_CONTENT_TYPE
    assert "attachment" in response["Content-Disposition"] and "voso" in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    cells = {str(value) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for value in row}
    assert "Chè Shan tuyết Suối Giàng" in cells
    assert not any("BÍ MẬT" in value or _sku(shelf["secret"]) in value for value in cells)


# --- Feeds ------------------------------------------------------------------------------------------------


def _google_items(client):
    response = client.get("/feeds/google-merchant.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert b'xmlns:g="http://base.google.com/ns/1.0"' in response.content
    root = ET.fromstring(response.content)
    assert root.tag == "rss" and root.get("version") == "2.0"
    return {item.findtext(f"{GOOGLE}id"): item for item in root.findall("channel/item")}


def test_the_google_feed_lists_approved_priced_products_with_valid_items(client, shelf, settings):
    items = _google_items(client)

    expected = {shelf[name] for name in ("tea", "noodles", "rice", "secret")}  # every cooperative's
    assert set(items) == {_sku(product) for product in expected}
    for sku, item in items.items():
        assert feeds.validate_google_item(item) == [], sku
    tea = items[_sku(shelf["tea"])]
    assert tea.findtext(f"{GOOGLE}title") == "Chè Shan tuyết Suối Giàng"
    assert tea.findtext(f"{GOOGLE}price") == "150000 VND"
    assert tea.findtext(f"{GOOGLE}availability") == "in_stock"
    assert tea.findtext(f"{GOOGLE}brand") == "HTX Chè Khe Năm"
    assert tea.findtext(f"{GOOGLE}condition") == "new"
    assert tea.findtext(f"{GOOGLE}identifier_exists") == "no"
    assert tea.findtext(f"{GOOGLE}product_type") == "Thực phẩm > Chè > Chè tươi, chế biến"
    base = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
    assert tea.findtext(f"{GOOGLE}link") == f"{base}/san-pham/{shelf['tea'].pk}/"
    assert tea.findtext(f"{GOOGLE}image_link") == payloads.product_images(shelf["tea"])[0].url
    assert "2585/QĐ-UBND" in tea.findtext(f"{GOOGLE}description")
    # Availability follows sellable stock: 3 in stock, 3 held back.
    assert items[_sku(shelf["rice"])].findtext(f"{GOOGLE}availability") == "out_of_stock"
    # The public page the feed links to exists.
    assert client.get(f"/san-pham/{shelf['tea'].pk}/").status_code == 200


def test_stock_changes_reach_the_feed_after_the_cache(client, shelf, member_a):
    assert _google_items(client)[_sku(shelf["noodles"])].findtext(f"{GOOGLE}availability") == "in_stock"
    catalog_services.offer_update(
        product=shelf["noodles"],
        user=member_a,
        change=catalog_services.OfferChange(price_vnd=85_000, stock=0, safety_buffer=0),
    )
    assert _google_items(client)[_sku(shelf["noodles"])].findtext(f"{GOOGLE}availability") == "in_stock"  # cached
    cache.clear()
    assert _google_items(client)[_sku(shelf["noodles"])].findtext(f"{GOOGLE}availability") == "out_of_stock"


def test_the_google_validator_finds_what_google_would_refuse():
    item = feeds.FeedItem(
        id="X" * 51,
        title="T" * 151,
        description="<b>bold</b>",
        link="/san-pham/1/",
        image_links=(),
        in_stock=True,
        price_vnd=0,
        brand="HTX",
        product_type="",
    )
    problems = " | ".join(feeds.validate_google_item(feeds.google_item_element(item)))
    for expected in ("id is 51 characters", "title is 151", "image_link is missing", "'/san-pham/1/' is not an",
                     "price '0 VND'", "markup"):  # fmt: skip
        assert expected in problems
    row = feeds.meta_row(item)
    row["availability"] = "in_stock"
    meta = " | ".join(feeds.validate_meta_row(row))
    assert "image_link is missing" in meta and "availability 'in_stock'" in meta and "price '0 VND'" in meta


def test_the_meta_catalog_lists_the_same_products_with_valid_rows(client, shelf):
    response = client.get("/feeds/meta-catalog.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert not response.content.startswith(b"\xef\xbb\xbf")
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8")))
    assert reader.fieldnames[:9] == list(feeds.META_REQUIRED)
    rows = {row["id"]: row for row in reader}
    assert set(rows) == {_sku(shelf[name]) for name in ("tea", "noodles", "rice", "secret")}
    for sku, row in rows.items():
        assert feeds.validate_meta_row(row) == [], sku
    assert rows[_sku(shelf["tea"])]["availability"] == "in stock"
    assert rows[_sku(shelf["rice"])]["availability"] == "out of stock"
    assert rows[_sku(shelf["tea"])]["price"] == "150000 VND"
    assert "Măng khô bản nháp" not in response.content.decode() and "Mật ong" not in response.content.decode()


def test_a_feed_whose_channel_is_switched_off_is_not_served(client):
    Channel.objects.filter(code="meta_catalog").update(is_active=False)
    assert client.get("/feeds/meta-catalog.csv").status_code == 404
    assert client.get("/feeds/google-merchant.xml").status_code == 200


def test_the_feed_costs_the_same_queries_for_few_and_many_products(
    client, coop_a, member_a, officer, django_assert_max_num_queries, django_assert_num_queries
):
    def warm_and_count():
        b"".join(feeds.google_merchant_feed())  # renditions are made on first use
        cache.clear()
        with CaptureQueriesContext(connection) as context:
            assert client.get("/feeds/google-merchant.xml").status_code == 200
        cache.clear()
        return len(context.captured_queries)

    for index in range(2):
        _product(coop_a, member_a, officer, f"Sản phẩm {index}")
    few = warm_and_count()
    for index in range(2, 10):
        product = _product(coop_a, member_a, officer, f"Sản phẩm {index}", stock=index % 3)
        factories.add_valid_certificate(product, number=f"{index}/QĐ-UBND")
        catalog_services.product_update_content(product=product, user=member_a, changes={"shelf_life_days": 30})
    b"".join(feeds.google_merchant_feed())
    with django_assert_max_num_queries(few):
        assert client.get("/feeds/google-merchant.xml").status_code == 200
    with django_assert_num_queries(0):  # cached
        assert client.get("/feeds/google-merchant.xml").status_code == 200


def test_the_feeds_leave_out_products_without_photos(client, coop_a, member_a, officer):
    product = _product(coop_a, member_a, officer, "Sản phẩm không ảnh")
    ProductImage.objects.filter(product=product).delete()  # e.g. imported and approved before photos were required

    assert _sku(product) not in _google_items(client)
    header, rows = _sheet_rows(_workbook(coop_a)["Chưa xuất"])
    assert rows[0]["Lý do"].startswith("No photo")


def test_a_photo_whose_file_is_gone_leaves_the_product_out_instead_of_failing(client, coop_a, member_a, officer):
    product = _product(coop_a, member_a, officer, "Sản phẩm mất ảnh")
    ok = _product(coop_a, member_a, officer, "Sản phẩm còn ảnh")
    ProductImage.objects.get(product=product).image.file.delete(save=False)  # lost from storage

    header, rows = _sheet_rows(_workbook(coop_a)["Sản phẩm"])
    _header, skipped = _sheet_rows(_workbook(coop_a)["Chưa xuất"])
    items = _google_items(client)

    assert [row["Mã SKU"] for row in rows] == [_sku(ok)]
    assert skipped[0]["Tên sản phẩm"] == "Sản phẩm mất ảnh" and skipped[0]["Lý do"].startswith("The photos cannot")
    assert set(items) == {_sku(ok)}


def test_the_channel_page_speaks_vietnamese(client, member_a, coop_a, shelf, vietnamese):
    client.force_login(member_a)
    url = reverse("portal:export_channel", kwargs={"cooperative_id": coop_a.pk, "channel_code": "voso"})

    body = client.get(url).content.decode()

    assert "Tải bảng tính (.xlsx)" in body and "Chưa ghi địa chỉ" in body and "Nhập đơn hàng" in body
    assert "2 sản phẩm sẵn sàng để bán." in body
