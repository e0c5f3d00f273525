"""Tiki connector against its sandbox, over real HTTP (docs/connectors/tiki.md).

Tiki has no request signing and no webhooks (marketplaces.md §4): instead of signing vectors the
tests cover the OAuth client authentication, and instead of webhooks the event queue
(at-least-once delivery until acked)."""

import datetime
import io
import urllib.parse
import uuid
from decimal import Decimal

import pytest
import requests
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext
from PIL import Image

from config.settings.base import sandbox_marketplaces
from marketplace_sync.connectors import tiki as tiki_module
from marketplace_sync.connectors.base import (
    AuthorizationRevoked,
    ImageFile,
    ListingPayload,
    ListingStatus,
    OrderStatus,
    PermanentError,
    RateLimited,
    ShopCredentials,
    TokenExpired,
    TransientError,
    Transport,
    WebhookRejected,
)
from marketplace_sync.connectors.tiki import TikiConnector
from marketplace_sync.sandbox.base import SandboxServer
from marketplace_sync.sandbox.tiki import TikiSandbox

CATEGORY = "8292"  # a Tiki leaf proposed in data/marketplaces/ocop_category_map.csv


@pytest.fixture(scope="module")
def server():
    sandbox = TikiSandbox(credentials=settings.SANDBOX_CREDENTIALS["tiki"], review_seconds=0.2)
    with SandboxServer({"tiki": sandbox}) as running:
        yield running


@pytest.fixture
def base_url(server):
    url = server.url("tiki")
    # The sandbox allows 10 requests per second per shop; tests other than the rate-limit one
    # should not trip over it.
    requests.post(f"{url}/_sandbox/faults", json={"requests_per_second": 1000}, timeout=5)
    yield url
    requests.post(f"{url}/_sandbox/faults", json={}, timeout=5)


@pytest.fixture
def config(server, base_url):
    return sandbox_marketplaces("127.0.0.1", {**settings.SANDBOX_PORTS, "tiki": server.ports["tiki"]})["tiki"]


@pytest.fixture
def connector(config):
    return TikiConnector(config)


