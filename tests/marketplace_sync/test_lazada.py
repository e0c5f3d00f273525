"""Lazada connector against its sandbox, over real HTTP (marketplaces.md §2, §7)."""

import datetime
import io
import json
import threading
import time
import urllib.parse
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import polib
import pytest
import requests
from django.conf import settings
from django.utils import translation
from PIL import Image

from config.settings.base import sandbox_marketplaces
from marketplace_sync.connectors import lazada as lazada_module
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
from marketplace_sync.connectors.lazada import LazadaConnector, sign_push, sign_request
from marketplace_sync.sandbox import lazada as lazada_sandbox
from marketplace_sync.sandbox.base import SandboxServer
from marketplace_sync.sandbox.lazada import LazadaSandbox

REDIRECT_URI = "https://ocop.example/ket-noi/lazada/xong"
CATALOGUE = settings.BASE_DIR / "locale" / "vi" / "LC_MESSAGES" / "django.po"
HONEY = "24494"  # a leaf of data/marketplaces/lazada_categories_ph-region.csv (Groceries > … > Honey)
SPREADS = "24191"  # its parent, not a leaf


# --- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    sandbox = LazadaSandbox(credentials=settings.SANDBOX_CREDENTIALS["lazada"], review_seconds=0.2)
    with SandboxServer({"lazada": sandbox}) as running:
        yield running


@pytest.fixture
def base(server):
    return server.url("lazada")


@pytest.fixture(autouse=True)
def _calm_sandbox(server):
    yield
    requests.post(server.url("lazada") + "/_sandbox/faults", json={}, timeout=5)


@pytest.fixture
def config(server):
    return sandbox_marketplaces("127.0.0.1", {**settings.SANDBOX_PORTS, "lazada": server.ports["lazada"]})["lazada"]


class Spacing:
    """The engine's per-shop throttle in miniature: requests of one shop evenly spaced, under the
    sandbox's default 10 requests per second (the rate the Lazada channel is configured with),
    with room for the jitter between sending a request and the sandbox counting it."""

    def __init__(self, rate=8.0):
        self.interval, self.free, self.lock = 1 / rate, {}, threading.Lock()

    def __call__(self, key):
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.free.get(key, 0.0))
            self.free[key] = slot + self.interval
        time.sleep(max(0.0, slot - now))


def make_connector(config, *, timeout=(3.05, 15.0), throttle=True, **overrides):
    transport = Transport(timeout=timeout, throttle=Spacing()) if throttle else Transport(timeout=timeout)
    return LazadaConnector({**config, **overrides}, transport)


@pytest.fixture
def connector(config):
    return make_connector(config)


def authorise(connector, shop_name):
    url = connector.authorization_url(redirect_uri=REDIRECT_URI, state="st-123")
    page = requests.get(url, timeout=5)
    assert page.status_code == 200, page.text
    assert "Cấp quyền" in page.text
    consent = requests.post(url, data={"shop_name": shop_name}, allow_redirects=False, timeout=5)
    assert consent.status_code == 302
    location = consent.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    return connector.exchange_code(query=query, redirect_uri=REDIRECT_URI), query


def credentials_of(grant):
    return ShopCredentials(
        shop_id=grant.shop_id, access_token=grant.access_token, refresh_token=grant.refresh_token, extra=grant.extra
    )


@pytest.fixture
def shop(connector, request):
    grant, _ = authorise(connector, f"HTX {request.node.name}")
    return credentials_of(grant)


def picture(size=(800, 800), color=(200, 150, 40), kind="JPEG"):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, kind)
    return buffer.getvalue()


DESCRIPTION = (
    "Mật ong hoa nhãn của Hợp tác xã Ong mật Hưng Yên, sản phẩm OCOP 4 sao.\n"
    "Mật lấy từ đàn ong nuôi dưới vườn nhãn, không pha đường.\n\n"
    "Chai thủy tinh 500 ml, bảo quản nơi khô ráo, tránh ánh nắng."
)


def payload(sku, **overrides):
    values = {
        "sku": sku,
        "title": "Mật ong hoa nhãn Hưng Yên OCOP 4 sao 500ml",
        "description": DESCRIPTION,
        "category_id": HONEY,
        "price_vnd": 150_000,
        "stock": 20,
        "weight_grams": 743,
        "length_cm": Decimal("20"),
        "width_cm": Decimal("8.5"),
        "height_cm": Decimal("8.125"),
        "images": (
            ImageFile("mat-ong-1.jpg", picture()),
            ImageFile("mat-ong-2.jpg", picture(color=(90, 60, 20))),
            ImageFile("mat-ong-1-again.jpg", picture()),  # the same photo twice
        ),
    }
    values.update(overrides)
    return ListingPayload(**values)


