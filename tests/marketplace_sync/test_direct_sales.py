"""Direct purchase on the showcase through the Stripe sandbox, over real HTTP, with a real worker
processing Stripe's signed webhooks: paid, unpaid, expired, cancelled, refunded, out of order,
duplicated, forged, and two buyers racing for the last unit."""

import datetime
import json
import threading
import time

import pytest
import requests
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.models import Offer
from marketplace_sync import direct_sales, stripe_gateway
from marketplace_sync.models import DirectCheckout, InboundEvent, Order, ProductFacts, SellerLedgerEntry
from marketplace_sync.sandbox.stripe import sign

from .conftest import approve, sellable_product, wait_until

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.celery_worker]

BUYER = {
    "email": "khach@example.vn",
    "name": "Nguyễn Thị Lan",
    "phone": "0912345678",
    "address": "12 Hoàng Hoa Thám, Hà Nội",
}


@pytest.fixture
def on_sale(sandboxes, coop_a, member_a, officer):
    """An approved tea of a cooperative that sells directly: 150.000 ₫, 3 in stock of which
    2 are the safety buffer, so exactly one unit can be sold."""
    coop_a.sells_direct = True
    coop_a.bank_account_name, coop_a.bank_account_number, coop_a.bank_name = "HTX A", "0123456789", "Agribank Yên Bái"
    coop_a.save()
    return approve(sellable_product(coop_a, member_a, price=150_000, stock=3), officer)


def _stock(product) -> int:
    return Offer.objects.get(product=product).stock


def _start(product, quantity=1, language="vi"):
    return direct_sales.checkout_start(
        product_id=product.pk,
        quantity=quantity,
        return_url=lambda ref: f"http://testserver/mua-truc-tiep/don/{ref}/",
        cancel_url=lambda ref: f"http://testserver/mua-truc-tiep/don/{ref}/huy/",
        language=language,
    )


def _pay(sandboxes, checkout, *, method="card", buyer=BUYER):
    return sandboxes.control("stripe", f"sessions/{checkout.session_id}/pay", {"method": method, "buyer": buyer})


def _status(checkout) -> str:
    return DirectCheckout.objects.get(pk=checkout.pk).status


def _wait_status(checkout, status, timeout=30):
    wait_until(lambda: _status(checkout) == status, timeout=timeout, message=f"checkout {status}")
    return DirectCheckout.objects.get(pk=checkout.pk)