def authorize(connector, *, shop_name=None, state="state-1234567890"):
    """The whole consent dance: our URL → Tiki's page → the seller agrees → redirect back."""
    redirect_uri = "https://ocop.example.vn/marketplaces/tiki/callback"
    url = connector.authorization_url(redirect_uri=redirect_uri, state=state)
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "<form" in page.text
    form = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    form["shop_name"] = shop_name or f"HTX {uuid.uuid4().hex[:8]}"
    answer = requests.post(url.split("?")[0], data=form, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    return query, redirect_uri


def connect(connector) -> ShopCredentials:
    query, redirect_uri = authorize(connector)
    grant = connector.exchange_code(query=query, redirect_uri=redirect_uri)
    return ShopCredentials(grant.shop_id, grant.access_token, grant.refresh_token, dict(grant.extra))


def jpeg(width=800, height=800) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 150, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def payload(sku=None, **changes) -> ListingPayload:
    values = {
        "sku": sku or f"OCOP-{uuid.uuid4().hex[:8]}",
        "title": "Mật ong rừng Bát Xát 500 ml",
        "description": "Mật ong rừng nguyên chất của hợp tác xã Bát Xát, sản phẩm OCOP 4 sao.",
        "category_id": CATEGORY,
        "price_vnd": 250000,
        "stock": 30,
        "weight_grams": 750,
        "length_cm": Decimal("10"),
        "width_cm": Decimal("10"),
        "height_cm": Decimal("15.5"),
        "images": (ImageFile("mat-ong.jpg", jpeg(), "https://ocop.example.vn/media/mat-ong.jpg"),),
        "brand": "HTX Bát Xát",
    }
    values.update(changes)
    return ListingPayload(**values)


def sandbox_items(base_url, shop_id):
    return requests.get(f"{base_url}/_sandbox/items", params={"shop_id": shop_id}, timeout=5).json()["items"]


def review_now(base_url):
    requests.post(f"{base_url}/_sandbox/review", json={}, timeout=5)


def live_listing(connector, base_url, credentials, sku=None):
    created = connector.create_listing(credentials, payload(sku))
    review_now(base_url)
    return connector.get_listing(credentials, created.external_id)


# --- No signing, no push --------------------------------------------------------------------------


def test_tiki_has_no_webhook_push(connector):
    """§4: notifications come from the event queue; any push is refused whatever it carries."""
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(body=b'{"id":"1"}', headers={"Authorization": "Bearer x"}, url="https://x")


def test_parse_webhook_reads_the_event_queue_shape(connector):
    body = (
        b'{"events":[{"id":"a061c904","sid":"74334E86","created_at":1740438118300,'
        b'"payload":{"order_code":"510916693","status":"picking"},"type":"ORDER_STATUS_UPDATED","version":"v1"}],'
        b'"ack_id":"4c63bbb7"}'
    )
    [event] = connector.parse_webhook(body)
    assert (event.event_id, event.kind, event.order_id, event.status) == ("a061c904", "order", "510916693", "picking")
    assert event.occurred_at == datetime.datetime(2025, 2, 24, 23, 1, 58, 300000, tzinfo=datetime.UTC)
    with pytest.raises(WebhookRejected):
        connector.parse_webhook(b"not json")


# --- Authorisation ----------------------------------------------------------------------------------


def test_authorization_end_to_end_and_refresh(connector, base_url):
    query, redirect_uri = authorize(connector, state="csrf-state-42")
    assert query["state"] == "csrf-state-42" and query["code"] and "offline" in query["scope"]
    # The code is bound to the redirect URI it was issued for.
    other_query, _ = authorize(connector)
    with pytest.raises(PermanentError) as error:
        connector.exchange_code(query=other_query, redirect_uri="https://elsewhere.example.vn/cb")
    assert error.value.code == "invalid_grant"
    grant = connector.exchange_code(query=query, redirect_uri=redirect_uri)
    assert grant.shop_id.isdigit() and grant.shop_name.startswith("HTX ")
    assert grant.access_token and grant.refresh_token
    assert grant.access_expires_at > datetime.datetime.now(datetime.UTC)
    assert grant.extra["queue_code"] and grant.extra["warehouse_id"].isdigit()
    # The code is single use.
    with pytest.raises(PermanentError) as error:
        connector.exchange_code(query=query, redirect_uri=redirect_uri)
    assert error.value.code == "invalid_grant"

    credentials = ShopCredentials(grant.shop_id, grant.access_token, grant.refresh_token, dict(grant.extra))
    renewed = connector.refresh(credentials)
    assert renewed.access_token != grant.access_token and renewed.refresh_token != grant.refresh_token
    assert renewed.extra["queue_code"] == grant.extra["queue_code"]
    # Refresh tokens rotate: the used one is refused.
    with pytest.raises(AuthorizationRevoked):
        connector.refresh(credentials)


def test_authorization_page_refuses_a_short_state(connector):
    url = connector.authorization_url(redirect_uri="https://ocop.example.vn/cb", state="short")
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_state"


def test_wrong_client_secret_is_refused(config, connector):
    credentials = connect(connector)
    wrong = TikiConnector({**config, "CLIENT_SECRET": "not-the-secret"})
    with pytest.raises(PermanentError) as error:
        wrong.refresh(credentials)
    assert error.value.code == "invalid_client" and error.value.http_status == 401
    assert not isinstance(error.value, AuthorizationRevoked)


# --- Listings -----------------------------------------------------------------------------------------


def test_listing_lifecycle(connector, base_url):
    credentials = connect(connector)
    item = payload()
    created = connector.create_listing(credentials, item)
    assert created.external_id.startswith("trk-") and created.status == ListingStatus.IN_REVIEW
    [stored] = sandbox_items(base_url, credentials.shop_id)
    assert stored["original_sku"] == item.sku and stored["image"] == item.images[0].url
    assert stored["attributes"]["product_weight_kg"] == 0.75 and stored["quantity"] == 30

    review_now(base_url)
    live = connector.get_listing(credentials, created.external_id)
    assert live.status == ListingStatus.LIVE and live.external_id.isdigit() and live.sku_id == live.external_id
    assert live.url.endswith(f"/_sandbox/product/{live.external_id}")
    assert sandbox_items(base_url, credentials.shop_id)[0]["active"] == 1  # activated after approval

    found = connector.find_by_sku(credentials, item.sku)
    assert (found.external_id, found.status) == (live.external_id, ListingStatus.LIVE)
    assert connector.find_by_sku(credentials, "NO-SUCH-SKU") is None

    changed = payload(item.sku, description="Mật ong rừng nguyên chất, thu hoạch mùa xuân trên núi cao.")
    updated = connector.update_listing(credentials, live, changed)
    assert updated.status == ListingStatus.LIVE
    assert sandbox_items(base_url, credentials.shop_id)[0]["description"] == changed.description

    connector.update_offer(credentials, live, price_vnd=199000, stock=7)
    [stored] = sandbox_items(base_url, credentials.shop_id)
    assert (stored["price"], stored["quantity"]) == (199000, 7)

    withdrawn = connector.withdraw_listing(credentials, live)
    assert withdrawn.status == ListingStatus.WITHDRAWN
    assert sandbox_items(base_url, credentials.shop_id)[0]["active"] == 0
    # A product id is never activated again behind the seller's back.
    assert connector.get_listing(credentials, live.external_id).status == ListingStatus.WITHDRAWN


def test_offer_waits_while_tiki_reviews(connector, base_url, server):
    credentials = connect(connector)
    server.sandboxes["tiki"].review_seconds = 60
    try:
        created = connector.create_listing(credentials, payload())
        with pytest.raises(TransientError) as error:
            connector.update_offer(credentials, created, price_vnd=1000, stock=1)
        assert error.value.code == "in_review" and not isinstance(error.value, RateLimited)
    finally:
        server.sandboxes["tiki"].review_seconds = 0.2


# --- Faults -----------------------------------------------------------------------------------------------


def test_expired_token_then_refresh(connector, base_url):
    credentials = connect(connector)
    live = live_listing(connector, base_url, credentials)
    requests.post(f"{base_url}/_sandbox/expire-token", json={"shop_id": credentials.shop_id}, timeout=5)
    with pytest.raises(TokenExpired) as error:
        connector.get_listing(credentials, live.external_id)
    assert error.value.http_status == 401
    grant = connector.refresh(credentials)
    fresh = ShopCredentials(credentials.shop_id, grant.access_token, grant.refresh_token, dict(grant.extra))
    assert connector.get_listing(fresh, live.external_id).status == ListingStatus.LIVE


def test_rate_limit(connector, base_url):
    credentials = connect(connector)
    live = live_listing(connector, base_url, credentials)
    requests.post(f"{base_url}/_sandbox/faults", json={"requests_per_second": 2}, timeout=5)
    with pytest.raises(RateLimited) as error:
        for _ in range(6):
            connector.get_listing(credentials, live.external_id)
    assert error.value.code == "429" and error.value.retry_after == 1.0


def test_server_errors_are_transient(connector, base_url):
    credentials = connect(connector)
    requests.post(f"{base_url}/_sandbox/faults", json={"error_rate": 1}, timeout=5)
    with pytest.raises(TransientError) as error:
        connector.find_by_sku(credentials, "ANY")
    assert error.value.http_status == 500


def test_timeout_after_create_is_adopted_not_duplicated(config, connector, base_url):
    credentials = connect(connector)
    item = payload()
    requests.post(f"{base_url}/_sandbox/faults", json={"timeout_after_create_s": 2, "requests_per_second": 1000},
                  timeout=5)  # fmt: skip
    slow = TikiConnector(config, Transport(timeout=(1, 1)))
    with pytest.raises(TransientError) as error:
        slow.create_listing(credentials, item)
    assert error.value.code == "timeout"
    review_now(base_url)
    found = connector.find_by_sku(credentials, item.sku)
    assert found is not None and found.external_id.startswith("req-")  # approved, not yet activated
    assert len(sandbox_items(base_url, credentials.shop_id)) == 1
    assert connector.get_listing(credentials, found.external_id).status == ListingStatus.LIVE


# --- Validation --------------------------------------------------------------------------------------------


def test_sandbox_refuses_what_check_reports(connector, base_url):
    credentials = connect(connector)
    short = payload(title="Mơ")
    with translation.override("vi"):
        expected = gettext("Product names on Tiki need %(min)d to %(max)d characters; this one has %(count)d.") % {
            "min": 3,
            "max": 255,
            "count": 2,
        }
        assert expected in connector.check(short)
    with pytest.raises(PermanentError) as error:
        connector.create_listing(credentials, short)  # check() bypassed: Tiki itself refuses
    assert error.value.code == "422" and "name must be between 3 and 255" in error.value.message

    with pytest.raises(PermanentError) as error:
        connector.create_listing(credentials, payload(category_id="999999999"))
    assert error.value.code == "404" and "Attributes not found for category_id" in error.value.message
    assert sandbox_items(base_url, credentials.shop_id) == []


def test_check_rules(connector):
    assert connector.check(payload()) == []
    bad = payload(
        description=" ",
        category_id="",
        price_vnd=0,
        weight_grams=0,
        height_cm=Decimal("0"),
        images=(
            ImageFile("small.jpg", jpeg(300, 300), "https://x.vn/small.jpg"),
            ImageFile("wide.jpg", jpeg(1200, 600), "https://x.vn/wide.jpg"),
            ImageFile("local.jpg", jpeg(), ""),
            ImageFile("broken.jpg", b"not an image", "https://x.vn/broken.jpg"),
        ),
    )
    with translation.override("en"):
        problems = " | ".join(connector.check(bad))
    for fragment in ("description", "category", "price above 0", "packed weight", "length, width and height",
                     "small.jpg is 300×300", "wide.jpg must be square", "local.jpg has no public address",
                     "broken.jpg could not be read"):  # fmt: skip
        assert fragment in problems
    assert connector.check(payload(images=())) == [gettext("Tiki needs at least one product photo.")]


def test_rejected_review_reports_the_reason(connector, base_url):
    credentials = connect(connector)
    created = connector.create_listing(credentials, payload(title="Mật ong rừng giảm giá 50% hôm nay"))
    review_now(base_url)
    rejected = connector.get_listing(credentials, created.external_id)
    assert rejected.status == ListingStatus.REJECTED and rejected.external_id.startswith("req-")
    assert "khuyến mãi" in rejected.reason
    # A rejected request cannot be edited: an update makes a new request.
    again = connector.update_listing(credentials, rejected, payload())
    assert again.external_id.startswith("trk-") and len(sandbox_items(base_url, credentials.shop_id)) == 2


def test_a_second_request_for_the_same_sku_is_rejected(connector, base_url):
    credentials = connect(connector)
    item = payload()
    connector.create_listing(credentials, item)
    second = connector.create_listing(credentials, item)
    review_now(base_url)
    rejected = connector.get_listing(credentials, second.external_id)
    assert rejected.status == ListingStatus.REJECTED and "không duy nhất" in rejected.reason


# --- Orders ----------------------------------------------------------------------------------------------------


def window():
    now = datetime.datetime.now(datetime.UTC)
    return {"updated_from": now - datetime.timedelta(hours=1), "updated_to": now + datetime.timedelta(minutes=5)}


def test_orders_fetch_and_status(connector, base_url):
    credentials = connect(connector)
    live = live_listing(connector, base_url, credentials)
    sku = sandbox_items(base_url, credentials.shop_id)[0]["original_sku"]
    order = requests.post(
        f"{base_url}/_sandbox/orders",
        json={"shop_id": credentials.shop_id, "lines": [{"sku": sku, "quantity": 2}], "status": "queueing"},
        timeout=5,
    ).json()
    page = connector.fetch_orders(credentials, **window())
    [remote] = page.orders
    assert page.next_cursor is None
    assert (remote.external_id, remote.status, remote.raw_status) == (order["code"], OrderStatus.PENDING, "queueing")
    assert remote.total_vnd == 500000 and remote.created_at.utcoffset() == datetime.timedelta(hours=7)
    [line] = remote.lines
    assert (line.sku, line.quantity, line.unit_price_vnd) == (sku, 2, 250000)
    assert live.status == ListingStatus.LIVE

    requests.post(f"{base_url}/_sandbox/orders/{order['code']}/status", json={"status": "canceled"}, timeout=5)
    assert connector.get_order(credentials, order["code"]).status == OrderStatus.CANCELLED
    # The window is [from, to): an order updated exactly at `to` belongs to the next window.
    stamp = connector.get_order(credentials, order["code"]).updated_at
    before = connector.fetch_orders(credentials, updated_from=stamp - datetime.timedelta(hours=1), updated_to=stamp)
    assert order["code"] not in [o.external_id for o in before.orders]
    after = connector.fetch_orders(credentials, updated_from=stamp, updated_to=stamp + datetime.timedelta(seconds=1))
    assert order["code"] in [o.external_id for o in after.orders]
    # Outside the window: nothing.
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)
    assert (
        connector.fetch_orders(credentials, updated_from=past, updated_to=past + datetime.timedelta(days=1)).orders
        == ()
    )