def sandbox_items(base, shop_id=None):
    params = {"shop_id": shop_id} if shop_id else {}
    return requests.get(f"{base}/_sandbox/items", params=params, timeout=5).json()["items"]


def force_review(base):
    requests.post(f"{base}/_sandbox/review", json={}, timeout=5)


def live_item(connector, shop, base, sku):
    remote = connector.create_listing(shop, payload(sku))
    force_review(base)
    return remote


def _expected_vietnamese(msgid, params):
    """The Vietnamese sentence once the catalogue has it; until /work/tmp/po/lazada.po is merged
    into it Django falls back to the English msgid, which this then expects."""
    entry = polib.pofile(str(CATALOGUE)).find(msgid)
    return (entry.msgstr if entry and entry.translated() else msgid) % params


# --- 1. signing ----------------------------------------------------------------------------------------------

VECTOR_PAYLOAD = '{"Request":{"Product":{"Skus":{"Sku":[{"SellerSku":"SKU-1","quantity":"5","price":"100000"}]}}}}'
VECTOR_PARAMS = {
    "app_key": "123456",
    "access_token": "test",
    "timestamp": "1517820392000",
    "sign_method": "sha256",
    "payload": VECTOR_PAYLOAD,
}
VECTOR_SIGN = "80D91AC8E519AC0F385A9087322740F7DC4651CEA9FFE1148EC75D2C342E4E50"
PUSH_BODY = (
    b'{"seller_id":"1234567","message_type":0,"data":{"order_status":"unpaid","trade_order_id":"260422900198363",'
    b'"trade_order_line_id":"260422900298363","status_update_time":1603698638},"timestamp":1603766859530,'
    b'"site":"lazada_vn"}'
)


def test_request_signature_matches_the_reference_vector():
    # marketplaces.md §2.3 / §7 row 10
    assert sign_request("helloworld", "/product/price_quantity/update", dict(VECTOR_PARAMS)) == VECTOR_SIGN


def test_request_signature_leaves_out_sign_and_depends_on_the_api_path():
    assert sign_request("helloworld", "/product/price_quantity/update", {**VECTOR_PARAMS, "sign": "X"}) == VECTOR_SIGN
    assert sign_request("helloworld", "/product/update", dict(VECTOR_PARAMS)) != VECTOR_SIGN


def test_push_signature_matches_the_reference_vector():
    # marketplaces.md §2.8
    expected = "59e04e1b1f307b7180fd58126161907cd20d33ac17cbce90ec2ae19907e701e6"
    assert sign_push("123456", "3412gyo124goi3124", PUSH_BODY) == expected


def test_the_sandbox_signs_the_vectors_independently():
    assert lazada_sandbox.lazop_sign("helloworld", "/product/price_quantity/update", dict(VECTOR_PARAMS)) == VECTOR_SIGN
    expected = "59e04e1b1f307b7180fd58126161907cd20d33ac17cbce90ec2ae19907e701e6"
    assert lazada_sandbox.push_signature("123456", "3412gyo124goi3124", PUSH_BODY) == expected


# --- 2. authorisation ----------------------------------------------------------------------------------


def test_authorisation_end_to_end_and_refresh(connector):
    before = datetime.datetime.now(datetime.UTC)
    url = connector.authorization_url(redirect_uri=REDIRECT_URI, state="st-123")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query == {
        "response_type": "code",
        "force_auth": "true",
        "redirect_uri": REDIRECT_URI,
        "client_id": settings.SANDBOX_CREDENTIALS["lazada"]["APP_KEY"],
        "state": "st-123",
    }

    grant, back = authorise(connector, "HTX Ong mật Hưng Yên")

    assert back["state"] == "st-123" and back["code"]
    assert grant.shop_id and grant.access_token and grant.refresh_token
    assert grant.extra["seller_id"] == grant.shop_id
    assert grant.extra["account"].endswith("@sandbox.lazada.vn")
    assert abs(grant.access_expires_at - (before + datetime.timedelta(days=7))) < datetime.timedelta(minutes=1)
    assert abs(grant.refresh_expires_at - (before + datetime.timedelta(days=30))) < datetime.timedelta(minutes=1)
    assert grant.authorization_expires_at == grant.refresh_expires_at

    with pytest.raises(PermanentError) as reused:  # the code is single use
        connector.exchange_code(query=back, redirect_uri=REDIRECT_URI)
    assert reused.value.code == "InvalidCode"

    refreshed = connector.refresh(credentials_of(grant))
    assert refreshed.shop_id == grant.shop_id
    assert refreshed.access_token not in ("", grant.access_token)
    # Lazada resets the access token's lifetime, not the refresh token's.
    assert abs(refreshed.refresh_expires_at - grant.refresh_expires_at) < datetime.timedelta(seconds=5)
    assert connector.find_by_sku(credentials_of(refreshed), "NOTHING") is None


