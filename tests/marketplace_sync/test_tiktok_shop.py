"""The TikTok Shop connector against its sandbox, over real HTTP (docs/connectors/tiktok_shop.md)."""

import datetime
import http.server
import io
import json
import threading
import time
import urllib.parse
from decimal import Decimal

import polib
import pytest
import requests
from django.conf import settings
from django.utils import translation
from PIL import Image

from config.settings.base import sandbox_marketplaces
from marketplace_sync.connectors import tiktok_shop
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
from marketplace_sync.connectors.tiktok_shop import TikTokShopConnector, sign_request, sign_webhook
from marketplace_sync.sandbox.base import SandboxServer
from marketplace_sync.sandbox.tiktok_shop import TikTokShopSandbox

CHANNEL = "tiktok_shop"
REDIRECT_URI = "https://ocop.example/marketplaces/tiktok_shop/callback"
CATEGORY = "923784"  # data/marketplaces/ocop_category_map.csv, "Rau, củ, quả, hạt tươi"
DESCRIPTION = (
    "Chè Shan tuyết cổ thụ hái trên núi Khe Năm, sao tay theo cách truyền thống.\n\nHộp 200 g, hạn dùng 12 tháng."
)


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    sandbox = TikTokShopSandbox(credentials=settings.SANDBOX_CREDENTIALS[CHANNEL], review_seconds=0.2)
    with SandboxServer({CHANNEL: sandbox}) as running:
        yield running


@pytest.fixture
def sandbox_url(server):
    url = server.url(CHANNEL)
    requests.post(f"{url}/_sandbox/reset", timeout=5).raise_for_status()
    control(url, "redirect-url", {"url": REDIRECT_URI})
    return url


def config_for(server, **overrides):
    ports = {**settings.SANDBOX_PORTS, CHANNEL: server.ports[CHANNEL]}
    return {**sandbox_marketplaces("127.0.0.1", ports)[CHANNEL], **overrides}


@pytest.fixture
def connector(server, sandbox_url):
    return TikTokShopConnector(config_for(server))


def control(url, path, payload=None):
    response = requests.post(f"{url}/_sandbox/{path}", json=payload or {}, timeout=5)
    response.raise_for_status()
    return response.json()


def items(url):
    return requests.get(f"{url}/_sandbox/items", timeout=5).json()["items"]


def authorize(connector, shop_name="HTX Chè Khe Năm"):
    url = connector.authorization_url(redirect_uri=REDIRECT_URI, state="state-123")
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "Cấp quyền" in page.text
    consent = requests.post(url, data={"shop_name": shop_name}, allow_redirects=False, timeout=5)
    assert consent.status_code == 302
    location = consent.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert query["state"] == "state-123" and query["code"]
    return connector.exchange_code(query=query, redirect_uri=REDIRECT_URI), query


def credentials_of(grant):
    return ShopCredentials(
        shop_id=grant.shop_id, access_token=grant.access_token, refresh_token=grant.refresh_token, extra=grant.extra
    )


@pytest.fixture
def shop(connector):
    grant, _query = authorize(connector)
    return credentials_of(grant)


