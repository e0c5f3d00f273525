"""The demo loads the real register honestly and shows a living platform."""

import datetime

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from catalog import demo
from catalog.models import Certificate, Offer, Product, ProductImage, RegisterEntry
from catalog.selectors import ProductState, moderation_status
from cooperatives.models import Cooperative, Membership

pytestmark = pytest.mark.django_db

RESEARCH = settings.OCOP_DATA_DIR / "yenbai_ocop_products.csv"


def _by_code(code):
    return RegisterEntry.objects.select_related("product").get(register_code=code).product


def test_decisions_are_read_from_the_evidence_only_where_it_states_them():
    rows = {row["Mã sổ đăng ký"]: row for row in demo.research_rows_as_register(RESEARCH)}
    # "QĐ 2585/QĐ-UBND (UBND tỉnh Yên Bái), GCN hiệu lực 36 tháng từ 28/12/2023"
    assert rows["YB-OCOP-001"]["Số quyết định"] == "2585/QĐ-UBND"
    assert rows["YB-OCOP-001"]["Ngày quyết định"] == "28/12/2023"
    assert rows["YB-OCOP-001"]["Cơ quan cấp"] == "UBND tỉnh Yên Bái"
    # the same decision names its issuer once; it holds for every product of that decision
    assert rows["YB-OCOP-002"]["Cơ quan cấp"] == "UBND tỉnh Yên Bái"
    assert rows["YB-OCOP-039"]["Ngày quyết định"] == "26/04/2024"
    assert rows["YB-OCOP-039"]["Loại đánh giá"] == "Đánh giá lại"
    # "district council score 77": no decision stated, nothing invented
    assert rows["YB-OCOP-008"]["Số quyết định"] == "" and rows["YB-OCOP-008"]["Ngày quyết định"] == ""
    assert rows["YB-OCOP-028"]["Số sao"] == "" and rows["YB-OCOP-028"]["Chủ thể"]  # stars not stated


def test_load_demo_loads_the_register_and_takes_products_through_review(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", verbosity=0)

    assert Product.objects.count() == 88
    assert Product.objects.filter(cooperative__isnull=True).count() == 37  # producers the sources do not name
    states = {code: moderation_status(_by_code(code)).state for code in ("YB-OCOP-005", "YB-OCOP-084", "YB-OCOP-040")}
    assert states == {
        "YB-OCOP-005": ProductState.APPROVED,
        "YB-OCOP-084": ProductState.NEEDS_CHANGES,
        "YB-OCOP-040": ProductState.IN_REVIEW,
    }
    approved = _by_code("YB-OCOP-005")
    assert approved.live and approved.is_illustrative and "[Nội dung minh hoạ" in approved.description
    assert all(photo.is_illustrative for photo in ProductImage.objects.filter(product=approved))
    assert Offer.objects.get(product=approved).is_illustrative
    # register facts stay as they are: unknown dates stay unknown
    unknown = Certificate.objects.get(product=_by_code("YB-OCOP-084"))
    assert unknown.decision_date is None and unknown.validity_on() == Certificate.Validity.UNKNOWN
    assert Certificate.objects.get(product=approved).expires_on == datetime.date(2026, 12, 28)
    helper = Membership.objects.filter(role=Membership.Role.HELPER)
    assert helper.count() == 2 and all(m.consent_date for m in helper)
    assert (tmp_path / "demo-logins.txt").stat().st_mode & 0o077 == 0


def test_a_second_load_duplicates_nothing(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", verbosity=0)
    counts = (Product.objects.count(), Cooperative.objects.count(), Certificate.objects.count())
    passwords = (tmp_path / "demo-logins.txt").read_text()
    call_command("load_demo", verbosity=0)
    assert (Product.objects.count(), Cooperative.objects.count(), Certificate.objects.count()) == counts
    assert (tmp_path / "demo-logins.txt").read_text() == passwords


def test_load_demo_refuses_where_demo_data_is_not_allowed(settings):
    settings.OCOP_ALLOW_DEMO_DATA = False
    with pytest.raises(CommandError):
        call_command("load_demo", verbosity=0)
    assert not Product.objects.exists()
