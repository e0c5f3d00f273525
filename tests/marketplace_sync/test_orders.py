"""Orders from the marketplaces: webhooks and polling, once each, never below zero stock."""

import datetime
import json

import pytest
import requests
from django.utils import timezone

from catalog.models import Offer
from marketplace_sync import services
from marketplace_sync.connectors.base import OrderStatus, RemoteOrder, RemoteOrderLine
from marketplace_sync.models import InboundEvent, Listing, Order

from .conftest import approve, connect_shop, listing_states, sellable_product, wait_until

# serialized_rollback: data migrations (groups, channels, the workflow) survive the flush.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.celery_worker]


@pytest.fixture
def live_on_shopee(client, sandboxes, worker, coop_a, member_a, officer):
    account = connect_shop(client, member_a, coop_a, "shopee")
    product = approve(sellable_product(coop_a, member_a, stock=10), officer)
    wait_until(lambda: listing_states(product).get("shopee") == Listing.Reported.LIVE, timeout=60, message="live")
    return account, product


def _stock(product) -> int:
    return Offer.objects.get(product=product).stock


def test_a_marketplace_order_arrives_by_webhook_and_lowers_stock_everywhere(sandboxes, live_on_shopee):
    account, product = live_on_shopee
    sku = product.offer.sku

    sandboxes.control("shopee", "orders", {"shop_id": account.shop_id, "lines": [{"sku": sku, "quantity": 3}]})

    order = wait_until(lambda: Order.objects.filter(account=account).first(), timeout=30, message="order stored")
    assert order.cooperative_id == product.cooperative_id and order.is_sale
    assert order.lines.get().quantity == 3 and order.lines.get().product_id == product.pk
    wait_until(lambda: _stock(product) == 7, timeout=10, message="stock lowered")
    # and the new stock is pushed back to the marketplace
    wait_until(
        lambda: Listing.objects.get(product=product).synced_stock == 5,
        timeout=30,
        message="stock pushed (7 − buffer 2)",
    )


def test_the_same_order_by_webhook_and_by_polling_is_stored_once(sandboxes, live_on_shopee):
    account, product = live_on_shopee
    sandboxes.control("shopee", "faults", {"duplicate_webhook_rate": 1.0})
    sandboxes.control(
        "shopee", "orders", {"shop_id": account.shop_id, "lines": [{"sku": product.offer.sku, "quantity": 1}]}
    )
    wait_until(lambda: Order.objects.filter(account=account).exists(), timeout=30, message="order")

    services.orders_pull(account=account)
    services.orders_pull(account=account)

    assert Order.objects.filter(account=account).count() == 1
    assert _stock(product) == 9  # one unit, taken once


def test_a_lost_webhook_still_arrives_by_polling(sandboxes, live_on_shopee):
    account, product = live_on_shopee
    sandboxes.control("shopee", "faults", {"drop_webhook_rate": 1.0})
    sandboxes.control(
        "shopee", "orders", {"shop_id": account.shop_id, "lines": [{"sku": product.offer.sku, "quantity": 2}]}
    )
    assert not InboundEvent.objects.exists()

    services.orders_pull(account=account)

    assert Order.objects.filter(account=account).count() == 1
    assert _stock(product) == 8


@pytest.mark.parametrize(
    ("sandbox_status", "stored_status", "stock_after"),
    # A returned parcel may come back damaged: the cooperative counts it back in by hand.
    [("CANCELLED", Order.Status.CANCELLED, 10), ("TO_RETURN", Order.Status.RETURNED, 6)],
)
def test_a_cancelled_or_returned_order_is_not_a_sale(
    sandboxes, live_on_shopee, sandbox_status, stored_status, stock_after
):
    account, product = live_on_shopee
    created = sandboxes.control(
        "shopee", "orders", {"shop_id": account.shop_id, "lines": [{"sku": product.offer.sku, "quantity": 4}]}
    )
    wait_until(lambda: _stock(product) == 6, timeout=30, message="stock taken")

    sandboxes.control("shopee", f"orders/{created['id']}/status", {"status": sandbox_status})

    order = wait_until(
        lambda: Order.objects.filter(account=account, status=stored_status).first(),
        timeout=30,
        message=stored_status,
    )
    assert not order.is_sale
    assert not Order.objects.filter(account=account, status__in=Order.SALE_STATUSES).exists()
    wait_until(lambda: _stock(product) == stock_after, timeout=10, message=f"stock {stock_after}")


def test_out_of_order_reports_never_turn_an_order_back(sandboxes, live_on_shopee):
    account, product = live_on_shopee
    line = RemoteOrderLine(external_line_id="1", sku=product.offer.sku, quantity=1, unit_price_vnd=150_000)
    now = timezone.now()

    def report(status, minutes):
        return RemoteOrder(
            external_id="2611OOO",
            status=status,
            raw_status=status.value.upper(),
            created_at=now,
            updated_at=now + datetime.timedelta(minutes=minutes),
            total_vnd=150_000,
            lines=(line,),
        )

    services.order_upsert(account=account, channel=account.channel, cooperative_id=account.cooperative_id,
                          remote=report(OrderStatus.COMPLETED, 10))  # fmt: skip
    services.order_upsert(account=account, channel=account.channel, cooperative_id=account.cooperative_id,
                          remote=report(OrderStatus.PAID, 5))  # fmt: skip

    order = Order.objects.get(external_id="2611OOO")
    assert order.status == Order.Status.COMPLETED
    assert _stock(product) == 9


def test_two_orders_for_the_last_unit_never_drive_stock_below_zero(sandboxes, live_on_shopee):
    account, product = live_on_shopee
    Offer.objects.filter(product=product).update(stock=1)
    for external_id in ("A-1", "B-1"):
        services.order_upsert(
            account=account,
            channel=account.channel,
            cooperative_id=account.cooperative_id,
            remote=RemoteOrder(
                external_id=external_id,
                status=OrderStatus.PAID,
                raw_status="READY_TO_SHIP",
                created_at=timezone.now(),
                updated_at=timezone.now(),
                total_vnd=150_000,
                lines=(RemoteOrderLine("1", product.offer.sku, 1, 150_000),),
            ),
        )
    assert _stock(product) == 0
    assert Order.objects.filter(account=account).count() == 2


def test_a_forged_or_tampered_webhook_is_refused_and_nothing_is_recorded(live_server, sandboxes, live_on_shopee):
    account, _product = live_on_shopee
    body = json.dumps(
        {
            "data": {"ordersn": "FORGED1", "status": "READY_TO_SHIP", "update_time": 1},
            "shop_id": account.shop_id,
            "code": 3,
            "timestamp": 1,
        },  # fmt: skip
    ).encode()
    url = f"{live_server.url}/webhooks/shopee/"
    unsigned = requests.post(url, data=body, timeout=10)
    wrong = requests.post(url, data=body, headers={"Authorization": "0" * 64}, timeout=10)
    assert unsigned.status_code in (400, 401, 403) and wrong.status_code in (400, 401, 403)
    assert not InboundEvent.objects.filter(event_id__contains="FORGED1").exists()
    assert not Order.objects.filter(external_id="FORGED1").exists()