def jpeg(size=(800, 800)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


def payload(**overrides):
    values = {
        "sku": "OCOP-CHE-001",
        "title": "Chè Shan tuyết Khe Năm hộp 200g OCOP 4 sao",
        "description": DESCRIPTION,
        "category_id": CATEGORY,
        "price_vnd": 185_000,
        "stock": 40,
        "weight_grams": 250,
        "length_cm": Decimal("20"),
        "width_cm": Decimal("12"),
        "height_cm": Decimal("7.2"),
        "images": (ImageFile(name="che.jpg", content=jpeg()),),
    }
    return ListingPayload(**{**values, **overrides})


def live_listing(connector, shop, url, **overrides):
    remote = connector.create_listing(shop, payload(**overrides))
    control(url, "review", {"item_id": remote.external_id})
    return remote


# --- 1. signing -----------------------------------------------------------------------------------


def test_sign_request_reproduces_vector_11():
    query = {"app_key": "68xu9ks5p4i8", "shop_cipher": "ROW_xkMbgAAAeVAQra0eZWebFQq5aIK", "timestamp": "1696909648"}
    body = b'{    "address":"https://partner.tiktokshop.com",    "event_type": "PACKAGE_UPDATE"}'
    expected = "495c39774c04ee06162f20a6bef8edae5b17676229588fe76630bb5166da37d2"
    assert sign_request("e59af819cc", "/event/202309/webhooks", query, body) == expected
    # sign and access_token never enter the signature
    with_extras = {**query, "sign": "x", "access_token": "y"}
    assert sign_request("e59af819cc", "/event/202309/webhooks", with_extras, body) == expected


def test_sign_webhook_reproduces_vector_12():
    body = (
        b'{"type":1,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621",'
        b'"timestamp":1644412885,"data":{"order_id":"576486316948490001","order_status":"UNPAID",'
        b'"is_on_hold_order":false,"update_time":1644412885}}'
    )
    expected = "e21e909414e500178230da539adfc1faddd443124f93a8f67a060568a49620be"
    assert sign_webhook("29a39d", "e59af819cc", body) == expected


# --- 2. authorisation ------------------------------------------------------------------------------


def test_authorization_flow_gives_tokens_and_refresh_keeps_the_shop(connector):
    url = connector.authorization_url(redirect_uri=REDIRECT_URI, state="state-123")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(url).query) == {
        "service_id": [settings.SANDBOX_CREDENTIALS[CHANNEL]["SERVICE_ID"]],
        "state": ["state-123"],
    }

    grant, query = authorize(connector)

    now = datetime.datetime.now(datetime.UTC)
    assert grant.shop_id and grant.shop_name == "HTX Chè Khe Năm"
    assert grant.access_token and grant.refresh_token
    assert grant.access_expires_at > now + datetime.timedelta(days=6)
    assert grant.refresh_expires_at > grant.access_expires_at
    assert grant.extra["shop_cipher"].startswith("ROW_")
    # the code is single use
    with pytest.raises(PermanentError) as used:
        connector.exchange_code(query=query, redirect_uri=REDIRECT_URI)
    assert used.value.code == "36004004"

    refreshed = connector.refresh(credentials_of(grant))

    assert refreshed.shop_id == grant.shop_id
    assert refreshed.access_token != grant.access_token
    assert refreshed.extra["shop_cipher"] == grant.extra["shop_cipher"]
    assert connector.find_by_sku(credentials_of(refreshed), "NOTHING") is None
    with pytest.raises(AuthorizationRevoked):
        connector.refresh(ShopCredentials(shop_id=grant.shop_id, access_token="x", refresh_token="not-a-token"))


# --- 3. listing lifecycle ---------------------------------------------------------------------------


def test_listing_goes_through_review_then_updates_and_withdraws(connector, shop, sandbox_url):
    created = connector.create_listing(shop, payload())

    assert (created.status, created.raw_status) == (ListingStatus.IN_REVIEW, "PENDING")
    assert created.url == f"{sandbox_url}/_sandbox/product/{created.external_id}"
    [stored] = items(sandbox_url)
    assert stored["package_weight"] == {"value": "0.25", "unit": "KILOGRAM"}
    assert stored["package_dimensions"] == {"length": "20", "width": "12", "height": "8", "unit": "CENTIMETER"}
    assert stored["description"].startswith("<p>Chè Shan tuyết")
    assert stored["skus"][0]["price"] == {"amount": "185000", "currency": "VND"}

    control(sandbox_url, "review", {"item_id": created.external_id})
    live = connector.get_listing(shop, created.external_id)
    found = connector.find_by_sku(shop, "OCOP-CHE-001")

    assert (live.status, live.raw_status) == (ListingStatus.LIVE, "ACTIVATE")
    assert found.external_id == created.external_id and found.sku_id == created.sku_id
    assert connector.find_by_sku(shop, "OCOP-KHAC-999") is None

    updated = connector.update_listing(shop, live, payload(title="Chè Shan tuyết cổ thụ Khe Năm hộp 200g"))
    assert updated.status == ListingStatus.LIVE  # the old version stays on sale during the audit
    control(sandbox_url, "review", {"item_id": created.external_id})
    assert items(sandbox_url)[0]["title"] == "Chè Shan tuyết cổ thụ Khe Năm hộp 200g"

    connector.update_offer(shop, live, price_vnd=199_000, stock=12)
    [stored] = items(sandbox_url)
    assert (stored["price_vnd"], stored["stock"]) == (199_000, 12)

    withdrawn = connector.withdraw_listing(shop, live)
    assert (withdrawn.status, withdrawn.raw_status) == (ListingStatus.WITHDRAWN, "SELLER_DEACTIVATED")


