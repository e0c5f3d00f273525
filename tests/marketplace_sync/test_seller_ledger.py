"""The seller ledger: each cooperative sees only its own rows and what is still to be
transferred; the operator exports the transfers and marks them done."""

import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from marketplace_sync.models import DirectCheckout, SellerLedgerEntry
from tests import factories

pytestmark = pytest.mark.django_db


def _sale(cooperative, member, amount, *, refund=0, settlement="bank_transfer", name="Chè Shan tuyết"):
    """A paid direct purchase as the Stripe flow books it (that flow has its own tests)."""
    product = factories.make_product(cooperative, member, name=name, complete=False)
    checkout = DirectCheckout.objects.create(
        reference=f"TT{DirectCheckout.objects.count():08d}",
        product=product,
        cooperative=cooperative,
        quantity=1,
        unit_price_vnd=amount,
        amount_vnd=amount,
        settlement=settlement,
        status=DirectCheckout.Status.PAID,
        expires_at=timezone.now() + datetime.timedelta(minutes=30),
    )
    SellerLedgerEntry.objects.create(
        cooperative=cooperative,
        checkout=checkout,
        kind="sale",
        source_ref="sale",
        gross_vnd=amount,
        fee_vnd=0,
        owed_vnd=amount,
        settlement=settlement,
    )
    if refund:
        SellerLedgerEntry.objects.create(
            cooperative=cooperative,
            checkout=checkout,
            kind="refund",
            source_ref="re_1",
            gross_vnd=-refund,
            fee_vnd=0,
            owed_vnd=-refund,
            settlement=settlement,
        )
    return checkout


@pytest.fixture
def ledger(coop_a, coop_b, member_a, member_b):
    coop_a.bank_account_name, coop_a.bank_account_number, coop_a.bank_name = "HTX A", "0123456789", "Agribank"
    coop_a.save()
    _sale(coop_a, member_a, 150_000)
    _sale(coop_a, member_a, 90_000, refund=90_000, name="Mật ong")
    _sale(coop_a, member_a, 200_000, settlement="stripe_connect", name="Miến dong")
    _sale(coop_b, member_b, 70_000, name="Măng khô")


def test_a_member_sees_what_the_cooperative_is_owed_and_nothing_of_others(client, member_a, coop_a, ledger):
    client.force_login(member_a)

    page = client.get(reverse("portal:ledger", kwargs={"cooperative_id": coop_a.pk}))

    assert page.status_code == 200
    totals = page.context["totals"]
    # 150.000 + 90.000 − 90.000 by transfer, 200.000 paid by Stripe itself.
    assert (totals["owed"], totals["outstanding"], totals["paid_out"]) == (350_000, 150_000, 0)
    body = page.content.decode()
    assert "Mật ong" in body and "Măng khô" not in body
    assert "150.000 ₫" in body


def test_a_member_cannot_open_another_cooperatives_ledger(client, member_a, coop_b, ledger):
    client.force_login(member_a)
    assert client.get(reverse("portal:ledger", kwargs={"cooperative_id": coop_b.pk})).status_code in (403, 404)


def test_the_operator_exports_what_to_transfer_and_marks_it_done(client, officer, coop_a, coop_b, ledger):
    client.force_login(officer)
    page = client.get(reverse("direct_sales_ledger"))
    owed = {row["cooperative__name"]: row["outstanding"] for row in page.context["owed"]}
    assert owed == {coop_a.name: 150_000, coop_b.name: 70_000}  # Connect sales are Stripe's to pay

    sheet = client.get(reverse("direct_sales_ledger"), {"format": "xlsx", "outstanding": "1"})
    rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    header, data = rows[0], rows[1:]
    owed_column, account_column = header.index("Phải trả chủ thể (đồng)"), header.index("Số tài khoản")
    assert sum(row[owed_column] for row in data) == 220_000
    assert {row[account_column] for row in data} == {"0123456789", None}  # B's account is missing

    response = client.post(
        reverse("direct_sales_ledger"),
        {"cooperative_id": coop_a.pk, "up_to": timezone.now().isoformat(), "note": "UNC 0458"},
    )

    assert response.status_code == 302
    settled = SellerLedgerEntry.objects.filter(cooperative=coop_a, settled_at__isnull=False)
    assert settled.count() == 3 and set(settled.values_list("settlement_note", flat=True)) == {"UNC 0458"}
    owed = {row["cooperative__name"] for row in client.get(reverse("direct_sales_ledger")).context["owed"]}
    assert owed == {coop_b.name}


def test_a_report_viewer_reads_the_ledger_but_cannot_mark_transfers(client, viewer, coop_a, ledger):
    client.force_login(viewer)
    assert client.get(reverse("direct_sales_ledger")).status_code == 200
    response = client.post(
        reverse("direct_sales_ledger"), {"cooperative_id": coop_a.pk, "up_to": timezone.now().isoformat(), "note": "x"}
    )
    assert response.status_code in (302, 403)  # Wagtail sends a refused admin request home
    assert not SellerLedgerEntry.objects.filter(settled_at__isnull=False).exists()


def test_a_member_cannot_open_the_settlement_screen(client, member_a, ledger):
    client.force_login(member_a)
    assert client.get(reverse("direct_sales_ledger")).status_code in (302, 403)


def test_direct_sales_need_somewhere_to_send_the_money(coop_a):
    coop_a.sells_direct = True
    with pytest.raises(ValidationError) as raised:
        coop_a.full_clean()
    assert "sells_direct" in raised.value.message_dict
    coop_a.bank_account_name, coop_a.bank_account_number = "HTX A", "0123456789"
    coop_a.full_clean()
    coop_a.stripe_account_id = "1234"
    with pytest.raises(ValidationError):
        coop_a.full_clean()
