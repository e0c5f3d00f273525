"""Shopee connector against its sandbox, over real HTTP (marketplaces.md §1, §7)."""

import datetime
import io
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
from marketplace_sync.connectors import shopee as shopee_module
from marketplace_sync.connectors.base import (
    AuthorizationRevoked,
    ImageFile,
    ListingPayload,
    ListingStatus,
    OrderStatus,
    PermanentError,
    RateLimited,
    RemoteListing,
    ShopCredentials,
    TokenExpired,
    TransientError,
    Transport,
    WebhookRejected,
)
from marketplace_sync.connectors.shopee import ShopeeConnector, sign_push, sign_request
from marketplace_sync.sandbox.base import SandboxServer
from marketplace_sync.sandbox.shopee import ShopeeSandbox

DEMO_KEY = "57615053704d6470644f554a78656d50484143644964436a5568777544524579"  # guide 20 PHP demo key
REDIRECT_URI = "https://ocop.example/ket-noi/shopee/xong"
CATALOGUE = settings.BASE_DIR / "locale" / "vi" / "LC_MESSAGES" / "django.po"


# --- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    sandbox = ShopeeSandbox(credentials=settings.SANDBOX_CREDENTIALS["shopee"], review_seconds=0.2)
    with SandboxServer({"shopee": sandbox}) as running:
        yield running


@pytest.fixture
def base(server):
    return server.url("shopee")


@pytest.fixture(autouse=True)
def _calm_sandbox(server):
    yield
    requests.post(server.url("shopee") + "/_sandbox/faults", json={}, timeout=5)


@pytest.fixture
def config(server):
    return sandbox_marketplaces("127.0.0.1", {**settings.SANDBOX_PORTS, "shopee": server.ports["shopee"]})["shopee"]


class _EvenlySpaced:
    """What the sync engine's throttle does (marketplace_sync.ratelimit): requests of one shop
    evenly spaced under the sandbox's default 10 per second."""

    def __init__(self, rate=9.0):
        self.interval, self.free, self.lock = 1 / rate, {}, threading.Lock()

    def __call__(self, key):
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.free.get(key, 0.0))
            self.free[key] = slot + self.interval
        time.sleep(slot - now)


def make_connector(config, **transport):
    return ShopeeConnector(config, Transport(throttle=_EvenlySpaced(), **transport))


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
    return ShopCredentials(shop_id=grant.shop_id, access_token=grant.access_token, refresh_token=grant.refresh_token)


@pytest.fixture
def shop(connector, request):
    grant, _ = authorise(connector, f"HTX {request.node.name}")
    return credentials_of(grant)