def test_platform_actions_map_to_banned(connector, shop, sandbox_url):
    remote = live_listing(connector, shop, sandbox_url)

    control(sandbox_url, f"items/{remote.external_id}/status", {"status": "PLATFORM_DEACTIVATED", "reason": "Fake"})
    deactivated = connector.get_listing(shop, remote.external_id)
    control(sandbox_url, f"items/{remote.external_id}/status", {"status": "FREEZE"})
    frozen = connector.get_listing(shop, remote.external_id)  # Get Product hides it; found by search

    assert (deactivated.status, deactivated.raw_status) == (ListingStatus.BANNED, "PLATFORM_DEACTIVATED")
    assert "Fake" in deactivated.reason
    assert (frozen.status, frozen.raw_status) == (ListingStatus.BANNED, "FREEZE")


# --- 4. faults -------------------------------------------------------------------------------------


def test_wrong_secret_is_the_sign_error(server, shop, sandbox_url):
    wrong = TikTokShopConnector(config_for(server, APP_SECRET="not-the-secret"))

    with pytest.raises(PermanentError) as refused:
        wrong.create_listing(shop, payload())

    assert refused.value.code == "106001" and "sign" in refused.value.message
    assert items(sandbox_url) == []


def test_stale_timestamp_is_refused(connector, shop, monkeypatch):
    monkeypatch.setattr(tiktok_shop, "_clock", lambda: time.time() - 600)

    with pytest.raises(PermanentError) as refused:
        connector.find_by_sku(shop, "OCOP-CHE-001")

    assert refused.value.code == "36009004"
    assert "earlier than 5 minutes" in refused.value.message


def test_expired_token_then_refresh(connector, shop, sandbox_url):
    control(sandbox_url, "expire-token", {"shop_id": shop.shop_id})

    with pytest.raises(TokenExpired) as expired:
        connector.find_by_sku(shop, "OCOP-CHE-001")
    assert expired.value.code == "105002"

    fresh = credentials_of(connector.refresh(shop))
    assert connector.find_by_sku(fresh, "OCOP-CHE-001") is None


def test_burst_over_the_rate_is_rate_limited(connector, shop, sandbox_url):
    control(sandbox_url, "faults", {"requests_per_second": 2})

    with pytest.raises(RateLimited) as limited:
        for _attempt in range(6):
            connector.find_by_sku(shop, "OCOP-CHE-001")

    assert (limited.value.code, limited.value.http_status) == ("36009002", 429)


def test_server_errors_are_transient(connector, shop, sandbox_url):
    control(sandbox_url, "faults", {"error_rate": 1})

    with pytest.raises(TransientError) as failed:
        connector.find_by_sku(shop, "OCOP-CHE-001")

    assert failed.value.code == "36009003" and not isinstance(failed.value, RateLimited)