def test_order_paging_returns_each_order_once(config, base_url):
    connector = TikiConnector({**config, "ORDER_PAGE_SIZE": 2})
    credentials = connect(connector)
    live_listing(connector, base_url, credentials)
    sku = sandbox_items(base_url, credentials.shop_id)[0]["original_sku"]
    codes = {
        requests.post(
            f"{base_url}/_sandbox/orders",
            json={"shop_id": credentials.shop_id, "lines": [{"sku": sku, "quantity": 1}]},
            timeout=5,
        ).json()["code"]
        for _ in range(5)
    }
    seen, cursor, pages = [], None, 0
    while True:
        page = connector.fetch_orders(credentials, **window(), cursor=cursor)
        seen += [order.external_id for order in page.orders]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3 and sorted(seen) == sorted(codes)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("waiting_payment", OrderStatus.PENDING),
        ("queueing", OrderStatus.PENDING),
        ("payment_review", OrderStatus.PENDING),
        ("holded", OrderStatus.PENDING),
        ("processing", OrderStatus.PAID),
        ("paid", OrderStatus.PAID),
        ("packaging", OrderStatus.PAID),
        ("finished_packing", OrderStatus.PAID),
        ("ready_to_ship", OrderStatus.PAID),
        ("picking", OrderStatus.PAID),
        ("handover_to_partner", OrderStatus.PAID),
        ("shipping", OrderStatus.SHIPPED),
        ("successful_delivery", OrderStatus.COMPLETED),
        ("delivered", OrderStatus.COMPLETED),
        ("complete", OrderStatus.COMPLETED),
        ("canceled", OrderStatus.CANCELLED),
        ("closed", OrderStatus.CANCELLED),
        ("returned", OrderStatus.RETURNED),
    ],
)
def test_order_status_mapping(raw, status):
    assert tiki_module.map_order_status(raw) == status


