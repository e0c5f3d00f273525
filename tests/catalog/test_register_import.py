"""The OCOP register import: check everything first, save all or nothing, re-import safely.

Files are built the way officers make them (CSV from Excel, with commas or semicolons; XLSX
with real date cells) on top of the real administrative units and OCOP classification.
Messages are checked in English, the msgids: the Vietnamese catalogue is merged separately.
"""

import csv
import datetime
import io
import unicodedata
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation
from hypothesis import given
from hypothesis import strategies as st
from wagtail.models import Revision

from catalog.models import Certificate, Offer, Product, RegisterEntry, RegisterImport
from catalog.register import (
    COLUMNS,
    _parse_date,
    _read_stars,
    check_register,
    import_register,
    run_register_import,
    template_headers,
)
from catalog.taxonomy import load_ocop_taxonomy
from cooperatives.models import Cooperative
from cooperatives.units import load_administrative_units

HEADER = {column.key: column.header for column in COLUMNS}
REAL_REGISTER = Path(settings.OCOP_DATA_DIR) / "yenbai_ocop_products.csv"
STATIC = Path(settings.BASE_DIR) / "catalog" / "static" / "catalog"

TAX_A = "5200123456"  # valid check digits (cooperatives.validators)
TAX_B = "5200987657"
TAX_BAD = "5200123457"
SUOI_GIANG = "04657"  # Xã Suối Giàng (Văn Chấn) until 30/6/2025 …
VAN_CHAN_2025 = "04672"  # … now part of Xã Văn Chấn, which kept the code of thị trấn Sơn Thịnh
TEA = "Chè tươi, chế biến"
BAD_STARS = "Stars '%s' are not valid: only 3, 4 or 5 (leave the cell empty when unknown)."


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def reference(db):
    load_administrative_units()
    load_ocop_taxonomy()


@pytest.fixture
def officer(db):
    return get_user_model().objects.create_user("can-bo-so-cong-thuong", password="x")


def good_row(number: int = 1, **values) -> dict:
    row = {
        "register_code": f"TEST-{number:03d}",
        "product_name": f"Chè Shan tuyết Suối Giàng số {number}",
        "producer_name": "HTX Chè Suối Giàng",
        "producer_kind": "HTX",
        "tax_code": TAX_A,
        "producer_address": "Thôn Giàng A, xã Suối Giàng",
        "district_name": "Huyện Văn Chấn",
        "commune_name": "Suối Giàng",
        "commune_code": SUOI_GIANG,
        "commune_code_2025": VAN_CHAN_2025,
        "stars": "4",
        "product_group": "Thực phẩm",
        "subgroup": TEA,
        "decision_number": "2585/QĐ-UBND",
        "issuing_body": "UBND tỉnh Yên Bái",
        "decision_date": "28/12/2023",
        "certified_year": "2023",
        "expires_on": "",
        "certificate_kind": "Đánh giá lần đầu",
        "source_url": "https://yenbai.gov.vn/",
        "evidence": "QĐ 2585/QĐ-UBND",
        "notes": "",
    }
    row.update(values)
    return row


def write_csv(path: Path, rows: list[dict], *, delimiter=",", headers: dict | None = None, encoding="utf-8-sig"):
    headers = headers or HEADER
    keys = list(headers)
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow([headers[key] for key in keys])
        for row in rows:
            writer.writerow([row.get(key, "") for key in keys])
    return path


def write_xlsx(path: Path, rows: list[dict], *, headers: dict | None = None):
    headers = headers or HEADER
    keys = list(headers)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([headers[key] for key in keys])
    for row in rows:
        sheet.append([row.get(key) if row.get(key) != "" else None for key in keys])
    workbook.save(path)
    return path


def counts():
    return {
        model.__name__: model.objects.count() for model in (Product, Cooperative, Certificate, Offer, RegisterEntry)
    }


def product_snapshot():
    """Everything an import writes, without primary keys, to compare two imports."""
    return sorted(
        (
            entry.register_code,
            entry.product.name,
            entry.product.live,
            entry.product.cooperative.name if entry.product.cooperative else None,
            entry.product.category_id,
            entry.product.origin_commune_id,
            tuple(
                (c.stars, c.decision_number, c.decision_date, c.decision_year, c.expires_on, c.kind)
                for c in entry.product.certificates.order_by("pk")
            ),
        )
        for entry in RegisterEntry.objects.select_related("product__cooperative")
    )