def test_create_that_times_out_is_adopted_not_duplicated(server, shop, sandbox_url):
    control(sandbox_url, "faults", {"timeout_after_create_s": 2})
    impatient = TikTokShopConnector(config_for(server), Transport(timeout=(1, 1)))

    with pytest.raises(TransientError) as timed_out:
        impatient.create_listing(shop, payload())
    assert timed_out.value.code == "timeout"

    control(sandbox_url, "faults", {})
    adopted = impatient.find_by_sku(shop, "OCOP-CHE-001")
    again = impatient.create_listing(shop, payload())  # same idempotency key: same product

    [stored] = items(sandbox_url)
    assert adopted.external_id == stored["item_id"] == again.external_id


# --- 5. validation ------------------------------------------------------------------------------------


def test_short_title_is_refused_by_the_sandbox_and_reported_by_check(connector, shop, sandbox_url):
    short = payload(title="Chè Khe Năm")

    with translation.override("en"):
        problems = connector.check(short)
    with pytest.raises(PermanentError) as refused:
        connector.create_listing(shop, short)

    assert problems == ["The product name must be 25 to 255 characters on TikTok Shop; it has 11."]
    assert refused.value.code == "12052910" and "25-255" in refused.value.message
    assert items(sandbox_url) == []


def test_small_image_is_refused_at_upload_and_reported_by_check(connector, shop):
    small = payload(images=(ImageFile(name="nho.jpg", content=jpeg((200, 200))),))

    with translation.override("en"):
        problems = connector.check(small)
    with pytest.raises(PermanentError) as refused:
        connector.create_listing(shop, small)

    assert problems == [
        "Photo 1 must be between 300×300 and 4000×4000 pixels on TikTok Shop; it is 200×200.",
    ]
    assert refused.value.code == "12038014"


def test_check_passes_a_good_payload_and_lists_every_problem():
    connector = TikTokShopConnector({})
    bad = payload(
        sku="OCOP CHE",
        category_id="",
        price_vnd=0,
        stock=0,
        weight_grams=0,
        height_cm=Decimal(0),
        title="Chè Khe Năm giảm giá 0912345678 " + "!" * 10,
    )

    with translation.override("en"):
        assert connector.check(payload()) == []
        problems = connector.check(bad)

    assert len(problems) == 8
    assert "found: 0912345678, giảm giá" in problems[1]


def test_check_speaks_vietnamese(settings, tmp_path):
    # The strings and their translations as in the .po file that ships with this connector.
    catalogue = polib.POFile()
    catalogue.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": "vi"}
    catalogue.append(
        polib.POEntry(
            msgid="The product name must be %(min)d to %(max)d characters on TikTok Shop; it has %(count)d.",
            msgstr="Tên sản phẩm cần từ %(min)d đến %(max)d ký tự trên TikTok Shop; hiện có %(count)d ký tự.",
        )
    )
    (tmp_path / "vi" / "LC_MESSAGES").mkdir(parents=True)
    catalogue.save_as_mofile(str(tmp_path / "vi" / "LC_MESSAGES" / "django.mo"))
    settings.LOCALE_PATHS = [tmp_path, *settings.LOCALE_PATHS]

    with translation.override("vi"):
        problems = TikTokShopConnector({}).check(payload(title="Chè Khe Năm"))

    assert problems == ["Tên sản phẩm cần từ 25 đến 255 ký tự trên TikTok Shop; hiện có 11 ký tự."]


# --- 6. review rejection --------------------------------------------------------------------------------


def test_rejected_review_gives_the_reason(connector, shop, sandbox_url):
    remote = connector.create_listing(shop, payload(title="Chè Shan tuyết Khe Năm giảm giá hộp 200g"))
    control(sandbox_url, "review", {"item_id": remote.external_id})

    rejected = connector.get_listing(shop, remote.external_id)

    assert (rejected.status, rejected.raw_status) == (ListingStatus.REJECTED, "FAILED")
    assert rejected.reason.startswith("Product Name: Promotional information in product name")