def jpeg(size=(800, 800)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (160, 110, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


DESCRIPTION = (
    "Cà phê Robusta hạt rang mộc của Hợp tác xã Khe Sanh, sản phẩm OCOP 4 sao. Hạt được hái chín, "
    "phơi trên giàn và rang củi, không tẩm ướp. Túi 500 g, bảo quản nơi khô ráo."
)


def payload(sku, **overrides):
    values = {
        "sku": sku,
        "title": "Cà phê hạt rang mộc Khe Sanh OCOP 4 sao 500g",
        "description": DESCRIPTION,
        "category_id": "100824",
        "price_vnd": 185_000,
        "stock": 40,
        "weight_grams": 520,
        "length_cm": Decimal("20.5"),
        "width_cm": Decimal("12"),
        "height_cm": Decimal("6.2"),
        "images": (ImageFile("mat-truoc.jpg", jpeg()),),
    }
    return ListingPayload(**{**values, **overrides})


def sandbox_items(base, shop_id):
    return requests.get(f"{base}/_sandbox/items", params={"shop_id": shop_id}, timeout=5).json()["items"]


def review_now(base, item_id):
    requests.post(f"{base}/_sandbox/review", json={"item_id": item_id}, timeout=5)


# --- 1. signing --------------------------------------------------------------------------------------------


def test_sign_request_matches_the_reference_vectors():
    # §7 row 5 (shop API) and row 7 (public API), and the computed token/get vector of §1.3.
    assert (
        sign_request(
            2001887, DEMO_KEY, "/api/v2/shop/get_shop_info", 1655714431, "59777174636562737266615546704c6d", 14701711
        )
        == "b914bea03c13799deb036bb9d10e689f5a6bade160c44af568646f1ef7d796c1"
    )
    assert (
        sign_request(2001887, DEMO_KEY, "/api/v2/public/get_shops_by_partner", 1655714431)
        == "60ab8c4a535009ab33b8a0029ee18a667ef6eaeb16481ed3d573a5059122d4df"
    )
    assert (
        sign_request("2001887", DEMO_KEY, "/api/v2/auth/token/get", "1655714431")
        == "a04e209270a2b5ad27d10a237a3f4ba9715aa3f109de7c4d52973a17ddd932ee"
    )
    with pytest.raises(ValueError):
        sign_request(2001887, DEMO_KEY, "/api/v2/shop/get_shop_info", 1655714431, access_token="abc")


def test_sign_push_matches_the_reference_vectors():
    # §7 rows 8 and 9.
    url = "https://example.com/shopee/push"
    assert sign_push(DEMO_KEY, url, b'{"shop_id":123,"code":1}') == (
        "5f2ca9f6c64e58aa5af5d28ae9e62a49363df59072cdc501232e444720923f89"
    )
    guide_body = (
        b'{"shop_id": 123, "code": 1, "success": 1, "extra": "shop_id 123 is authorized successfully", '
        b'"data": {"more_info": "more info"}, "timestamp": 1470198856}'
    )
    assert sign_push(DEMO_KEY, url, guide_body) == "5d72f98932c644f0911b33571b2e0a37e2b3217600a41c08ba02a847b46e715e"


# --- 2. authorisation ----------------------------------------------------------------------------------------


def test_authorisation_round_trip_and_single_use_refresh_tokens(connector):
    started = datetime.datetime.now(datetime.UTC)
    grant, query = authorise(connector, "HTX Cà phê Khe Sanh")
    assert query["state"] == "st-123" and query["code"] and query["shop_id"] == grant.shop_id
    # A redirect URI that already carries the state keeps it once.
    link = connector.authorization_url(redirect_uri=REDIRECT_URI + "?state=st-9", state="st-9")
    redirect = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["redirect"][0]
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(redirect).query) == {"state": ["st-9"]}
    assert grant.access_token and grant.refresh_token and grant.shop_name == "HTX Cà phê Khe Sanh"
    assert (
        datetime.timedelta(hours=3, minutes=59)
        < grant.access_expires_at - started
        <= datetime.timedelta(hours=4, seconds=5)
    )
    assert datetime.timedelta(days=364) < grant.authorization_expires_at - started <= datetime.timedelta(days=366)

    # The code works once.
    with pytest.raises(PermanentError) as refused:
        connector.exchange_code(query=query, redirect_uri=REDIRECT_URI)
    assert refused.value.code == "error_auth"

    first = credentials_of(grant)
    renewed = connector.refresh(first)
    assert renewed.shop_id == grant.shop_id
    assert renewed.access_token != grant.access_token and renewed.refresh_token != grant.refresh_token
    assert connector.find_by_sku(credentials_of(renewed), "KHONG-CO") is None  # the new token works

    # Shopee refresh tokens are single use: the old one is refused the second time.
    with pytest.raises(AuthorizationRevoked) as revoked:
        connector.refresh(first)
    assert revoked.value.code == "error_auth"
    assert connector.refresh(credentials_of(renewed)).access_token


def test_authorisation_link_is_signed_and_expires(connector, base, monkeypatch):
    url = connector.authorization_url(redirect_uri=REDIRECT_URI, state="x")
    forged = url.replace("sign=", "sign=0")
    answer = requests.get(forged, timeout=5)
    assert answer.status_code == 403 and answer.json()["error"] == "error_sign"
    monkeypatch.setattr(shopee_module, "_clock", lambda: time.time() - 600)
    stale = requests.get(connector.authorization_url(redirect_uri=REDIRECT_URI, state="x"), timeout=5)
    assert stale.json() == {**stale.json(), "error": "error_param", "message": "Invalid timestamp"}


# --- 3. listing lifecycle ----------------------------------------------------------------------------------


def test_listing_lifecycle(connector, shop, base):
    sku = "KS-CF-500"
    good = payload(sku)
    assert connector.check(good) == []

    created = connector.create_listing(shop, good)
    assert created.status == ListingStatus.IN_REVIEW and created.raw_status == "REVIEWING"
    assert created.url == f"{base}/_sandbox/product/{created.external_id}"

    [item] = sandbox_items(base, shop.shop_id)
    assert item["weight"] == 0.52  # kg, float
    assert item["dimension"] == {"package_length": 21, "package_width": 12, "package_height": 7}  # cm, rounded up
    assert item["original_price"] == 185_000 and isinstance(item["original_price"], int)
    assert item["stock"] == 40 and item["item_sku"] == sku and item["category_id"] == 100824
    assert item["brand"] == {"brand_id": 0, "original_brand_name": "NoBrand"}
    assert {entry["logistic_id"] for entry in item["logistic_info"]} == {50011, 50012}
    assert len(item["image"]["image_id_list"]) == 1

    review_now(base, created.external_id)
    live = connector.get_listing(shop, created.external_id)
    assert live.status == ListingStatus.LIVE and live.raw_status == "NORMAL"

    found = connector.find_by_sku(shop, sku)
    assert found.external_id == created.external_id and found.status == ListingStatus.LIVE
    assert connector.find_by_sku(shop, "KS-KHAC") is None

    updated = connector.update_listing(shop, live, payload(sku, title="Cà phê Robusta rang mộc Khe Sanh 500g"))
    assert updated.status == ListingStatus.LIVE
    assert sandbox_items(base, shop.shop_id)[0]["item_name"] == "Cà phê Robusta rang mộc Khe Sanh 500g"

    connector.update_offer(shop, live, price_vnd=199_000, stock=7)
    [item] = sandbox_items(base, shop.shop_id)
    assert (item["original_price"], item["stock"]) == (199_000, 7)

    withdrawn = connector.withdraw_listing(shop, live)
    assert withdrawn.status == ListingStatus.WITHDRAWN and withdrawn.raw_status == "UNLIST"
    assert sandbox_items(base, shop.shop_id)[0]["item_status"] == "UNLIST"

    relisted = connector.update_listing(shop, withdrawn, good)
    assert relisted.status == ListingStatus.LIVE
    assert len(sandbox_items(base, shop.shop_id)) == 1


# --- 4. faults ---------------------------------------------------------------------------------------------


def test_wrong_partner_key_is_refused_with_the_sign_error(config, shop):
    wrong = make_connector({**config, "PARTNER_KEY": "6b65792d6f662d736f6d656f6e652d656c7365"})
    with pytest.raises(PermanentError) as refused:
        wrong.find_by_sku(shop, "X")
    assert (refused.value.code, refused.value.message, refused.value.http_status) == ("error_sign", "Wrong sign.", 403)
    assert not isinstance(refused.value, TokenExpired)


def test_stale_timestamp_is_refused(connector, shop, monkeypatch):
    monkeypatch.setattr(shopee_module, "_clock", lambda: time.time() - 301 - 5)
    with pytest.raises(PermanentError) as refused:
        connector.find_by_sku(shop, "X")
    assert (refused.value.code, refused.value.message) == ("error_param", "Invalid timestamp")


def test_expired_token_then_refresh(connector, shop, base):
    requests.post(f"{base}/_sandbox/expire-token", json={"shop_id": shop.shop_id}, timeout=5)
    with pytest.raises(TokenExpired) as expired:
        connector.find_by_sku(shop, "X")
    assert expired.value.code == "invalid_acceess_token"
    renewed = connector.refresh(shop)
    assert connector.find_by_sku(credentials_of(renewed), "X") is None


def test_burst_over_the_rate_limit_is_rate_limited(connector, shop, base):
    requests.post(f"{base}/_sandbox/faults", json={"requests_per_second": 2}, timeout=5)
    with pytest.raises(RateLimited) as limited:
        for _ in range(6):
            connector.find_by_sku(shop, "X")
    assert (limited.value.code, limited.value.http_status) == ("error_rate_limit", 429)


def test_server_errors_are_transient(connector, shop, base):
    requests.post(f"{base}/_sandbox/faults", json={"error_rate": 1}, timeout=5)
    with pytest.raises(TransientError) as failed:
        connector.find_by_sku(shop, "X")
    assert not isinstance(failed.value, RateLimited)
    assert (failed.value.code, failed.value.http_status) == ("error_server", 500)


def test_create_whose_answer_was_lost_is_found_by_sku(config, shop, base):
    impatient = make_connector(config, timeout=(1, 1))
    requests.post(f"{base}/_sandbox/faults", json={"timeout_after_create_s": 2}, timeout=5)
    with pytest.raises(TransientError) as lost:
        impatient.create_listing(shop, payload("KS-TIMEOUT"))
    assert lost.value.code == "timeout"
    found = impatient.find_by_sku(shop, "KS-TIMEOUT")
    assert found is not None and found.status in (ListingStatus.IN_REVIEW, ListingStatus.LIVE)
    [item] = sandbox_items(base, shop.shop_id)
    assert str(item["item_id"]) == found.external_id


# --- 5. validation -----------------------------------------------------------------------------------------


def _expected_vietnamese(msgid, params):
    """The Vietnamese sentence once the catalogue has it; until /work/tmp/po/shopee.po is merged
    into it Django falls back to the English msgid, which this then expects."""
    entry = polib.pofile(str(CATALOGUE)).find(msgid)
    return (entry.msgstr if entry and entry.translated() else msgid) % params


def test_short_name_is_refused_by_the_sandbox_and_reported_by_check(connector, shop, base):
    short = payload("KS-NGAN", title="Chè")
    with translation.override("vi"):
        problems = connector.check(short)
    msgid = "A product name on Shopee needs %(min)s to %(max)s characters; this one has %(count)s."
    assert problems == [_expected_vietnamese(msgid, {"min": 5, "max": 100, "count": 3})]

    with pytest.raises(PermanentError) as refused:  # check() bypassed
        connector.create_listing(shop, short)
    assert refused.value.code == "error_item_name_is_too_short"
    assert sandbox_items(base, shop.shop_id) == []


def test_weight_and_category_are_checked_by_the_sandbox(connector, shop, base):
    weightless = payload("KS-NHE", weight_grams=0)
    assert len(connector.check(weightless)) == 1
    with pytest.raises(PermanentError) as refused:
        connector.create_listing(shop, weightless)
    assert (refused.value.code, refused.value.message) == ("error_param", "Invalid Weight.")

    with pytest.raises(PermanentError) as refused:  # 100017 "Thời Trang Nữ" is not a leaf
        connector.create_listing(shop, payload("KS-GOC", category_id="100017"))
    assert refused.value.code == "error_invalid_category"
    assert sandbox_items(base, shop.shop_id) == []


def test_check_reports_every_blocking_rule(connector):
    bad = payload(
        "KS-XAU",
        title="x" * 101,
        description="#a " * 19,
        category_id="",
        price_vnd=20_000_000,
        stock=-1,
        length_cm=Decimal("0"),
        images=(ImageFile("a.gif", b"GIF89a" + b"0" * 100),) * 10,
    )
    problems = connector.check(bad)
    # name, hashtags, category, photo count, 10 × photo kind, price, stock, dimensions
    assert len(problems) == 17
    assert any("101" in problem for problem in problems)


# --- 6. review ------------------------------------------------------------------------------------------------


def test_rejected_review_is_reported_with_the_reason_and_can_be_fixed(connector, shop, base):
    spammy = payload("KS-SPAM", title="Mật ong rừng U Minh giảm giá sốc 0912345678")
    created = connector.create_listing(shop, spammy)
    review_now(base, created.external_id)
    rejected = connector.get_listing(shop, created.external_id)
    assert rejected.status == ListingStatus.REJECTED and rejected.raw_status == "BANNED"
    assert "Spam" in rejected.reason and "phone number" in rejected.reason

    fixed = connector.update_listing(shop, rejected, payload("KS-SPAM", title="Mật ong rừng U Minh OCOP 3 sao"))
    assert fixed.status in (ListingStatus.IN_REVIEW, ListingStatus.LIVE)  # reviewed again (0.2 s here)
    review_now(base, created.external_id)
    assert connector.get_listing(shop, created.external_id).status == ListingStatus.LIVE


# --- 7. orders ------------------------------------------------------------------------------------------------


def _live_item(connector, shop, base, sku):
    created = connector.create_listing(shop, payload(sku))
    review_now(base, created.external_id)
    return created


def _order(base, shop, sku, quantity, status):
    answer = requests.post(
        f"{base}/_sandbox/orders",
        json={"shop_id": shop.shop_id, "lines": [{"sku": sku, "quantity": quantity}], "status": status},
        timeout=5,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _window():
    now = datetime.datetime.now(datetime.UTC)
    return {"updated_from": now - datetime.timedelta(hours=1), "updated_to": now + datetime.timedelta(minutes=5)}


def test_orders_are_fetched_with_lines_totals_and_statuses(connector, shop, base):
    _live_item(connector, shop, base, "KS-DON")
    paid = _order(base, shop, "KS-DON", 2, "READY_TO_SHIP")
    unpaid = _order(base, shop, "KS-DON", 1, "UNPAID")

    page = connector.fetch_orders(shop, **_window())
    assert page.next_cursor is None
    orders = {order.external_id: order for order in page.orders}
    assert set(orders) == {paid["id"], unpaid["id"]}
    order = orders[paid["id"]]
    assert (order.status, order.raw_status, order.total_vnd) == (OrderStatus.PAID, "READY_TO_SHIP", 370_000)
    [line] = order.lines
    assert (line.sku, line.quantity, line.unit_price_vnd) == ("KS-DON", 2, 185_000)
    assert order.created_at.tzinfo is not None
    # No total_amount before payment: the total comes from the lines.
    assert (orders[unpaid["id"]].status, orders[unpaid["id"]].total_vnd) == (OrderStatus.PENDING, 185_000)

    requests.post(f"{base}/_sandbox/orders/{paid['id']}/status", json={"status": "CANCELLED"}, timeout=5)
    cancelled = connector.get_order(shop, paid["id"])
    assert (cancelled.status, cancelled.raw_status) == (OrderStatus.CANCELLED, "CANCELLED")
    requests.post(f"{base}/_sandbox/orders/{unpaid['id']}/status", json={"status": "TO_RETURN"}, timeout=5)
    assert connector.get_order(shop, unpaid["id"]).status == OrderStatus.RETURNED


def test_order_pages_return_each_order_once(config, shop, base):
    connector = make_connector({**config, "ORDER_PAGE_SIZE": 2})
    _live_item(connector, shop, base, "KS-TRANG")
    made = {_order(base, shop, "KS-TRANG", n, "COMPLETED")["id"] for n in range(1, 6)}
    seen, cursor, pages = [], None, 0
    while True:
        page = connector.fetch_orders(shop, cursor=cursor, **_window())
        pages += 1
        seen += [order.external_id for order in page.orders]
        assert all(order.status == OrderStatus.COMPLETED for order in page.orders)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 5 and set(seen) == made


def test_order_window_is_at_most_15_days(connector, shop):
    assert ShopeeConnector.max_order_window == datetime.timedelta(days=15)
    now = datetime.datetime.now(datetime.UTC)
    with pytest.raises(PermanentError) as refused:
        connector.fetch_orders(shop, updated_from=now - datetime.timedelta(days=16), updated_to=now)
    assert refused.value.code == "order.order_list_invalid_time"


# --- 8. webhooks ---------------------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.captured.append((body, dict(self.headers.items())))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(base):
    httpd = HTTPServer(("127.0.0.1", 0), _Receiver)
    httpd.captured = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/webhooks/shopee"
    requests.post(f"{base}/_sandbox/webhook-url", json={"url": url}, timeout=5)
    yield url, httpd.captured
    requests.post(f"{base}/_sandbox/webhook-url", json={"url": ""}, timeout=5)
    httpd.shutdown()
    httpd.server_close()


def test_order_push_is_verified_and_parsed(connector, shop, base, receiver):
    url, captured = receiver
    _live_item(connector, shop, base, "KS-PUSH")
    order = _order(base, shop, "KS-PUSH", 1, "READY_TO_SHIP")
    deadline = time.monotonic() + 5
    while not captured and time.monotonic() < deadline:
        time.sleep(0.05)
    [(body, headers)] = captured

    connector.verify_webhook(body=body, headers=headers, url=url)
    [event] = connector.parse_webhook(body)
    assert (event.kind, event.shop_id, event.order_id, event.status) == (
        "order",
        shop.shop_id,
        order["id"],
        "READY_TO_SHIP",
    )
    assert event.event_id == f"{shop.shop_id}:{order['id']}:READY_TO_SHIP:{order['update_time']}"
    assert event.occurred_at == datetime.datetime.fromtimestamp(order["update_time"], datetime.UTC)

    with pytest.raises(WebhookRejected):
        connector.verify_webhook(body=body.replace(b"READY_TO_SHIP", b"COMPLETED"), headers=headers, url=url)
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(body=body, headers={**headers, "Authorization": "0" * 64}, url=url)
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(body=body, headers={"Content-Type": "application/json"}, url=url)
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(body=body, headers=headers, url=url + "/")


def test_other_pushes_get_stable_distinct_ids(connector):
    first = b'{"shop_id":100001,"code":2,"timestamp":1700000000,"data":{}}'
    second = b'{"shop_id":100001,"code":12,"timestamp":1700000000,"data":{}}'
    [a], [a_again], [b] = (
        connector.parse_webhook(first),
        connector.parse_webhook(first),
        connector.parse_webhook(second),
    )
    assert a.event_id == a_again.event_id != b.event_id
    assert a.kind == b.kind == "authorization"
    with pytest.raises(WebhookRejected):
        connector.parse_webhook(b"not json")


def test_a_listing_in_other_shops_is_not_found(connector, shop, base):
    other_grant, _ = authorise(connector, "HTX Khác")
    other = credentials_of(other_grant)
    connector.create_listing(other, payload("KS-RIENG"))
    assert connector.find_by_sku(shop, "KS-RIENG") is None
    with pytest.raises(PermanentError) as missing:
        connector.get_listing(shop, RemoteListing(external_id="1", status=ListingStatus.LIVE).external_id)
    assert missing.value.code == "error_item_not_found"