def test_window_edges_in_vietnam_time():
    moment = datetime.datetime(2026, 1, 31, 17, 0, 0, tzinfo=datetime.UTC)
    assert tiki_module.tiki_time(moment) == "2026-02-01 00:00:00"
    assert tiki_module.tiki_time(moment - datetime.timedelta(microseconds=1)) == "2026-01-31 23:59:59"


# --- Event queue (Tiki's stand-in for webhooks) -------------------------------------------------------------


def test_event_queue_redelivers_until_acked(connector, base_url):
    credentials = connect(connector)
    live_listing(connector, base_url, credentials)
    sku = sandbox_items(base_url, credentials.shop_id)[0]["original_sku"]
    order = requests.post(
        f"{base_url}/_sandbox/orders",
        json={"shop_id": credentials.shop_id, "lines": [{"sku": sku, "quantity": 1}]},
        timeout=5,
    ).json()

    [created] = connector.pull_events(credentials)
    assert (created.kind, created.order_id, created.shop_id) == ("order", order["code"], credentials.shop_id)
    assert created.raw["type"] == "ORDER_CREATED_SUCCESSFULLY" and created.raw["ack_id"]
    # Not acked: delivered again, same event id (the engine stores each id once).
    [again] = connector.pull_events(credentials)
    assert again.event_id == created.event_id

    connector.ack_events(credentials, [again])
    assert connector.pull_events(credentials) == []

    requests.post(f"{base_url}/_sandbox/orders/{order['code']}/status", json={"status": "shipping"}, timeout=5)
    [updated] = connector.pull_events(credentials)
    assert (updated.raw["type"], updated.status, updated.order_id) == (
        "ORDER_STATUS_UPDATED",
        "shipping",
        order["code"],
    )
    assert updated.event_id != created.event_id
    connector.ack_events(credentials, [updated])
    assert connector.pull_events(credentials) == []


def test_queue_is_found_again_without_a_stored_code(connector, base_url):
    credentials = connect(connector)
    bare = ShopCredentials(credentials.shop_id, credentials.access_token, credentials.refresh_token, {})
    assert connector._queue_code(bare) == credentials.extra["queue_code"]
    assert connector.pull_events(bare) == []


def test_queue_needs_the_application_token(connector, base_url):
    credentials = connect(connector)
    answer = requests.post(
        f"{base_url}/integration/v1/queues/{credentials.extra['queue_code']}/events/pull",
        json={"ack_id": None},
        headers={"Authorization": f"Bearer {credentials.access_token}"},
        timeout=5,
    )
    assert answer.status_code == 403 and answer.json()["errors"]