def test_rejected_edit_keeps_the_live_version_on_sale(connector, shop, sandbox_url):
    live = live_listing(connector, shop, sandbox_url)

    connector.update_listing(shop, live, payload(description="Chè ngon."))
    control(sandbox_url, "review", {"item_id": live.external_id})
    after = connector.get_listing(shop, live.external_id)

    assert (after.status, after.raw_status) == (ListingStatus.LIVE, "ACTIVATE")
    assert after.reason.startswith("Product Description: Insufficient or Incomplete Product Information")
    assert items(sandbox_url)[0]["description"].startswith("<p>Chè Shan tuyết")


# --- 7. orders --------------------------------------------------------------------------------------------


def window():
    now = datetime.datetime.now(datetime.UTC)
    return {"updated_from": now - datetime.timedelta(hours=1), "updated_to": now + datetime.timedelta(hours=1)}


def test_orders_come_with_lines_totals_and_statuses(connector, shop, sandbox_url):
    live_listing(connector, shop, sandbox_url)
    order = control(
        sandbox_url,
        "orders",
        {"shop_id": shop.shop_id, "lines": [{"sku": "OCOP-CHE-001", "quantity": 3}], "status": "AWAITING_SHIPMENT"},
    )

    page = connector.fetch_orders(shop, **window())

    [fetched] = page.orders
    assert page.next_cursor is None
    assert (fetched.external_id, fetched.status, fetched.raw_status) == (
        order["id"],
        OrderStatus.PAID,
        "AWAITING_SHIPMENT",
    )
    assert fetched.total_vnd == 555_000
    assert [(line.sku, line.quantity, line.unit_price_vnd) for line in fetched.lines] == [("OCOP-CHE-001", 3, 185_000)]

    control(sandbox_url, f"orders/{order['id']}/status", {"status": "CANCELLED"})
    cancelled = connector.get_order(shop, order["id"])
    assert (cancelled.status, cancelled.raw_status) == (OrderStatus.CANCELLED, "CANCELLED")


def test_order_pages_return_each_order_once(server, shop, sandbox_url):
    connector = TikTokShopConnector(config_for(server, ORDER_PAGE_SIZE=2))
    live_listing(connector, shop, sandbox_url)
    created = {
        control(sandbox_url, "orders", {"shop_id": shop.shop_id, "lines": [{"sku": "OCOP-CHE-001", "quantity": 1}]})[
            "id"
        ]
        for _order in range(5)
    }

    seen, cursor, pages = [], None, 0
    while True:
        page = connector.fetch_orders(shop, cursor=cursor, **window())
        seen.extend(order.external_id for order in page.orders)
        pages, cursor = pages + 1, page.next_cursor
        if cursor is None:
            break

    assert sorted(seen) == sorted(created) and pages == 3
    assert {order.status for order in connector.fetch_orders(shop, **window()).orders} == {OrderStatus.PENDING}


# --- 8. webhooks ------------------------------------------------------------------------------------------


@pytest.fixture
def receiver():
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, dict(self.headers.items()), self.path))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/marketplaces/tiktok_shop/webhook", received
    httpd.shutdown()
    httpd.server_close()


def test_order_webhook_is_verified_and_parsed(connector, shop, sandbox_url, receiver):
    live_listing(connector, shop, sandbox_url)
    url, received = receiver
    control(sandbox_url, "webhook-url", {"url": url})

    order = control(sandbox_url, "orders", {"shop_id": shop.shop_id, "lines": [{"sku": "OCOP-CHE-001", "quantity": 1}]})
    deadline = time.time() + 5
    while not received and time.time() < deadline:
        time.sleep(0.05)

    [(body, headers, _path)] = received
    connector.verify_webhook(body=body, headers=headers, url=url)
    [event] = connector.parse_webhook(body)
    message = json.loads(body)
    assert (event.kind, event.order_id, event.status, event.shop_id) == ("order", order["id"], "UNPAID", shop.shop_id)
    assert event.event_id == message["tts_notification_id"]

    tampered = body.replace(b'"UNPAID"', b'"COMPLETED"')
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(body=tampered, headers=headers, url=url)
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(body=body, headers={**headers, "Authorization": "0" * 64}, url=url)
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(body=body, headers={}, url=url)