def test_an_unknown_refresh_token_means_the_shop_must_connect_again(connector, shop):
    with pytest.raises(AuthorizationRevoked) as revoked:
        connector.refresh(ShopCredentials(shop_id=shop.shop_id, access_token="x", refresh_token="not-a-token"))
    assert revoked.value.code == "IllegalRefreshToken"


# --- 3. listing lifecycle -------------------------------------------------------------------------------


def test_listing_lifecycle(connector, shop, base):
    assert connector.check(payload("MO-500")) == []

    created = connector.create_listing(shop, payload("MO-500"))

    assert (created.status, created.raw_status) == (ListingStatus.IN_REVIEW, "Pending QC")
    assert created.sku_id and created.url.endswith(f"/_sandbox/product/{created.external_id}")
    [item] = sandbox_items(base, shop.shop_id)
    # Units as Lazada wants them (§2.7): cm and kg with two decimals, whole VND, strings.
    assert (item["package_length"], item["package_width"], item["package_height"]) == ("20.00", "8.50", "8.13")
    assert item["package_weight"] == "0.75"  # 743 g, rounded up to the next 10 g
    assert (item["price"], item["quantity"], item["seller_sku"]) == ("150000", 20, "MO-500")
    assert len(item["images"]) == 2 and all(url.startswith("https://vn-live.slatic.net/p/") for url in item["images"])
    assert item["attributes"]["brand_id"] == "0"
    assert item["attributes"]["description"].startswith("<p>Mật ong hoa nhãn")

    force_review(base)
    live = connector.get_listing(shop, created.external_id)
    assert (live.status, live.raw_status, live.sku_id) == (ListingStatus.LIVE, "Active", created.sku_id)
    requests.get(live.url, timeout=5).raise_for_status()

    found = connector.find_by_sku(shop, "MO-500")
    assert (found.external_id, found.status) == (created.external_id, ListingStatus.LIVE)
    assert connector.find_by_sku(shop, "MO-5") is None  # whole SKUs only

    updated = connector.update_listing(shop, found, payload("MO-500", title="Mật ong hoa nhãn Hưng Yên 500ml"))
    assert updated.status == ListingStatus.LIVE
    [item] = sandbox_items(base, shop.shop_id)
    assert item["attributes"]["name"] == "Mật ong hoa nhãn Hưng Yên 500ml"

    connector.update_offer(shop, found, price_vnd=175_000, stock=7)
    [item] = sandbox_items(base, shop.shop_id)
    assert (item["price"], item["quantity"]) == ("175000", 7)

    withdrawn = connector.withdraw_listing(shop, found)
    assert (withdrawn.status, withdrawn.raw_status) == (ListingStatus.WITHDRAWN, "InActive")
    again = connector.withdraw_listing(shop, found)  # Lazada: E0004 "Product Status not online"
    assert again.status == ListingStatus.WITHDRAWN


def test_update_offer_finds_the_sku_when_it_is_not_known(connector, shop, base):
    created = live_item(connector, shop, base, "MO-NOSKU")
    bare = type(created)(external_id=created.external_id, status=created.status)
    connector.update_offer(shop, bare, price_vnd=99_000, stock=0)
    [item] = sandbox_items(base, shop.shop_id)
    assert (item["price"], item["quantity"]) == ("99000", 0)


def test_a_shop_does_not_see_another_shops_items(connector, shop, base):
    created = live_item(connector, shop, base, "MO-MINE")
    other, _ = authorise(connector, "HTX khác")
    assert connector.find_by_sku(credentials_of(other), "MO-MINE") is None
    with pytest.raises(PermanentError) as missing:
        connector.get_listing(credentials_of(other), created.external_id)
    assert missing.value.code == "208"


# --- 4. faults ---------------------------------------------------------------------------------------------