def messages(report):
    return [(problem.row_number, problem.column_header, problem.message) for problem in report.errors]


# --- The real register ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_real_register_passes_as_is_and_imports_88_draft_products(reference):
    report = check_register(REAL_REGISTER, filename=REAL_REGISTER.name)
    assert messages(report) == []
    # Its two extra columns are reported once each, not per row.
    assert [(w.row_number, w.column_header) for w in report.warnings] == [
        (1, "commune_2025"),
        (1, "classification_basis"),
    ]
    assert report.total_rows == 88 and report.new_products == 88

    result = import_register(REAL_REGISTER, filename=REAL_REGISTER.name)
    assert result.saved
    assert Product.objects.count() == 88
    assert not Product.objects.filter(live=True).exists()
    assert Offer.objects.count() == 88
    # A blank subject stays blank: no invented producer.
    with open(REAL_REGISTER, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    without_subject = {row["id"] for row in rows if not row["subject_name"].strip()}
    assert set(
        RegisterEntry.objects.filter(product__cooperative__isnull=True).values_list("register_code", flat=True)
    ) == (without_subject)
    assert Cooperative.objects.count() == len({row["subject_name"] for row in rows if row["subject_name"]})
    # Stars left blank stay unknown.
    blank_stars = {row["id"] for row in rows if not row["stars"]}
    stars_of = dict(Certificate.objects.values_list("product__register_entry__register_code", "stars").order_by("pk"))
    assert all(stars_of.get(code) is None for code in blank_stars)
    assert {stars_of[row["id"]] for row in rows if row["stars"]} <= {3, 4}
    first = RegisterEntry.objects.get(register_code="YB-OCOP-001").product
    assert first.origin_commune.code == SUOI_GIANG and first.origin_commune.valid_to is not None
    assert first.category.name == TEA
    certificate = first.certificates.get()
    assert (certificate.decision_year, certificate.decision_date, certificate.stars) == (2023, None, 4)


# --- All or nothing --------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_bad_row_among_good_ones_saves_nothing(reference, tmp_path):
    rows = [good_row(1), good_row(2, stars="6"), good_row(3, producer_name="HTX Mới", tax_code=TAX_B)]
    before = counts()
    result = import_register(write_csv(tmp_path / "so.csv", rows), filename="so.csv")
    assert not result.saved
    assert counts() == before
    assert messages(result.report) == [
        (3, "Số sao", "Stars '6' are not valid: only 3, 4 or 5 (leave the cell empty when unknown).")
    ]
    assert result.report.invalid_rows == 1


@pytest.mark.django_db
def test_every_problem_of_every_row_is_reported(reference, tmp_path):
    future = (timezone.localdate() + datetime.timedelta(days=3)).strftime("%d/%m/%Y")
    rows = [
        good_row(1, stars="6"),
        good_row(2, tax_code=TAX_BAD),
        good_row(3, commune_code="04999", commune_code_2025=""),
        good_row(4, subgroup="Bánh kẹo vũ trụ"),
        good_row(5, decision_date=future, certified_year=""),
        good_row(6, register_code="TEST-001", decision_number="99/QĐ-UBND"),
        good_row(7, register_code="", decision_number=""),
        good_row(8, certified_year="2022"),
        good_row(9, expires_on="01/01/2023"),
        good_row(10, decision_date="2023-02-30"),
        good_row(11, producer_kind="Tập đoàn"),
        good_row(12, certificate_kind="Đánh giá bất kỳ"),
        good_row(13, commune_code_2025="04744"),
    ]
    report = check_register(write_csv(tmp_path / "so.csv", rows), filename="so.csv")
    problems = {row: (column, message) for row, column, message in messages(report)}
    assert problems[2] == ("Số sao", BAD_STARS % 6)
    assert problems[3][0] == "Mã số thuế" and problems[3][1].startswith(
        f"Tax code '{TAX_BAD}': This tax code is not valid"
    )
    assert problems[3][1].endswith("its last digit does not match. Please check it against the registration.")
    assert problems[4] == (
        "Mã xã",
        "The commune code '04999' is not in the list of administrative units. "
        "Check it against the statistics office's code list.",
    )
    assert problems[5][0] == "Bộ sản phẩm" and "'Bánh kẹo vũ trụ' is not in the OCOP classification" in problems[5][1]
    assert problems[6] == (
        "Ngày quyết định",
        f"The decision date {future} is in the future. Check the day, month and year.",
    )
    assert problems[7] == (
        "Mã sổ đăng ký",
        "The register code 'TEST-001' is used twice, in rows 2 and 7. Each product has its own code.",
    )
    assert problems[8][0] == "Mã sổ đăng ký" and "neither a register code nor a decision number" in problems[8][1]
    assert problems[9] == (
        "Năm công nhận",
        "The year 2022 does not match the decision date 28/12/2023. Correct one of them, or leave the year empty.",
    )
    assert problems[10] == ("Ngày hết hạn", "The expiry date 01/01/2023 must be after the decision date 28/12/2023.")
    assert problems[11][0] == "Ngày quyết định" and "'2023-02-30' is not a date" in problems[11][1]
    assert problems[12][0] == "Loại hình chủ thể" and "'Tập đoàn' is not known" in problems[12][1]
    assert problems[13][0] == "Loại đánh giá" and "'Đánh giá bất kỳ' is not known" in problems[13][1]
    assert problems[14][0] == "Mã xã 2025" and "The commune codes do not agree" in problems[14][1]
    assert report.invalid_rows == 13 and not report.is_valid


@pytest.mark.django_db
def test_duplicate_decision_and_name_names_both_rows(reference, tmp_path):
    rows = [good_row(1), good_row(2, register_code="", product_name=good_row(1)["product_name"].upper())]
    report = check_register(write_csv(tmp_path / "so.csv", rows), filename="so.csv")
    [(row, column, message)] = messages(report)
    assert (row, column) == (3, "Tên sản phẩm")
    assert message.startswith("Rows 2 and 3 are the same product: same decision number '2585/QĐ-UBND'")


@pytest.mark.django_db
def test_missing_required_column_is_a_file_error_and_unknown_columns_are_warnings(reference, tmp_path):
    headers = {key: header for key, header in HEADER.items() if key != "product_name"}
    headers["extra"] = "Số điện thoại"
    path = write_csv(tmp_path / "so.csv", [good_row(1, extra="0912")], headers=headers)
    report = check_register(path, filename="so.csv")
    assert report.file_error
    assert messages(report) == [
        (
            1,
            "Tên sản phẩm",
            "The required column 'Tên sản phẩm' is missing. Add it (see the template) and upload again.",
        )
    ]
    assert [(w.row_number, w.column_header) for w in report.warnings] == [(1, "Số điện thoại")]


@pytest.mark.django_db
def test_headers_match_without_case_accents_or_punctuation(reference, tmp_path):
    headers = {key: header.upper() for key, header in HEADER.items()}
    headers["product_name"] = "  ten san pham: "
    headers["tax_code"] = "MST"
    report = check_register(write_csv(tmp_path / "so.csv", [good_row(1)], headers=headers), filename="so.csv")
    assert messages(report) == [] and report.warnings == []
    assert report.new_products == 1


@pytest.mark.django_db
def test_a_csv_not_saved_as_utf8_is_refused_with_the_way_to_fix_it(reference, tmp_path):
    path = tmp_path / "so.csv"
    # Windows' Vietnamese code page, as Excel writes "CSV (Comma delimited)": row 3 has "Chè".
    path.write_bytes("Tên sản phẩm,Mã sổ đăng ký\nBanh,A1\n".encode() + "Chè,A2\n".encode("cp1258"))
    report = check_register(path, filename="so.csv")
    assert report.file_error
    [problem] = report.errors
    assert problem.row_number == 3
    assert "not saved as UTF-8" in problem.message and "CSV UTF-8" in problem.message


@pytest.mark.django_db
def test_old_excel_format_is_refused(reference, tmp_path):
    report = check_register(io.BytesIO(b"\xd0\xcf\x11\xe0"), filename="so.xls")
    assert report.file_error and ".xls" in report.errors[0].message


@pytest.mark.django_db
def test_title_rows_above_the_header_and_blank_rows_keep_excel_row_numbers(reference, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["DANH SÁCH SẢN PHẨM OCOP TỈNH YÊN BÁI"])
    sheet.append(list(HEADER.values()))
    sheet.append([good_row(1).get(key) for key in HEADER])
    sheet.append([])
    sheet.append([])
    sheet.append([good_row(2, stars="2").get(key) for key in HEADER])
    workbook.save(tmp_path / "so.xlsx")
    report = check_register(tmp_path / "so.xlsx", filename="so.xlsx")
    assert messages(report) == [(6, "Số sao", BAD_STARS % 2)]
    assert report.total_rows == 2


@pytest.mark.django_db
def test_an_uploaded_file_is_read_like_a_path(reference):
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = io.StringIO()
    writer = csv.writer(content, delimiter=";")
    writer.writerow(HEADER.values())
    writer.writerow(good_row(1).values())
    upload = SimpleUploadedFile("so.csv", content.getvalue().encode("utf-8-sig"))
    result = import_register(upload, filename=upload.name)
    assert result.saved and Product.objects.count() == 1
    assert not upload.closed  # the caller's file is left open


@pytest.mark.django_db
def test_a_personal_id_number_is_a_tax_code_only_for_a_household_business(reference, tmp_path):
    rows = [
        good_row(1, tax_code="001085012345", producer_kind="HTX"),
        good_row(2, tax_code="001085012345", producer_kind="Hộ kinh doanh", producer_name="Hộ bà Đinh Thị Đương"),
    ]
    report = check_register(write_csv(tmp_path / "so.csv", rows), filename="so.csv")
    [(row, column, message)] = messages(report)
    assert (row, column) == (2, "Mã số thuế") and "personal identification number" in message


# --- Re-import ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reimporting_the_same_file_changes_nothing(reference, tmp_path, officer):
    rows = [good_row(n) for n in range(1, 6)] + [good_row(6, producer_name="", tax_code="")]
    path = write_xlsx(tmp_path / "so.xlsx", rows)
    assert import_register(path, filename="so.xlsx", user=officer).saved
    before = counts()
    stamps = sorted(Product.objects.values_list("pk", "updated_at"))
    coop_stamps = sorted(Cooperative.objects.values_list("pk", "updated_at"))
    entry_stamps = sorted(RegisterEntry.objects.values_list("pk", "imported_at"))
    certificate_stamps = sorted(Certificate.objects.values_list("pk", "verified_at"))
    revisions = Revision.objects.count()

    again = import_register(path, filename="so.xlsx", user=officer)
    assert again.saved
    assert counts() == before
    assert sorted(Product.objects.values_list("pk", "updated_at")) == stamps
    assert sorted(Cooperative.objects.values_list("pk", "updated_at")) == coop_stamps
    assert sorted(RegisterEntry.objects.values_list("pk", "imported_at")) == entry_stamps
    assert sorted(Certificate.objects.values_list("pk", "verified_at")) == certificate_stamps
    assert Revision.objects.count() == revisions
    summary = again.report.summary()
    assert (summary["unchanged_products"], summary["new_products"], summary["updated_products"]) == (6, 0, 0)
    assert (summary["new_cooperatives"], summary["new_certificates"], summary["updated_certificates"]) == (0, 0, 0)


@pytest.mark.django_db
def test_reimport_updates_register_facts_and_a_draft_nobody_touched(reference, tmp_path):
    path = write_csv(tmp_path / "so.csv", [good_row(1, stars="", tax_code="", producer_kind="")])
    assert import_register(path, filename="so.csv").saved
    product = RegisterEntry.objects.get(register_code="TEST-001").product
    coop = product.cooperative
    assert (coop.tax_code, coop.kind) == ("", "")

    changed = good_row(1, stars="5", product_name="Chè Shan tuyết cổ thụ Suối Giàng", notes="Đã kiểm tra")
    result = import_register(write_csv(tmp_path / "so2.csv", [changed]), filename="so2.csv")
    assert result.saved and result.report.updated_products == 1
    product.refresh_from_db()
    coop.refresh_from_db()
    assert product.name == "Chè Shan tuyết cổ thụ Suối Giàng"
    assert product.certificates.get().stars == 5
    assert product.register_entry.notes == "Đã kiểm tra"
    # The cooperative's blank fields are completed; it is the same cooperative.
    assert (coop.tax_code, coop.kind) == (TAX_A, Cooperative.Kind.COOPERATIVE)
    assert Cooperative.objects.count() == 1


@pytest.mark.django_db
def test_an_approved_product_keeps_its_live_name_and_the_officer_is_told(reference, tmp_path):
    path = write_csv(tmp_path / "so.csv", [good_row(1)])
    assert import_register(path, filename="so.csv").saved
    product = RegisterEntry.objects.get(register_code="TEST-001").product
    product.save_revision().publish(skip_permission_checks=True)
    product.refresh_from_db()
    assert product.live
    approved_name, revisions = product.name, Revision.objects.count()

    renamed = good_row(1, product_name="Tên mới do Sở sửa")
    result = import_register(write_csv(tmp_path / "so2.csv", [renamed]), filename="so2.csv")
    assert result.saved
    product.refresh_from_db()
    assert product.name == approved_name
    assert Revision.objects.count() == revisions
    [warning] = result.report.warnings
    assert (warning.row_number, warning.column_header) == (2, "Tên sản phẩm")
    assert warning.message.startswith("The product has been approved: the change of name must be made by an officer")
    # The register's own record follows the register.
    assert product.register_entry.match_key.endswith("ten moi do so sua")


@pytest.mark.django_db
def test_a_draft_the_cooperative_has_edited_is_not_overwritten(reference, tmp_path):
    assert import_register(write_csv(tmp_path / "so.csv", [good_row(1)]), filename="so.csv").saved
    product = RegisterEntry.objects.get(register_code="TEST-001").product
    product.name = "Tên do hợp tác xã sửa"
    product.save_revision()  # what the member portal does (catalog.services): a draft revision
    renamed = good_row(1, product_name="Tên mới trong sổ")
    result = import_register(write_csv(tmp_path / "so2.csv", [renamed]), filename="so2.csv")
    assert result.saved
    assert product.get_latest_revision_as_object().name == "Tên do hợp tác xã sửa"
    [warning] = result.report.warnings
    assert warning.message.startswith("The product's draft is being edited or reviewed")


# --- Text, formats, dates ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_vietnamese_typed_as_nfd_is_stored_as_nfc(reference, tmp_path):
    name, producer = "Mật ong bạc hà Đồng Văn", "Hợp tác xã Ong mật Yên Bình"
    nfd = good_row(
        1,
        product_name=unicodedata.normalize("NFD", name),
        producer_name=unicodedata.normalize("NFD", producer),
        tax_code="",
    )
    assert nfd["product_name"] != name
    assert import_register(write_csv(tmp_path / "so.csv", [nfd]), filename="so.csv").saved
    product = Product.objects.get()
    assert product.name == name and unicodedata.is_normalized("NFC", product.name)
    assert product.cooperative.name == producer
    assert product.register_entry.producer_name == producer


@pytest.mark.django_db
def test_the_same_register_as_xlsx_csv_and_semicolon_csv_gives_the_same_products(reference, tmp_path):
    rows = [
        good_row(1),
        good_row(2, stars="3", decision_date="", certified_year="2020"),
        good_row(3, producer_name="", tax_code=""),
    ]
    snapshots = []
    for name, writer in (
        ("so.xlsx", write_xlsx),
        ("so.csv", write_csv),
        ("so-chấm-phẩy.csv", lambda path, rows: write_csv(path, rows, delimiter=";")),
        ("so-tab.tsv", lambda path, rows: write_csv(path, rows, delimiter="\t")),
    ):
        with transaction_rolled_back():
            result = import_register(writer(tmp_path / name, rows), filename=name)
            assert result.saved, messages(result.report)
            snapshots.append(product_snapshot())
    assert snapshots[0] and all(snapshot == snapshots[0] for snapshot in snapshots)


class transaction_rolled_back:
    """Run a block in a transaction that is rolled back, to import several files from scratch."""

    class _Rollback(Exception):
        pass

    def __enter__(self):
        from django.db import transaction

        self._atomic = transaction.atomic()
        self._atomic.__enter__()

    def __exit__(self, exc_type, exc, tb):
        from django.db import transaction

        transaction.set_rollback(True)
        self._atomic.__exit__(exc_type, exc, tb)
        return False


@pytest.mark.django_db
def test_excel_date_cells_and_day_month_year_text_are_both_dates(reference, tmp_path):
    rows = [
        good_row(1, decision_date=datetime.datetime(2023, 12, 28), certified_year=2023, stars=4),
        good_row(2, decision_date="28/12/2023", decision_number="2586/QĐ-UBND"),
        good_row(3, decision_date="2023-12-28", decision_number="2587/QĐ-UBND", commune_code=4657),
    ]
    result = import_register(write_xlsx(tmp_path / "so.xlsx", rows), filename="so.xlsx")
    assert result.saved, messages(result.report)
    dates = set(Certificate.objects.values_list("decision_date", "expires_on", "decision_year", "stars"))
    assert dates == {(datetime.date(2023, 12, 28), datetime.date(2026, 12, 28), 2023, 4)}
    # A commune code typed as a number lost its leading zero in Excel; it is restored.
    assert set(Product.objects.values_list("origin_commune__code", flat=True)) == {SUOI_GIANG}


@pytest.mark.django_db
def test_a_number_in_a_date_column_is_refused_not_guessed(reference, tmp_path):
    report = check_register(write_xlsx(tmp_path / "so.xlsx", [good_row(1, decision_date=45288)]), filename="so.xlsx")
    assert messages(report) == [
        (2, "Ngày quyết định", "The decision date '45288' is not a date. Write it as dd/mm/yyyy, e.g. 28/12/2023.")
    ]


# --- What an import creates ---------------------------------------------------------------------


@pytest.mark.django_db
def test_products_are_drafts_with_an_empty_offer_and_a_verified_register_certificate(reference, tmp_path, officer):
    row = good_row(1, expires_on="", certificate_kind="Nâng hạng")
    result = import_register(write_csv(tmp_path / "so.csv", [row]), filename="so.csv", user=officer)
    assert result.saved
    product = Product.objects.get()
    assert (product.live, product.has_unpublished_changes, product.live_revision_id) == (False, True, None)
    assert product.name == row["product_name"]
    assert product.category.name == TEA and product.category.scheme == "QD148_2023"
    assert product.origin_commune.code == SUOI_GIANG and product.origin_commune.name == "Xã Suối Giàng"
    offer = product.offer
    assert (offer.sku, offer.price_vnd, offer.stock) == (Offer.sku_for(product.pk), None, 0)
    certificate = product.certificates.get()
    assert certificate.source == Certificate.Source.REGISTER
    assert certificate.verified_by == officer and certificate.verified_at is not None
    assert certificate.decision_date == datetime.date(2023, 12, 28)
    assert certificate.expires_on == datetime.date(2026, 12, 28)  # 36 months
    assert (certificate.stars, certificate.kind, certificate.issuing_body) == (4, "upgrade", "UBND tỉnh Yên Bái")
    entry = product.register_entry
    assert (entry.register_code, entry.district_name, entry.commune_name) == (
        "TEST-001",
        "Huyện Văn Chấn",
        "Suối Giàng",
    )
    assert entry.match_key == "2585 qd ubnd|che shan tuyet suoi giang so 1"
    coop = product.cooperative
    assert (coop.name, coop.kind, coop.tax_code) == ("HTX Chè Suối Giàng", Cooperative.Kind.COOPERATIVE, TAX_A)
    assert coop.slug == "htx-che-suoi-giang"
    # The cooperative is where the commune is today; the product keeps the commune as certified.
    assert (coop.commune.code, coop.commune.valid_to) == (VAN_CHAN_2025, None)
    assert coop.commune.name == "Xã Văn Chấn"


@pytest.mark.django_db
def test_a_certificate_known_only_by_its_year_keeps_the_date_unknown(reference, tmp_path):
    row = good_row(1, decision_number="", decision_date="", certified_year="2020", stars="")
    assert import_register(write_csv(tmp_path / "so.csv", [row]), filename="so.csv").saved
    certificate = Certificate.objects.get()
    assert (certificate.decision_year, certificate.decision_date, certificate.expires_on) == (2020, None, None)
    assert certificate.stars is None
    assert certificate.validity_on(datetime.date(2030, 1, 1)) == Certificate.Validity.EXPIRED


@pytest.mark.django_db
def test_a_row_without_certificate_facts_creates_no_certificate(reference, tmp_path):
    row = good_row(1, decision_number="", decision_date="", certified_year="", stars="")
    assert import_register(write_csv(tmp_path / "so.csv", [row]), filename="so.csv").saved
    assert Product.objects.count() == 1 and Certificate.objects.count() == 0


@pytest.mark.django_db
def test_producers_are_never_invented_nor_duplicated(reference, tmp_path):
    rows = [
        good_row(1, producer_name="", tax_code=""),
        good_row(2, producer_name="HTX  Chè   Khe Năm", tax_code=""),
        good_row(3, producer_name="htx che khe nam", tax_code="", producer_kind=""),
        good_row(4, producer_name="HTX Chè Khe Năm.", tax_code=TAX_B),
        good_row(5, producer_name="HTX Chè Khe Năm", tax_code="", commune_code="", commune_code_2025=""),
    ]
    result = import_register(write_csv(tmp_path / "so.csv", rows), filename="so.csv")
    assert result.saved, messages(result.report)
    assert result.report.new_cooperatives == 1
    coop = Cooperative.objects.get()
    assert (coop.name, coop.tax_code, coop.match_name) == ("HTX Chè Khe Năm", TAX_B, "htx che khe nam")
    assert Product.objects.filter(cooperative__isnull=True).count() == 1
    assert Product.objects.filter(cooperative=coop).count() == 4


@pytest.mark.django_db
def test_new_cooperatives_get_unique_slugs_and_existing_ones_are_matched_by_tax_code(reference, tmp_path):
    existing = Cooperative.objects.create(name="Công ty Đại Phú An", slug="cong-ty-dai-phu-an", tax_code=TAX_A)
    rows = [
        good_row(1, producer_name="Công ty TNHH Nam dược Đại Phú An", tax_code=TAX_A, producer_kind="Công ty"),
        good_row(2, producer_name="Công ty Đại Phú An!", tax_code=TAX_B, producer_kind="DN"),
    ]
    assert import_register(write_csv(tmp_path / "so.csv", rows), filename="so.csv").saved
    first = RegisterEntry.objects.get(register_code="TEST-001").product.cooperative
    second = RegisterEntry.objects.get(register_code="TEST-002").product.cooperative
    assert first == existing  # same tax code: same producer, whatever the name says
    assert second != existing and second.slug == "cong-ty-dai-phu-an-2"  # đ folded to d, not dropped


# --- Progress, RegisterImport, command ---------------------------------------------------------


@pytest.mark.django_db
def test_progress_is_reported_every_500_rows_and_ends_at_the_total(reference, tmp_path):
    rows = [good_row(n, decision_number=f"{n}/QĐ-UBND") for n in range(1, 1203)]
    path = write_csv(tmp_path / "so.csv", rows)
    checked, saved = [], []
    result = import_register(
        path, filename="so.csv", progress=lambda *a: saved.append(a), check_progress=lambda *a: checked.append(a)
    )
    assert result.saved
    assert checked == [(500, 1202), (1000, 1202), (1202, 1202)]
    assert saved == [(500, 1202), (1000, 1202), (1202, 1202)]
    assert Product.objects.count() == 1202 and Cooperative.objects.count() == 1


@pytest.mark.django_db
def test_run_register_import_checks_then_imports_and_records_the_outcome(reference, officer):
    content = io.BytesIO()
    write_xlsx_to(content, [good_row(1), good_row(2)])
    upload = RegisterImport.objects.create(original_filename="so.xlsx", uploaded_by=officer)
    upload.file.save("so.xlsx", ContentFile(content.getvalue()))

    run_register_import(upload, apply=False)
    upload.refresh_from_db()
    assert (upload.status, upload.total_rows, upload.processed_rows, upload.error_count) == ("valid", 2, 2, 0)
    assert upload.summary["new_products"] == 2 and upload.finished_at is not None
    assert Product.objects.count() == 0

    run_register_import(upload, apply=True)
    upload.refresh_from_db()
    assert (upload.status, upload.processed_rows) == ("done", 2)
    assert Product.objects.count() == 2
    assert set(Certificate.objects.values_list("verified_by", flat=True)) == {officer.pk}


@pytest.mark.django_db
def test_run_register_import_saves_progress_every_500_rows_while_checking(reference, tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rows = [good_row(n, decision_number=f"{n}/QĐ-UBND") for n in range(1, 1102)]
    upload = RegisterImport.objects.create(original_filename="so.csv")
    upload.file.save("so.csv", ContentFile(write_csv(tmp_path / "so.csv", rows).read_bytes()))
    with CaptureQueriesContext(connection) as queries:
        run_register_import(upload, apply=False)
    progress = [
        query["sql"] for query in queries if "UPDATE" in query["sql"] and "registerimport" in query["sql"].lower()
    ]
    assert len(progress) == 1 + 3 + 1  # CHECKING, 500 / 1000 / 1101 rows, the outcome
    upload.refresh_from_db()
    assert (upload.status, upload.total_rows, upload.processed_rows) == ("valid", 1101, 1101)


@pytest.mark.django_db
def test_run_register_import_lists_row_errors(reference):
    content = io.BytesIO()
    write_xlsx_to(content, [good_row(1, stars="7")])
    upload = RegisterImport.objects.create(original_filename="so.xlsx")
    upload.file.save("so.xlsx", ContentFile(content.getvalue()))
    run_register_import(upload, apply=True)
    upload.refresh_from_db()
    assert upload.status == "invalid" and upload.error_count == 1
    assert upload.errors == [
        {
            "row": 2,
            "column": "Số sao",
            "message": "Stars '7' are not valid: only 3, 4 or 5 (leave the cell empty when unknown).",
        }
    ]
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_run_register_import_never_stays_importing_after_a_crash(reference, monkeypatch, caplog):
    upload = RegisterImport.objects.create(original_filename="so.csv")
    upload.file.save("so.csv", ContentFile("Tên sản phẩm,Mã sổ đăng ký\nChè,A1\n".encode()))

    def crash(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("catalog.register._Writer.write", crash)
    run_register_import(upload, apply=True)
    upload.refresh_from_db()
    assert upload.status == "failed" and "RuntimeError" in upload.failure and upload.finished_at
    assert "database went away" in caplog.text
    assert Product.objects.count() == 0


def write_xlsx_to(stream, rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(HEADER.values()))
    for row in rows:
        sheet.append([row.get(key) or None for key in HEADER])
    workbook.save(stream)


@pytest.mark.django_db
def test_command_refuses_a_file_with_errors_and_lists_them(reference, tmp_path):
    path = write_csv(tmp_path / "so.csv", [good_row(1), good_row(2, stars="6")])
    out = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import_register", str(path), stdout=out, stderr=io.StringIO())
    assert refused.value.returncode == 1
    assert str(refused.value) == "Nothing was saved because 1 row has errors."
    assert "Row 3, column \"Số sao\": Stars '6' are not valid" in out.getvalue()
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_command_dry_run_saves_nothing_and_import_saves(reference, tmp_path, officer):
    path = write_csv(tmp_path / "so.csv", [good_row(1), good_row(2)])
    out = io.StringIO()
    call_command("import_register", str(path), "--dry-run", stdout=out, stderr=io.StringIO())
    assert "The file is valid: 2 rows." in out.getvalue() and "products: 2 new" in out.getvalue()
    assert Product.objects.count() == 0
    out = io.StringIO()
    call_command("import_register", str(path), "--user", officer.username, stdout=out, stderr=io.StringIO())
    assert "Imported 2 rows:" in out.getvalue()
    assert Product.objects.count() == 2


# --- Parsing cells (no database) -----------------------------------------------------------------


@given(st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2999, 12, 31)))
def test_every_date_reads_back_from_each_accepted_form(day):
    forms = [
        day.strftime("%d/%m/%Y"),
        f"{day.day}/{day.month}/{day.year:04d}",
        day.strftime("%d-%m-%Y"),
        day.strftime("%d.%m.%Y"),
        day.isoformat(),
        datetime.datetime.combine(day, datetime.time()),
        day,
    ]
    assert {_parse_date(form) for form in forms} == {day}


@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=6)))
def test_stars_are_three_four_or_five_or_refused(value):
    stars = _read_stars(value)
    assert stars in (None, 3, 4, 5)
    if stars is not None:
        assert float(str(value).split()[0].rstrip("★*sao").replace(",", ".")) == stars


# --- Templates ------------------------------------------------------------------------------------


def test_the_downloadable_templates_have_the_documented_headers():
    with open(STATIC / "register-template.csv", encoding="utf-8-sig", newline="") as handle:
        assert next(csv.reader(handle)) == template_headers()
    workbook = openpyxl.load_workbook(STATIC / "register-template.xlsx", read_only=True)
    first = next(workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    assert list(first) == template_headers()


def test_the_documentation_lists_every_column():
    text = (Path(settings.BASE_DIR) / "docs" / "register-format.md").read_text(encoding="utf-8")
    assert all(f"| {column.header} |" in text for column in COLUMNS)


@pytest.mark.django_db
def test_starting_the_import_shows_the_imports_progress_not_the_checks(reference, officer):
    from catalog.services import register_import_apply

    content = io.BytesIO()
    write_xlsx_to(content, [good_row(1), good_row(2)])
    upload = RegisterImport.objects.create(original_filename="so.xlsx", uploaded_by=officer)
    upload.file.save("so.xlsx", ContentFile(content.getvalue()))
    run_register_import(upload, apply=False)

    started = register_import_apply(register_import=upload, user=officer)

    assert (started.status, started.processed_rows, started.total_rows) == ("pending", 0, 2)
