"""Certificate validity and the star a product shows."""

import datetime

import pytest
from django.urls import reverse

from catalog import readiness, services
from catalog.models import Certificate
from catalog.selectors import current_certificate, product_checklist
from tests import factories

pytestmark = pytest.mark.django_db


def _certificate(product, **fields):
    defaults = {"stars": 3, "source": Certificate.Source.REGISTER, "verified_at": datetime.datetime.now(datetime.UTC)}
    return Certificate.objects.create(product=product, **(defaults | fields))


@pytest.fixture
def product(coop_a, member_a):
    return factories.make_product(coop_a, member_a)


def test_expiry_is_36_months_after_the_decision_unless_stated(product):
    certificate = _certificate(product, decision_number="2585/QĐ-UBND", decision_date=datetime.date(2023, 12, 28))
    assert certificate.expires_on == datetime.date(2026, 12, 28)
    stated = _certificate(
        product,
        decision_number="99/QĐ-UBND",
        decision_date=datetime.date(2024, 1, 10),
        expires_on=datetime.date(2025, 1, 10),
    )
    assert stated.expires_on == datetime.date(2025, 1, 10)


def test_a_dated_certificate_is_valid_from_its_decision_to_its_expiry_inclusive(product):
    certificate = _certificate(product, decision_number="2585/QĐ-UBND", decision_date=datetime.date(2023, 12, 28))
    assert certificate.validity_on(datetime.date(2023, 12, 27)) == Certificate.Validity.NOT_YET
    assert certificate.validity_on(datetime.date(2023, 12, 28)) == Certificate.Validity.VALID
    assert certificate.validity_on(datetime.date(2026, 12, 28)) == Certificate.Validity.VALID
    assert certificate.validity_on(datetime.date(2026, 12, 29)) == Certificate.Validity.EXPIRED


def test_a_certificate_with_only_a_year_is_unknown_until_it_must_have_expired(product):
    certificate = _certificate(product, decision_year=2023)
    assert certificate.decision_date is None and certificate.expires_on is None
    assert certificate.validity_on(datetime.date(2024, 6, 1)) == Certificate.Validity.UNKNOWN
    assert certificate.validity_on(datetime.date(2026, 12, 31)) == Certificate.Validity.UNKNOWN
    assert certificate.validity_on(datetime.date(2027, 1, 1)) == Certificate.Validity.EXPIRED
    assert _certificate(product, decision_number="x").validity_on() == Certificate.Validity.UNKNOWN


def test_an_unknown_date_gives_no_star_and_the_checklist_asks_for_the_scan(product):
    _certificate(product, decision_year=2024, stars=4)
    assert current_certificate(product.certificates.all()) is None
    draft = services.latest_content(product)
    item = next(i for i in product_checklist(product, draft) if i.code == "certificate")
    assert not item.ok and "scan" in str(item.message).lower()


def test_the_star_comes_from_the_latest_valid_certificate(product):
    today = datetime.date(2026, 11, 27)
    _certificate(product, decision_number="A", stars=3, decision_date=datetime.date(2022, 5, 1))  # expired 2025
    _certificate(product, decision_number="B", stars=3, decision_date=datetime.date(2024, 3, 1))
    _certificate(product, decision_number="C", stars=4, decision_date=datetime.date(2025, 9, 1))  # upgrade
    assert current_certificate(product.certificates.all(), day=today).decision_number == "C"
    assert current_certificate(product.certificates.all(), day=datetime.date(2025, 1, 1)).decision_number == "B"


def test_a_certificate_entered_by_a_member_counts_only_once_verified(client, product, member_a, coop_a, officer):
    client.force_login(member_a)
    scan = factories.SimpleUploadedFile("gcn.pdf", b"%PDF-1.4 scan", "application/pdf")
    response = client.post(
        reverse("portal:product_certificates", kwargs={"cooperative_id": coop_a.pk, "product_id": product.pk}),
        {
            "stars": 4,
            "decision_number": "816/QĐ-UBND",
            "issuing_body": "UBND tỉnh Yên Bái",
            "decision_date": "2024-04-26",
            "kind": "rerating",
            "scan": scan,
        },
    )
    assert response.status_code == 302
    certificate = product.certificates.get(decision_number="816/QĐ-UBND")
    assert certificate.source == Certificate.Source.MEMBER and certificate.verified_at is None
    assert certificate.validity_on(datetime.date(2025, 1, 1)) == Certificate.Validity.UNVERIFIED
    assert current_certificate(product.certificates.all(), day=datetime.date(2025, 1, 1)) is None

    client.force_login(officer)
    client.post(reverse("catalog_certificate_verify", args=[certificate.pk]))
    certificate.refresh_from_db()
    assert certificate.verified_by == officer
    assert current_certificate(product.certificates.all(), day=datetime.date(2025, 1, 1)) == certificate


def test_a_member_cannot_verify_a_certificate(client, product, member_a):
    certificate = _certificate(
        product, decision_number="1/QĐ", decision_date=datetime.date(2025, 1, 1), verified_at=None
    )
    client.force_login(member_a)
    client.post(reverse("catalog_certificate_verify", args=[certificate.pk]))
    certificate.refresh_from_db()
    assert certificate.verified_at is None


def test_a_scan_that_is_not_a_pdf_or_photo_is_refused(client, product, member_a, coop_a):
    client.force_login(member_a)
    response = client.post(
        reverse("portal:product_certificates", kwargs={"cooperative_id": coop_a.pk, "product_id": product.pk}),
        {
            "stars": 4,
            "decision_number": "816/QĐ-UBND",
            "issuing_body": "UBND",
            "decision_date": "2024-04-26",
            "scan": factories.SimpleUploadedFile("gcn.pdf", b"MZ\x90\x00 not a pdf", "application/pdf"),
        },
    )
    assert response.status_code == 200
    assert not product.certificates.exists()


def test_readiness_checks_are_pluggable_per_channel(product):
    def title_not_too_long(subject):
        return readiness.ReadinessItem("title", "Title", len(subject.product.name) <= 10, channel="test_channel")

    readiness.register_check(title_not_too_long, channel="test_channel")
    try:
        draft = services.latest_content(product)
        subject = readiness.ReadinessSubject(product=draft, offer=product.offer, photo_count=1)
        assert "title" not in [item.code for item in readiness.checklist(subject)]
        assert "title" in [item.code for item in readiness.checklist(subject, channel="test_channel")]
    finally:
        readiness._checks.remove(("test_channel", title_not_too_long))


def test_a_certificate_dated_in_the_future_is_refused(client, product, member_a, coop_a):
    client.force_login(member_a)
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    response = client.post(
        reverse("portal:product_certificates", kwargs={"cooperative_id": coop_a.pk, "product_id": product.pk}),
        {
            "stars": 4,
            "decision_number": "9/QĐ-UBND",
            "issuing_body": "UBND tỉnh Lào Cai",
            "decision_date": tomorrow.isoformat(),
            "scan": factories.SimpleUploadedFile("gcn.pdf", b"%PDF-1.4 scan", "application/pdf"),
        },
    )
    assert response.status_code == 200 and "decision_date" in response.context["form"].errors
    assert not product.certificates.exists()