def test_a_wrong_app_secret_is_refused_with_lazadas_signature_error(config, shop):
    wrong = make_connector(config, APP_SECRET="not-the-secret")
    with pytest.raises(PermanentError) as refused:
        wrong.find_by_sku(shop, "X")
    assert refused.value.code == "IncompleteSignature"
    assert not isinstance(refused.value, TokenExpired | TransientError)


def test_a_stale_timestamp_is_refused(connector, shop, monkeypatch):
    monkeypatch.setattr(lazada_module, "clock", lambda: time.time() - 7300)
    with pytest.raises(PermanentError) as refused:
        connector.find_by_sku(shop, "X")
    assert refused.value.code == "InvalidTimestamp"


def test_a_missing_system_parameter_is_refused(base, shop):
    answer = requests.get(f"{base}/rest/products/get", params={"access_token": shop.access_token}, timeout=5).json()
    assert answer["code"] == "MissingParameter" and answer["type"] == "ISV" and answer["request_id"]


def test_an_expired_token_is_refreshed_once(connector, shop, base):
    requests.post(f"{base}/_sandbox/expire-token", json={"shop_id": shop.shop_id}, timeout=5)
    with pytest.raises(TokenExpired) as expired:
        connector.find_by_sku(shop, "X")
    assert expired.value.code == "IllegalAccessToken"
    fresh = credentials_of(connector.refresh(shop))
    assert connector.find_by_sku(fresh, "X") is None


def test_burst_over_the_rate_limit_is_rate_limited(config, shop, base):
    unthrottled = make_connector(config, throttle=False)
    requests.post(f"{base}/_sandbox/faults", json={"requests_per_second": 2}, timeout=5)
    with pytest.raises(RateLimited) as limited:
        for _ in range(6):
            unthrottled.find_by_sku(shop, "X")
    assert (limited.value.code, limited.value.retry_after) == ("901", 1.0)


def test_server_errors_are_transient(connector, shop, base):
    requests.post(f"{base}/_sandbox/faults", json={"error_rate": 1}, timeout=5)
    with pytest.raises(TransientError) as failed:
        connector.find_by_sku(shop, "X")
    assert not isinstance(failed.value, RateLimited)
    assert (failed.value.code, failed.value.http_status) == ("6", 500)


def test_create_whose_answer_was_lost_is_found_by_sku(config, shop, base):
    impatient = make_connector(config, timeout=(1, 1))
    requests.post(f"{base}/_sandbox/faults", json={"timeout_after_create_s": 2}, timeout=5)
    with pytest.raises(TransientError) as lost:
        impatient.create_listing(shop, payload("MO-TIMEOUT"))
    assert lost.value.code == "timeout"
    found = impatient.find_by_sku(shop, "MO-TIMEOUT")
    assert found is not None and found.status in (ListingStatus.IN_REVIEW, ListingStatus.LIVE)
    [item] = sandbox_items(base, shop.shop_id)
    assert str(item["item_id"]) == found.external_id
    with pytest.raises(PermanentError) as duplicate:  # creating it again would be refused anyway
        impatient.create_listing(shop, payload("MO-TIMEOUT"))
    assert duplicate.value.code == "4105"


# --- 5. validation -----------------------------------------------------------------------------------------


def test_an_overweight_parcel_is_refused_by_lazada_and_reported_before_sending(connector, shop, base):
    heavy = payload("MO-HEAVY", weight_grams=41_000)
    with translation.override("vi"):
        problems = connector.check(heavy)
    msgid = "Lazada does not accept packages over %(max)s kg without special permission; this one weighs %(weight)s kg."
    assert problems == [_expected_vietnamese(msgid, {"max": Decimal(40), "weight": "41.00"})]

    with pytest.raises(PermanentError) as refused:  # check() bypassed
        connector.create_listing(shop, heavy)
    assert refused.value.code == "4164"
    assert "BIZ_CHECK_MAX_PACKAGE_WEIGHT" in refused.value.message
    assert sandbox_items(base, shop.shop_id) == []


def test_categories_must_be_known_leaves(connector, shop, base):
    with pytest.raises(PermanentError) as parent:
        connector.create_listing(shop, payload("MO-CAT", category_id=SPREADS))
    assert parent.value.code == "4134"
    with pytest.raises(PermanentError) as unknown:
        connector.create_listing(shop, payload("MO-CAT", category_id="99999999"))
    assert unknown.value.code == "201"
    with translation.override("vi"):
        problems = connector.check(payload("MO-CAT", category_id=" "))
    msgid = "Choose the Lazada category for this product before listing it."
    assert problems == [_expected_vietnamese(msgid, {})]
    assert sandbox_items(base, shop.shop_id) == []