def _stripe_get(sandboxes, path):
    response = requests.get(
        f"{sandboxes.url('stripe')}{path}",
        headers={"Authorization": "Bearer sk_test_sandbox_ocop_connect"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def test_a_visitor_buys_directly_and_it_counts_as_a_sale(client, sandboxes, worker, on_sale):
    page = client.get(reverse("direct_buy", args=[on_sale.pk]))
    assert page.status_code == 200 and "150.000 ₫" in page.content.decode()

    response = client.post(reverse("direct_buy", args=[on_sale.pk]), {"quantity": "1"})

    assert response.status_code == 302 and response["Location"].startswith(sandboxes.url("stripe") + "/c/pay/")
    checkout = DirectCheckout.objects.get()
    assert checkout.stock_held == 1 and _stock(on_sale) == 2  # held while the buyer pays
    # The buyer fills in Stripe's page and pays; Stripe sends them back to us.
    paid = requests.post(response["Location"], data={"action": "card", **BUYER}, allow_redirects=False, timeout=10)
    assert paid.status_code == 302 and f"/mua-truc-tiep/don/{checkout.reference}/" in paid.headers["Location"]

    checkout = _wait_status(checkout, DirectCheckout.Status.PAID)
    order = checkout.order
    assert order.channel.code == "showcase" and order.is_sale and order.total_vnd == 150_000
    line = order.lines.get()
    assert (line.product_id, line.quantity, line.stock_taken) == (on_sale.pk, 1, 1)
    assert _stock(on_sale) == 2  # taken once, at the hold
    assert (checkout.ship_to_name, checkout.ship_to_phone) == (BUYER["name"], BUYER["phone"])
    assert "Hoàng Hoa Thám" in checkout.ship_to_address
    entry = SellerLedgerEntry.objects.get()
    assert (entry.kind, entry.gross_vnd, entry.owed_vnd, entry.settlement) == (
        "sale",
        150_000,
        150_000,
        "bank_transfer",
    )
    assert ProductFacts.objects.get(product=on_sale).first_sale_on == timezone.localdate()  # coverage counts it

    back = client.get(paid.headers["Location"].replace("http://testserver", ""))
    assert checkout.reference in back.content.decode() and back.context["checkout"].status == "paid"


def test_what_stripe_is_asked_for(sandboxes, worker, on_sale, settings):
    """VND in whole đồng, our idempotency key, our reference on the session and on the payment
    intent (where refunds find it); a cooperative with its own Stripe account is paid by a
    destination charge minus the platform's fee."""
    settings.DIRECT_SALE_FEE_PERCENT = 5
    on_sale.cooperative.stripe_account_id = "acct_1HtxSuoiGiang"
    on_sale.cooperative.save()
    Offer.objects.filter(product=on_sale).update(stock=10)

    checkout, url = _start(on_sale, quantity=2)

    session = _stripe_get(sandboxes, f"/v1/checkout/sessions/{checkout.session_id}")
    assert (session["amount_total"], session["currency"], session["client_reference_id"]) == (
        300_000,
        "vnd",
        checkout.reference,
    )
    assert session["metadata"]["checkout"] == checkout.reference and session["url"] == url
    assert checkout.expires_at - timezone.now() > datetime.timedelta(minutes=29)
    # The same key with other parameters is refused: a retry can never make a second session.
    with pytest.raises(stripe_gateway.PaymentError):
        stripe_gateway.checkout_session_create(
            params={"mode": "payment"}, idempotency_key=f"checkout:{checkout.reference}"
        )

    _pay(sandboxes, checkout)
    checkout = _wait_status(checkout, DirectCheckout.Status.PAID)
    intent = _stripe_get(sandboxes, f"/v1/payment_intents/{checkout.payment_intent_id}")
    assert intent["metadata"]["checkout"] == checkout.reference
    assert (
        intent["transfer_data"] == {"destination": "acct_1HtxSuoiGiang"} and intent["application_fee_amount"] == 15_000
    )
    entry = SellerLedgerEntry.objects.get()
    assert (entry.fee_vnd, entry.owed_vnd, entry.settlement) == (15_000, 285_000, "stripe_connect")


def test_the_same_idempotency_key_and_parameters_replay_the_first_session(sandboxes, on_sale):
    params = {
        "mode": "payment",
        "line_items": [
            {"quantity": 1, "price_data": {"currency": "vnd", "unit_amount": 150_000, "product_data": {"name": "Chè"}}}
        ],  # fmt: skip
        "success_url": "http://testserver/ok/",
        "cancel_url": "http://testserver/back/",
    }
    first = stripe_gateway.checkout_session_create(params=params, idempotency_key="checkout:TEST1")
    second = stripe_gateway.checkout_session_create(params=params, idempotency_key="checkout:TEST1")
    assert first["id"] == second["id"]
    assert len(requests.get(f"{sandboxes.url('stripe')}/_sandbox/sessions", timeout=10).json()["sessions"]) == 1


def _signed_post(client, event: dict, *, secret="whsec_sandbox_ocop_connect", timestamp=None):
    body = json.dumps(event).encode()
    return client.post(
        reverse("stripe_webhook"),
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, secret, timestamp),
    )


def test_forged_and_stale_webhooks_are_refused_and_nothing_is_stored(client, sandboxes, on_sale):
    event = {"id": "evt_forged", "type": "checkout.session.completed", "data": {"object": {"id": "cs_x"}}}

    assert _signed_post(client, event, secret="whsec_someone_else").status_code == 400
    assert _signed_post(client, event, timestamp=int(time.time()) - 301).status_code == 400  # a replay
    unsigned = client.post(reverse("stripe_webhook"), data=json.dumps(event), content_type="application/json")
    assert unsigned.status_code == 400
    assert not InboundEvent.objects.exists()
    assert _signed_post(client, event, timestamp=int(time.time()) - 200).status_code == 200  # inside 300 s


def test_a_duplicate_event_is_stored_and_counted_once(client, sandboxes, worker, on_sale):
    checkout, _url = _start(on_sale)
    _pay(sandboxes, checkout)
    _wait_status(checkout, DirectCheckout.Status.PAID)
    completed = next(
        e for e in requests.get(f"{sandboxes.url('stripe')}/_sandbox/events", timeout=10).json()["events"]
        if e["type"] == "checkout.session.completed"
    )  # fmt: skip

    sandboxes.control("stripe", f"events/{completed['id']}/resend")
    assert _signed_post(client, completed).status_code == 200

    time.sleep(1)
    assert InboundEvent.objects.filter(source="stripe", event_id=completed["id"]).count() == 1
    assert Order.objects.count() == 1 and SellerLedgerEntry.objects.count() == 1
    assert _stock(on_sale) == 2


def test_a_refund_arriving_before_the_payment_still_ends_as_a_return(sandboxes, worker, on_sale):
    """Webhooks out of order: the refund's event is processed first. Each event makes us read
    the session's current state, so the sale and its refund are both booked, once."""
    checkout, _url = _start(on_sale)
    sandboxes.control("stripe", "faults", {"drop_webhook_rate": 1.0})  # hold the deliveries back
    _pay(sandboxes, checkout)
    intent_id = requests.get(f"{sandboxes.url('stripe')}/_sandbox/sessions", timeout=10).json()["sessions"][0][
        "payment_intent"
    ]
    refund = requests.post(
        f"{sandboxes.url('stripe')}/v1/refunds",
        data={"payment_intent": intent_id},
        headers={"Authorization": "Bearer sk_test_sandbox_ocop_connect"},
        timeout=10,
    )
    assert refund.status_code == 200
    sandboxes.control("stripe", "faults", {})
    events = requests.get(f"{sandboxes.url('stripe')}/_sandbox/events", timeout=10).json()["events"]
    assert [e["type"] for e in events] == ["checkout.session.completed", "charge.refunded"]

    sandboxes.control("stripe", f"events/{events[1]['id']}/resend")  # the refund first
    checkout = _wait_status(checkout, DirectCheckout.Status.REFUNDED)
    sandboxes.control("stripe", f"events/{events[0]['id']}/resend")  # then the payment
    wait_until(lambda: InboundEvent.objects.filter(source="stripe", status="processed").count() == 2, message="both")

    checkout.refresh_from_db()
    assert checkout.status == "refunded" and checkout.order.status == Order.Status.RETURNED
    owed = [e.owed_vnd for e in SellerLedgerEntry.objects.order_by("pk")]
    assert owed == [150_000, -150_000]
    assert ProductFacts.objects.get(product=on_sale).first_sale_on is None  # a return is not a sale


def test_an_unpaid_completion_holds_the_units_until_the_transfer_arrives_or_fails(sandboxes, worker, on_sale):
    Offer.objects.filter(product=on_sale).update(stock=4)  # two sellable
    first, _ = _start(on_sale)
    second, _ = _start(on_sale)
    _pay(sandboxes, first, method="later")
    _pay(sandboxes, second, method="later")
    _wait_status(first, DirectCheckout.Status.PROCESSING)
    _wait_status(second, DirectCheckout.Status.PROCESSING)
    assert not Order.objects.exists() and _stock(on_sale) == 2  # no sale yet, units still held

    sandboxes.control("stripe", f"sessions/{first.session_id}/settle", {"succeeded": True})
    sandboxes.control("stripe", f"sessions/{second.session_id}/settle", {"succeeded": False})

    _wait_status(first, DirectCheckout.Status.PAID)
    _wait_status(second, DirectCheckout.Status.FAILED)
    assert Order.objects.count() == 1 and _stock(on_sale) == 3  # the failed one's unit is back


def test_an_expired_or_cancelled_checkout_gives_the_units_back(client, sandboxes, worker, on_sale):
    expiring, _ = _start(on_sale)
    assert _stock(on_sale) == 2
    sandboxes.control("stripe", f"sessions/{expiring.session_id}/expire")
    _wait_status(expiring, DirectCheckout.Status.EXPIRED)
    assert _stock(on_sale) == 3

    cancelled, _ = _start(on_sale)
    page = client.get(reverse("direct_cancel", args=[cancelled.reference]))

    assert page.status_code == 200 and _status(cancelled) == DirectCheckout.Status.CANCELLED
    assert _stock(on_sale) == 3
    session = _stripe_get(sandboxes, f"/v1/checkout/sessions/{cancelled.session_id}")
    assert session["status"] == "expired"  # it cannot be paid any more


def test_two_buyers_racing_for_the_last_unit_never_oversell(sandboxes, on_sale):
    outcomes, barrier = [], threading.Barrier(2)

    def buy():
        barrier.wait()
        try:
            outcomes.append(_start(on_sale)[0])
        except direct_sales.DirectSaleError as error:
            outcomes.append(error.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=buy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    checkouts = [o for o in outcomes if isinstance(o, DirectCheckout)]
    assert len(checkouts) == 1, outcomes
    # The loser is told before paying anything (which message depends on how far it got).
    [told] = [o for o in outcomes if isinstance(o, str)]
    assert told in ("Rất tiếc, sản phẩm này vừa hết hàng.", "Tạm hết hàng.")
    assert _stock(on_sale) == 2 and DirectCheckout.objects.get().stock_held == 1


def test_a_payment_for_a_unit_sold_meanwhile_is_refunded_and_the_buyer_told(sandboxes, worker, on_sale):
    """Stripe could not be asked when A's session ran out of time, so A's unit was released by
    time; B then bought it. A's payment, already under way, arrives after: A gets the money
    back automatically and an email saying why; nothing is oversold."""
    a, _ = _start(on_sale)
    sandboxes.control("stripe", "faults", {"error_rate": 1.0})
    DirectCheckout.objects.filter(pk=a.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=10))
    assert direct_sales.checkouts_release_overdue() == 1
    assert _status(a) == DirectCheckout.Status.EXPIRED and _stock(on_sale) == 3
    sandboxes.control("stripe", "faults", {})
    b, _ = _start(on_sale)
    _pay(sandboxes, b, buyer={**BUYER, "email": "b@example.vn"})
    _wait_status(b, DirectCheckout.Status.PAID)

    _pay(sandboxes, a, buyer={**BUYER, "email": "a@example.vn"})

    a = _wait_status(a, DirectCheckout.Status.SOLD_OUT_REFUNDED)
    intent = _stripe_get(sandboxes, f"/v1/payment_intents/{a.payment_intent_id}?expand[]=latest_charge")
    assert intent["latest_charge"]["refunded"] is True
    assert Order.objects.count() == 1 and Order.objects.get().direct_checkout == DirectCheckout.objects.get(pk=b.pk)
    assert _stock(on_sale) == 2  # B's unit only; never below what is there
    assert list(SellerLedgerEntry.objects.values_list("checkout_id", flat=True)) == [b.pk]
    wait_until(lambda: any("a@example.vn" in m.to for m in mail.outbox), message="email to A")
    wait_until(lambda: a.__class__.objects.get(pk=a.pk).amount_refunded_vnd == 150_000, message="refund booked")


def test_a_refund_in_stripe_makes_the_sale_a_return(sandboxes, worker, on_sale):
    checkout, _ = _start(on_sale)
    _pay(sandboxes, checkout)
    checkout = _wait_status(checkout, DirectCheckout.Status.PAID)

    stripe_gateway.refund_create(payment_intent=checkout.payment_intent_id, idempotency_key="refund:t1", metadata={})

    checkout = _wait_status(checkout, DirectCheckout.Status.REFUNDED)
    assert checkout.order.status == Order.Status.RETURNED and not checkout.order.is_sale
    assert sum(SellerLedgerEntry.objects.values_list("owed_vnd", flat=True)) == 0
    assert _stock(on_sale) == 2  # returned goods are counted back in by the cooperative


def test_while_stripe_is_down_an_event_is_kept_and_processed_later(client, sandboxes, on_sale):
    checkout, _ = _start(on_sale)
    sandboxes.control("stripe", "faults", {"drop_webhook_rate": 1.0})
    _pay(sandboxes, checkout)
    event = requests.get(f"{sandboxes.url('stripe')}/_sandbox/events", timeout=10).json()["events"][0]
    sandboxes.control("stripe", "faults", {"error_rate": 1.0})
    stored = direct_sales.stripe_event_store(event=event)

    with pytest.raises(stripe_gateway.PaymentError) as raised:
        direct_sales.stripe_event_process(inbound_event_id=stored.pk)

    assert raised.value.retryable
    assert InboundEvent.objects.get(pk=stored.pk).status == InboundEvent.Status.RECEIVED  # kept for the retry
    sandboxes.control("stripe", "faults", {})
    direct_sales.stripe_event_process(inbound_event_id=stored.pk)
    assert _status(checkout) == DirectCheckout.Status.PAID


def test_what_the_product_page_offers(client, sandboxes, on_sale, settings):
    page = client.get(on_sale.cooperative and _product_url(on_sale))
    assert reverse("direct_buy", args=[on_sale.pk]) in page.content.decode()

    Offer.objects.filter(product=on_sale).update(stock=2)  # only the safety buffer left
    page = client.get(_product_url(on_sale))
    assert reverse("direct_buy", args=[on_sale.pk]) not in page.content.decode()
    assert "Tạm hết hàng." in page.content.decode()


def test_the_smallest_and_largest_orders_stripe_takes(sandboxes, on_sale):
    offer = Offer.objects.get(product=on_sale)
    offer.price_vnd, offer.stock = 5_000, 100
    offer.save()
    product = on_sale.__class__.objects.select_related("cooperative", "offer").get(pk=on_sale.pk)
    assert direct_sales.minimum_quantity(5_000) == 4  # 20.000 ₫ at least
    with pytest.raises(direct_sales.DirectSaleError):
        _start(product, quantity=3)
    checkout, _ = _start(product, quantity=4)
    assert checkout.amount_vnd == 20_000
    product.cooperative.sells_direct = False
    product.cooperative.save()
    assert not direct_sales.direct_offer(product).available
    assert Client().get(reverse("direct_buy", args=[product.pk])).status_code == 404


def _product_url(product) -> str:
    from cms.models import ProductIndexPage

    index = ProductIndexPage.objects.live().first()
    return index.url + index.reverse_subpage("product_detail", args=[product.pk])


def test_a_product_sold_directly_is_listed_on_the_showcase_for_coverage(coop_a, member_a, officer):
    """Coverage counts the province's showcase as a channel: a product is listed there while it
    can be bought directly, so a direct sale never belongs to an unlisted product."""
    from marketplace_sync import coverage
    from marketplace_sync.models import Listing

    product = approve(sellable_product(coop_a, member_a), officer)
    assert not Listing.objects.filter(product=product, channel__code="showcase").exists()

    coop_a.sells_direct, coop_a.bank_account_name, coop_a.bank_account_number = True, "HTX A", "0123456789"
    coop_a.save()

    listing = Listing.objects.get(product=product, channel__code="showcase")
    assert listing.account is None and listing.reported_state == Listing.Reported.LIVE
    assert ProductFacts.objects.get(product=product).live_channels == "showcase"
    assert coverage.coverage_table().total.listed == 1
    assert not listing.jobs.exists()  # nothing is ever sent anywhere for it

    coop_a.sells_direct = False
    coop_a.save()

    listing.refresh_from_db()
    assert listing.reported_state == Listing.Reported.WITHDRAWN and listing.live_until is not None
    assert coverage.coverage_table().total.listed == 0


def test_the_buy_and_result_pages_cost_a_few_queries(client, sandboxes, on_sale, django_assert_max_num_queries):
    checkout, _url = _start(on_sale)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("direct_buy", args=[on_sale.pk])).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(reverse("direct_result", args=[checkout.reference])).status_code == 200