def test_photos_are_checked_and_a_product_without_photo_is_refused(connector, shop, base):
    small = payload("MO-IMG", images=(ImageFile("nho.jpg", picture(size=(300, 600))),))
    with translation.override("vi"):
        problems = connector.check(small)
    msgid = (
        "Photo %(number)d is %(width)d×%(height)d pixels; Lazada needs each side between %(min)d and %(max)d pixels."
    )
    sizes = {"number": 1, "width": 300, "height": 600, "min": 330, "max": 5000}
    assert problems == [_expected_vietnamese(msgid, sizes)]
    with pytest.raises(PermanentError) as too_small:  # check() bypassed: the upload itself is refused
        connector.create_listing(shop, small)
    assert too_small.value.code == "300"

    with pytest.raises(PermanentError) as none:
        connector.create_listing(shop, payload("MO-IMG", images=()))
    assert none.value.code == "4139"
    with translation.override("vi"):
        assert connector.check(payload("MO-IMG", images=())) == [
            _expected_vietnamese("Lazada needs at least one product photo. Please add a photo.", {})
        ]
    assert sandbox_items(base, shop.shop_id) == []


def test_a_long_name_is_reported_in_vietnamese(connector):
    with translation.override("vi"):
        problems = connector.check(payload("MO-LONG", title="Mật ong " * 40))
    msgid = "Lazada accepts product names of at most %(max)d characters; this one has %(count)d. Please shorten it."
    assert problems == [_expected_vietnamese(msgid, {"max": 255, "count": len(("Mật ong " * 40).strip())})]


# --- 6. review -----------------------------------------------------------------------------------------------


def test_a_rejected_review_is_reported_with_lazadas_reason_and_can_be_fixed(connector, shop, base):
    created = connector.create_listing(shop, payload("MO-SALE", title="Mật ong hoa nhãn giảm giá sốc 500ml"))
    force_review(base)

    rejected = connector.get_listing(shop, created.external_id)

    assert rejected.status == ListingStatus.REJECTED
    assert rejected.raw_status == "InActive (Reject)"
    assert rejected.reason.startswith("Wrong Product Name:Promotional wording")
    assert "giảm giá" in rejected.reason  # Lazada's suggestion travels with it

    fixed = connector.update_listing(shop, rejected, payload("MO-SALE"))
    assert fixed.status == ListingStatus.IN_REVIEW
    force_review(base)
    assert connector.get_listing(shop, created.external_id).status == ListingStatus.LIVE


# --- 7. orders -----------------------------------------------------------------------------------------------


def window():
    now = datetime.datetime.now(datetime.UTC)
    return {"updated_from": now - datetime.timedelta(hours=1), "updated_to": now + datetime.timedelta(hours=1)}


def new_order(base, shop, lines, status=""):
    answer = requests.post(
        f"{base}/_sandbox/orders", json={"shop_id": shop.shop_id, "lines": lines, "status": status}, timeout=5
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_orders_come_with_lines_total_and_status(connector, shop, base):
    live_item(connector, shop, base, "MO-ORDER")
    order = new_order(base, shop, [{"sku": "MO-ORDER", "quantity": 3}], status="unpaid")

    page = connector.fetch_orders(shop, **window())

    [remote] = page.orders
    assert page.next_cursor is None
    assert (remote.external_id, remote.status, remote.raw_status) == (order["id"], OrderStatus.PENDING, "unpaid")
    assert remote.total_vnd == 450_000
    [line] = remote.lines  # three order-item rows, one per unit, become one line
    assert (line.sku, line.quantity, line.unit_price_vnd) == ("MO-ORDER", 3, 150_000)
    assert line.external_line_id == min(row["order_item_id"] for row in order["items"])
    assert remote.created_at.tzinfo is not None

    # "pending" is a confirmed order waiting to be packed: a sale (paid online or cash on delivery)
    requests.post(f"{base}/_sandbox/orders/{order['id']}/status", json={"status": "pending"}, timeout=5)
    assert connector.get_order(shop, order["id"]).status == OrderStatus.PAID
    requests.post(f"{base}/_sandbox/orders/{order['id']}/status", json={"status": "canceled"}, timeout=5)
    [cancelled] = connector.fetch_orders(shop, **window()).orders
    assert (cancelled.status, cancelled.raw_status) == (OrderStatus.CANCELLED, "canceled")


def test_orders_outside_the_window_are_left_out(connector, shop, base):
    live_item(connector, shop, base, "MO-OLD")
    new_order(base, shop, [{"sku": "MO-OLD", "quantity": 1}])
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)
    page = connector.fetch_orders(shop, updated_from=past, updated_to=past + datetime.timedelta(minutes=30))
    assert page.orders == () and page.next_cursor is None


def test_paging_returns_each_order_once(config, shop, base):
    small_pages = make_connector(config, ORDERS_PAGE_SIZE=2)
    live_item(small_pages, shop, base, "MO-PAGE")
    created = {new_order(base, shop, [{"sku": "MO-PAGE", "quantity": 1}])["id"] for _ in range(5)}

    seen, cursor, pages = [], None, 0
    while True:
        page = small_pages.fetch_orders(shop, **window(), cursor=cursor)
        pages += 1
        seen.extend(order.external_id for order in page.orders)
        cursor = page.next_cursor
        if cursor is None:
            break

    assert pages == 3
    assert sorted(seen) == sorted(created)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["unpaid"], (OrderStatus.PENDING, "unpaid")),
        (["ready_to_ship", "packed"], (OrderStatus.PAID, "ready_to_ship")),
        (["shipped", "delivered"], (OrderStatus.SHIPPED, "shipped")),
        (["delivered", "canceled"], (OrderStatus.COMPLETED, "delivered")),
        (["canceled", "failed"], (OrderStatus.CANCELLED, "canceled")),
        (["returned", "canceled"], (OrderStatus.RETURNED, "returned")),
        (["returned", "delivered"], (OrderStatus.COMPLETED, "delivered")),
    ],
)
def test_an_orders_status_follows_its_items(statuses, expected):
    assert lazada_module._order_status(statuses) == expected


def test_an_unknown_order_status_is_not_guessed():
    with pytest.raises(PermanentError):
        lazada_module._order_status(["teleported"])


# --- 8. webhooks -----------------------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, body, dict(self.headers.items())))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(base):
    httpd = HTTPServer(("127.0.0.1", 0), _Receiver)
    httpd.received = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/webhooks/lazada/"
    requests.post(f"{base}/_sandbox/webhook-url", json={"url": url}, timeout=5)
    yield url, httpd.received
    requests.post(f"{base}/_sandbox/webhook-url", json={"url": ""}, timeout=5)
    httpd.shutdown()
    httpd.server_close()


def wait_for(received, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(received) >= count, received
    return received[:count]


def test_pushes_are_verified_and_parsed(connector, shop, base, receiver):
    url, received = receiver
    live_item(connector, shop, base, "MO-PUSH")
    order = new_order(base, shop, [{"sku": "MO-PUSH", "quantity": 2}], status="unpaid")

    deliveries = wait_for(received, 2)

    events = []
    for _path, body, headers in deliveries:
        connector.verify_webhook(body=body, headers=headers, url=url)
        events.extend(connector.parse_webhook(body))
    rows = {row["order_item_id"]: row for row in order["items"]}
    assert {event.event_id for event in events} == {
        f"{shop.shop_id}:{order['id']}:{line_id}:unpaid:{int(row['updated_at'])}" for line_id, row in rows.items()
    }
    event = events[0]
    assert (event.kind, event.shop_id, event.order_id, event.status) == ("order", shop.shop_id, order["id"], "unpaid")
    assert event.occurred_at is not None

    body, headers = deliveries[0][1], deliveries[0][2]
    tampered = body.replace(b'"unpaid"', b'"delivered"')
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(body=tampered, headers=headers, url=url)
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(body=body, headers={**headers, "Authorization": "0" * 64}, url=url)
    without = {key: value for key, value in headers.items() if key.lower() != "authorization"}
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(body=body, headers=without, url=url)


def test_an_old_push_is_refused_even_when_signed(connector, config):
    old = json.dumps(
        {"seller_id": "1", "message_type": 0, "data": {}, "timestamp": int((time.time() - 8 * 3600) * 1000)}
    ).encode()
    headers = {"Authorization": sign_push(config["APP_KEY"], config["APP_SECRET"], old)}
    with pytest.raises(WebhookRejected) as stale:
        connector.verify_webhook(body=old, headers=headers, url="https://ocop.example/webhooks/lazada/")
    assert stale.value.code == "stale"
