"""Tiki Seller Open API sandbox (marketplaces.md §4; docs/connectors/tiki.md "Sandbox").

An independent implementation of what the OCOP connector uses of Tiki's API, on the URL layout
`sandbox_marketplaces()` builds: the API root is the sandbox root (`/integration/v2/...`,
`/integration/v2.1/requests`, `/integration/v1/queues/...`), the consent page is
`/sc/oauth2/auth` and the token endpoint `/sc/oauth2/token`.

What it emulates:
- OAuth 2.0: authorization code (state ≥ 8 characters, redirect back with code, scope, state),
  refresh token (rotated: the old one is refused after use), client credentials (the app's own
  token, which owns the event queues); clients authenticate with HTTP Basic only.
- Bearer tokens on every API call: 401 when invalid or expired, 403 when the wrong kind of token
  is used (seller token on a queue, app token on seller data).
- Product requests with Tiki's review states, rejection reasons, one product per request
  (simple products only), products created inactive, updateSku, updateProductInfo.
- Orders (list with updated_at filters and paging, detail) and the event queue
  (ORDER_CREATED_SUCCESSFULLY / ORDER_STATUS_UPDATED; at-least-once: an event is delivered by
  every pull until the batch it came in is acknowledged by its ack_id).
Errors use Tiki's envelope {"errors": [...], "meta": {...}} and the HTTP statuses of its API
reference; OAuth errors use {"error", "error_description"}.

It imports nothing from marketplace_sync.connectors on purpose (see sandbox/base.py).
"""

from __future__ import annotations

import base64
import csv
import datetime
import hashlib
import json
import re
import secrets
import time
import urllib.parse
import uuid
from functools import cached_property
from pathlib import Path

from .base import Reply, Request, Sandbox, SandboxError, json_reply

VN = datetime.timezone(datetime.timedelta(hours=7))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "marketplaces"

REVIEW_STAGES = ("queuing", "processing", "md_waiting_approve", "bot_waiting_approve", "awaiting_approve")
# Tiki exposes a request (and its request_id) only once processing created it.
HIDDEN_STAGES = ("queuing", "processing")
ORDER_STATUSES = (
    "queueing", "processing", "waiting_payment", "handover_to_partner", "packaging", "finished_packing",
    "ready_to_ship", "picking", "shipping", "paid", "successful_delivery", "delivered", "complete",
    "canceled", "closed", "holded", "payment_review", "returned",
)  # fmt: skip
# ORDER_CREATED_SUCCESSFULLY "only fired when the order reach the queueing status".
BEFORE_QUEUEING = ("waiting_payment", "processing", "payment_review")
EVENT_TYPES = (
    "ORDER_CREATED_SUCCESSFULLY",
    "ORDER_STATUS_UPDATED",
    "PRODUCT_PRICE_UPDATED",
    "PRODUCT_MARKET_PRICE_UPDATED",
    "PRODUCT_INVENTORY_UPDATED",
)
INVENTORY_TYPES = ("dropship", "instock", "backorder", "preorder", "cross_border", "seller_delivery")

# Review rules the sandbox applies (docs "Review"): Tiki Academy's listing guideline forbids
# promotional wording and contact details in product names; the description minimum is ours.
PROMO_WORDS = re.compile(r"(giảm\s*giá|khuyến\s*m[ãạ]i|\bsale\b|freeship|rẻ\s*nhất|hot\s*deal)", re.IGNORECASE)
PHONE = re.compile(r"(?:\+?84|0)(?:[\s.\-]?\d){9,10}\b")
DESCRIPTION_MIN = 20

INVALID_GRANT = (
    "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh "
    "token is invalid, expired, revoked, does not match the redirection URI used in the authorization "
    "request, or was issued to another client."
)
INVALID_CLIENT = (
    "Client authentication failed (e.g., unknown client, no client authentication included, or "
    "unsupported authentication method)."
)


def now_text() -> str:
    return datetime.datetime.now(VN).strftime(TIME_FORMAT)


def _is_url(value) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) > 10


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _add_query(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


class TikiSandbox(Sandbox):
    name = "tiki"
    title = "Tiki"
    # Tiki publishes no rate limit (§4 [U]); 10 requests per second per shop is the sandbox's.
    default_requests_per_second = 10.0
    access_ttl = 3600  # seconds
    refresh_ttl = 30 * 24 * 3600
    pull_batch = 10

    # -- routes -----------------------------------------------------------------------------------

    def routes(self):
        return [
            ("*", r"/sc/oauth2/auth", self.oauth_authorize),
            ("POST", r"/sc/oauth2/token", self.oauth_token),
            ("GET", r"/integration/v2/sellers/me", self.seller_me),
            ("GET", r"/integration/v2/sellers/me/warehouses", self.seller_warehouses),
            ("POST", r"/integration/v2\.1/requests", self.create_request),
            ("POST", r"/integration/v2\.1/requests/updateProductInfo", self.update_product_info),
            ("GET", r"/integration/v2/requests", self.list_requests),
            ("GET", r"/integration/v2/requests/(?P<request_id>\d+)", self.get_request),
            ("DELETE", r"/integration/v2/requests/(?P<request_id>\d+)", self.delete_request),
            ("GET", r"/integration/v2/tracking/(?P<track_id>[0-9a-f]+)", self.get_tracking),
            ("GET", r"/integration/v2/products/findBy", self.find_products),
            ("PUT", r"/integration/v2/products/updateSku", self.update_sku),
            ("GET", r"/integration/v2/products/(?P<product_id>\d+)", self.get_product),
            ("GET", r"/integration/v2/orders", self.list_orders),
            ("GET", r"/integration/v2/orders/(?P<code>[^/]+)", self.get_order),
            ("GET", r"/integration/v1/queues", self.list_queues),
            ("POST", r"/integration/v1/queues", self.create_queue),
            ("GET", r"/integration/v1/queues/(?P<code>[^/]+)/subscriptions", self.list_subscriptions),
            ("POST", r"/integration/v1/queues/(?P<code>[^/]+)/subscriptions", self.create_subscription),
            ("POST", r"/integration/v1/queues/(?P<code>[^/]+)/events/pull", self.pull_events),
        ]

    # -- envelopes ----------------------------------------------------------------------------------

    def _err(self, status: int, *messages: str, headers: dict | None = None) -> Reply:
        meta = {"source": "sandbox", "id": str(secrets.randbelow(10**18) + 10**18)}
        return json_reply({"errors": list(messages), "meta": meta}, status, headers)

    @staticmethod
    def _oauth_err(status: int, error: str, description: str) -> Reply:
        return json_reply({"error": error, "error_description": description, "status_code": status}, status)

    def error_reply(self, kind: str, request: Request) -> Reply:
        if kind == "rate_limited":
            return self._err(429, "Too Many Requests: your rate limit is exceed", headers={"Retry-After": "1"})
        if kind == "server_error":
            return self._err(500, "Internal server error")
        return self._err(404, "Not found")

    @staticmethod
    def _bearer(request: Request) -> str:
        value = request.header("authorization")
        return value[7:].strip() if value.lower().startswith("bearer ") else ""

    def shop_of(self, request: Request) -> str | None:
        record = self.store.get("access_token", self._bearer(request)) if self._bearer(request) else None
        if record is None:
            return None
        return "app" if record.get("app") else str(record["shop_id"])

    def _token_record(self, request: Request) -> tuple[dict | None, Reply | None]:
        state, record = self.access_token_state(self._bearer(request))
        if state == "ok":
            return record, None
        detail = "the access token has expired" if state == "expired" else "the access token is invalid"
        reply = self._err(401, f"Unauthorized: {detail}")
        reply.headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{detail}"'
        return None, reply

    def _seller(self, request: Request) -> tuple[dict | None, Reply | None]:
        record, error = self._token_record(request)
        if error:
            return None, error
        if record.get("app"):
            return None, self._err(403, "Forbidden: this API acts for a seller; use the token the seller authorised")
        return record, None

    def _app(self, request: Request) -> tuple[dict | None, Reply | None]:
        record, error = self._token_record(request)
        if error:
            return None, error
        if not record.get("app"):
            return None, self._err(403, "Forbidden: queues belong to the application; use its client_credentials token")
        return record, None

    def _body(self, request: Request) -> tuple[object, Reply | None]:
        if not request.body:
            return {}, None
        try:
            return json.loads(request.body.decode()), None
        except (ValueError, UnicodeDecodeError):
            return None, self._err(400, "Bad request: the body is not valid JSON")

    # -- OAuth 2.0 ------------------------------------------------------------------------------------

    def oauth_authorize(self, request: Request) -> Reply:
        params = request.form if request.method == "POST" else request.query
        if params.get("client_id") != self.credentials["CLIENT_ID"]:
            return self._oauth_err(401, "invalid_client", INVALID_CLIENT)
        if params.get("response_type") != "code":
            return self._oauth_err(400, "unsupported_response_type", "The authorization server does not support "
                                   "obtaining a token using this method.")  # fmt: skip
        redirect_uri = params.get("redirect_uri", "")
        if not _is_url(redirect_uri):
            return self._oauth_err(400, "invalid_request", "The 'redirect_uri' parameter is missing or invalid.")
        state = params.get("state", "")
        if len(state) < 8:
            return self._oauth_err(
                400,
                "invalid_state",
                "The state is missing or does not have enough characters and is therefore considered too weak. "
                "Request parameter 'state' must be at least be 8 characters long to ensure sufficient entropy.",
            )
        scope = params.get("scope", "")

        def redirect_to(shop_id: str, code: str) -> str:
            record = self.store.get("auth_code", code)
            record.update(redirect_uri=redirect_uri, scope=scope)
            self.store.put("auth_code", code, record)
            return _add_query(redirect_uri, code=code, scope=scope, state=state)

        return self.authorization_page(request, redirect_to=redirect_to)

    def _client_ok(self, request: Request) -> bool:
        value = request.header("authorization")
        if not value.lower().startswith("basic "):
            return False  # the app is registered for client_secret_basic
        try:
            client_id, _, secret = base64.b64decode(value[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        expected_id, expected_secret = self.credentials["CLIENT_ID"], self.credentials["CLIENT_SECRET"]
        return secrets.compare_digest(client_id, expected_id) and secrets.compare_digest(secret, expected_secret)

    def oauth_token(self, request: Request) -> Reply:
        if not request.header("content-type").startswith("application/x-www-form-urlencoded"):
            return self._oauth_err(400, "invalid_request", "The request must be application/x-www-form-urlencoded.")
        if not self._client_ok(request):
            return self._oauth_err(401, "invalid_client", INVALID_CLIENT)
        form = request.form
        grant = form.get("grant_type", "")
        if grant == "authorization_code":
            record = self.redeem_code(form.get("code", ""))
            if record is None or record.get("redirect_uri") != form.get("redirect_uri"):
                return self._oauth_err(400, "invalid_grant", INVALID_GRANT)
            return self._grant(record["shop_id"], record.get("scope", ""))
        if grant == "refresh_token":
            record = self.use_refresh_token(form.get("refresh_token", ""), single_use=True)
            if record is None:
                return self._oauth_err(400, "invalid_grant", INVALID_GRANT)
            return self._grant(record["shop_id"], record.get("scope", ""))
        if grant == "client_credentials":
            token = secrets.token_urlsafe(32)
            self.store.put(
                "access_token",
                token,
                {"token": token, "shop_id": "", "app": self.credentials["CLIENT_ID"],
                 "expires_at": time.time() + self.access_ttl},
            )  # fmt: skip
            return json_reply(
                {"access_token": token, "expires_in": self.access_ttl, "scope": "", "token_type": "bearer"}
            )
        return self._oauth_err(400, "unsupported_grant_type", "The authorization grant type is not supported.")

    def _grant(self, shop_id: str, scope: str) -> Reply:
        tokens = self.issue_tokens(
            shop_id, access_ttl=self.access_ttl, refresh_ttl=self.refresh_ttl, extra={"scope": scope}
        )
        body = {
            "access_token": tokens["access_token"],
            "expires_in": self.access_ttl,
            "scope": scope,
            "token_type": "bearer",
        }
        if "offline" in scope.split():  # a refresh token only with the offline scope
            body["refresh_token"] = tokens["refresh_token"]
        return json_reply(body)

    # -- sellers --------------------------------------------------------------------------------------

    @staticmethod
    def _sid(shop_id: str) -> str:
        return hashlib.sha1(f"tiki-sandbox-seller:{shop_id}".encode()).hexdigest().upper()

    @staticmethod
    def warehouse_of(shop_id: str) -> int:
        return 387000 + int(shop_id) % 1000

    def seller_me(self, request: Request) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        shop = self.store.get("shop", record["shop_id"]) or {"name": ""}
        return json_reply(
            {"id": int(record["shop_id"]), "name": shop["name"], "active": 1, "can_update_product": 1,
             "sid": self._sid(record["shop_id"]), "logo": ""}
        )  # fmt: skip

    def seller_warehouses(self, request: Request) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        warehouse = {
            "id": self.warehouse_of(record["shop_id"]),
            "name": "Kho hợp tác xã",
            "is_primary": 1,
            "status": 1,
            "type": 1,
            "street": "Thôn 1",
            "country": {"code": "VN", "name": "Việt Nam"},
            "district": {"code": "VN039001", "name": "Thành phố Lào Cai"},
            "ward": {"code": "VN039001001", "name": "Phường Cốc Lếu"},
        }
        return json_reply({"data": [warehouse], "paging": self._paging(1, 1, 20)})

    # -- categories --------------------------------------------------------------------------------------

    @cached_property
    def leaf_categories(self) -> set[int]:
        """Leaves of data/marketplaces/tiki_categories_vn.csv plus the Tiki ids the OCOP map proposes."""
        ids: set[int] = set()
        with open(DATA_DIR / "tiki_categories_vn.csv", encoding="utf-8") as handle:
            ids.update(int(row["category_id"]) for row in csv.DictReader(handle) if row["leaf"] == "Y")
        with open(DATA_DIR / "ocop_category_map.csv", encoding="utf-8") as handle:
            ids.update(int(row["tiki_category_id"]) for row in csv.DictReader(handle) if row["tiki_category_id"])
        return ids

    # -- product requests ----------------------------------------------------------------------------------

    def _validate_request(self, data, shop_id: str) -> tuple[int, list[str]]:
        if not isinstance(data, dict):
            return 400, ["Bad request: the body must be a product object"]
        errors: list[str] = []
        category = data.get("category_id")
        if not isinstance(category, int) or isinstance(category, bool):
            errors.append("category_id is required and must be an integer")
        elif category not in self.leaf_categories:
            return 404, [f"Attributes not found for category_id {category}"]
        name = data.get("name")
        if not isinstance(name, str) or not 3 <= len(name.strip()) <= 255:
            errors.append("name must be between 3 and 255 characters")
        if not isinstance(data.get("description"), str) or not data["description"].strip():
            errors.append("description is required")
        if not _is_url(data.get("image")):
            errors.append("image must be a valid image URL")
        images = data.get("images", [])
        if not isinstance(images, list) or not all(_is_url(url) for url in images):
            errors.append("images must be a list of image URLs")
        attributes = data.get("attributes")
        if not isinstance(attributes, dict):
            errors.append("attributes is required")
            attributes = {}
        if not str(attributes.get("brand") or "").strip():
            errors.append("attribute brand is required")
        for code, unit in (("product_weight_kg", "kg"), ("product_length", "cm"), ("product_width", "cm"),
                           ("product_height", "cm")):  # fmt: skip
            value = _number(attributes.get(code))
            if value is None or value <= 0:
                errors.append(f"attribute {code} is required ({unit}, greater than 0)")
        options = data.get("option_attributes", [])
        variants = data.get("variants")
        if not isinstance(variants, list) or not variants:
            errors.append("variants is required")
            variants = []
        if options:
            errors.append("option_attributes: configurable products are not emulated by this sandbox")
        elif len(variants) > 1:
            errors.append("variants don't match with option_attributes => a simple product has one variant")
        warehouse = self.warehouse_of(shop_id)
        for variant in variants:
            if not isinstance(variant, dict):
                errors.append("variants must be objects")
                continue
            if not isinstance(variant.get("sku"), str) or not variant["sku"].strip():
                errors.append("variants sku is required")
            price = variant.get("price")
            if not isinstance(price, int) or isinstance(price, bool):
                errors.append("variants price must be an integer (VND)")
            elif price <= 0:
                errors.append("variants should have price > 0")
            if variant.get("inventory_type") not in INVENTORY_TYPES:
                errors.append("variants inventory_type is invalid")
            stocks = variant.get("warehouse_stocks")
            if variant.get("inventory_type") == "dropship" and not stocks:
                errors.append("variants warehouse_stocks is required for dropship")
            for stock in stocks or []:
                warehouse_id, quantity = stock.get("warehouseId"), stock.get("qtyAvailable")
                if warehouse_id != warehouse:
                    errors.append(f"Warehouse '[{warehouse_id}]' are not found")
                if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
                    errors.append("warehouse_stocks qtyAvailable must be an integer >= 0")
        files = data.get("certificate_files", [])
        if not isinstance(files, list) or not all(isinstance(f, dict) and _is_url(f.get("url")) for f in files):
            errors.append("certificate_files must be a list of {url, type}")
        return (422 if errors else 200), errors

    def create_request(self, request: Request) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        data, error = self._body(request)
        if error:
            return error
        shop_id = str(record["shop_id"])
        status, errors = self._validate_request(data, shop_id)
        if errors:
            return self._err(status, *errors)
        variant = data["variants"][0]
        quantity = sum(stock["qtyAvailable"] for stock in variant.get("warehouse_stocks") or [])
        item = {
            # item_id is the product id the request will get once approved (the product page key).
            "item_id": str(self.store.next_id("tiki_product", start=270000001)),
            "shop_id": shop_id,
            "track_id": uuid.uuid4().hex,
            "request_id": str(self.store.next_id("tiki_request", start=1121400000000000001)),
            "original_sku": variant["sku"],
            "tiki_sku": str(8930000000000 + self.store.next_id("tiki_sku", start=1)),
            "name": data["name"].strip(),
            "description": data["description"],
            "category_id": data["category_id"],
            "attributes": data["attributes"],
            "image": data["image"],
            "images": data.get("images", []),
            "certificate_files": data.get("certificate_files", []),
            "price": variant["price"],
            "market_price": variant.get("market_price") or data.get("market_price") or variant["price"],
            "inventory_type": variant["inventory_type"],
            "warehouse_id": self.warehouse_of(shop_id),
            "quantity": quantity,
            "active": 0,
            "auto_turn_on": bool((data.get("meta_data") or {}).get("is_auto_turn_on")),
            "product_id": None,
            "reasons": None,
            "created_at": now_text(),
            "created_ts": time.time(),
            "approved_at": None,
            "updated_at": now_text(),
        }
        self.new_item_review(item)
        self.save_item(item)
        reply = json_reply({"track_id": item["track_id"], "state": "queuing"})
        reply.delay_after = self.timeout_reply_delay()  # the request exists: "timed out after creating"
        return reply

    def review_outcome(self, item: dict) -> tuple[bool, str]:
        for other in self.store.all("item", shop=item["shop_id"]):
            if (
                other["item_id"] != item["item_id"]
                and other["original_sku"] == item["original_sku"]
                and other["created_ts"] < item["created_ts"]
                and other.get("review_state") in ("reviewing", "approved")
            ):
                sku = item["original_sku"]
                error = {
                    "code": 420,
                    "data": None,
                    "description": f"Product code {sku} is not unique",
                    "msg": "Mã seller product không duy nhất",
                    "msg_eng": "Seller product code is not unique",
                }
                reason = {"errors": [error], "message": "Mã seller product không duy nhất", "trace_id": None}
                return False, json.dumps(reason, ensure_ascii=False)
        promo = PROMO_WORDS.search(item["name"])
        if promo:
            return False, (
                f"Tên sản phẩm chứa thông tin khuyến mãi (“{promo.group(0)}”): Tiki không cho phép đưa khuyến mãi "
                "vào tên sản phẩm."
            )
        if PHONE.search(item["name"]):
            return False, "Tên sản phẩm chứa số điện thoại: Tiki không cho phép thông tin liên hệ trong tên sản phẩm."
        text = re.sub(r"<[^>]+>", " ", item["description"])
        if len(" ".join(text.split())) < DESCRIPTION_MIN:
            return False, f"Mô tả sản phẩm quá ngắn (dưới {DESCRIPTION_MIN} ký tự): hãy mô tả đầy đủ sản phẩm."
        return True, ""

    def on_review_finished(self, item: dict) -> None:
        if item["review_state"] == "approved":
            item["product_id"] = int(item["item_id"])
            item["active"] = 1 if item.get("auto_turn_on") else 0  # Tiki creates approved products inactive
            item["approved_at"] = item["updated_at"] = now_text()
        else:
            item["reasons"] = [item["review_reason"]]

    def _state(self, item: dict) -> str:
        if item.get("review_state") == "reviewing":
            elapsed = (time.time() - item["created_ts"]) / max(self.review_seconds, 1e-6)
            return REVIEW_STAGES[min(int(elapsed * len(REVIEW_STAGES)), len(REVIEW_STAGES) - 1)]
        return item["review_state"]

    def _find_item(self, shop_id: str, **match) -> dict | None:
        self.finish_reviews()
        for item in self.store.all("item", shop=shop_id):
            if all(str(item.get(key)) == str(value) for key, value in match.items()):
                return item
        return None

    def _product_json(self, item: dict) -> dict:
        return {
            "product_id": item["product_id"],
            "id": item["product_id"],
            "sku": item["tiki_sku"],
            "original_sku": item["original_sku"],
            "name": item["name"],
            "master_id": item["product_id"] - 1,
            "super_id": 0,
            "active": item["active"],
            "type": "simple",
            "entity_type": "seller_simple",
            "price": item["price"],
            "market_price": item["market_price"],
            "created_at": item["approved_at"],
            "updated_at": item["updated_at"],
            "thumbnail": item["image"],
            "images": [
                {"id": None, "url": url, "path": urllib.parse.urlsplit(url).path, "position": position}
                for position, url in enumerate([item["image"], *item["images"]])
            ],
            "inventory": {
                "inventory_type": item["inventory_type"],
                "warehouse_stocks": [
                    {
                        "warehouse_id": item["warehouse_id"],
                        "qty_available": item["quantity"],
                        "quantity_sellable": item["quantity"],
                    }
                ],
            },  # fmt: skip
        }

    def _request_json(self, item: dict, *, with_products: bool) -> dict:
        state = self._state(item)
        products = [self._product_json(item)] if with_products and state == "approved" else []
        return {
            "request_id": item["request_id"],
            "state": state,
            "created_at": item["created_at"],
            "created_by": "ocop-connect-sandbox",
            "kind": "create_product",
            "approved_at": item["approved_at"],
            "approved_by": "content.sandbox@tiki.vn" if state == "approved" else None,
            "reasons": item.get("reasons") if state == "rejected" else None,
            "products": products,
        }

    def get_tracking(self, request: Request, track_id: str) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        item = self._find_item(record["shop_id"], track_id=track_id)
        if item is None:
            return self._err(404, "Not found: track_id is invalid")
        state = self._state(item)
        return json_reply(
            {"track_id": track_id, "request_id": None if state in HIDDEN_STAGES else item["request_id"],
             "state": state, "reason": (item.get("reasons") or [""])[0] if state == "rejected" else ""}
        )  # fmt: skip

    def get_request(self, request: Request, request_id: str) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        item = self._find_item(record["shop_id"], request_id=request_id)
        if item is None or self._state(item) in HIDDEN_STAGES:
            return self._err(404, "Not found: request_id is invalid")
        return json_reply(self._request_json(item, with_products=True))

    def delete_request(self, request: Request, request_id: str) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        item = self._find_item(record["shop_id"], request_id=request_id)
        if item is None or self._state(item) in HIDDEN_STAGES:
            return self._err(404, "Not found: request_id is invalid")
        if item["review_state"] == "approved":
            return self._err(400, "Bad request: an approved request cannot be deleted")
        item["review_state"] = "deleted"
        self.save_item(item)
        return json_reply({"request_id": request_id, "state": "deleted"})

    def list_requests(self, request: Request) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        page, limit, error = self._page_args(request)
        if error:
            return error
        self.finish_reviews()
        wanted_state = request.query.get("state")
        with_products = "products" in request.query.get("include", "").split(",")
        rows = [
            item
            for item in self.store.all("item", shop=record["shop_id"])
            if self._state(item) not in HIDDEN_STAGES and (not wanted_state or self._state(item) == wanted_state)
        ]
        rows.sort(key=lambda item: item["created_ts"], reverse=True)
        chunk = rows[(page - 1) * limit : page * limit]
        return json_reply(
            {"data": [self._request_json(item, with_products=with_products) for item in chunk],
             "paging": self._paging(len(rows), page, limit)}
        )  # fmt: skip

    # -- products ---------------------------------------------------------------------------------------------

    def _approved(self, shop_id: str, *, product_id=None, original_sku=None) -> dict | None:
        self.finish_reviews()
        for item in self.store.all("item", shop=shop_id):
            if item.get("review_state") != "approved":
                continue
            if product_id is not None and str(item["product_id"]) == str(product_id):
                return item
            if original_sku is not None and item["original_sku"] == original_sku:
                return item
        return None

    def find_products(self, request: Request) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        sku = request.query.get("original_sku", "")
        if not sku:
            return self._err(400, "Bad request: original_sku is required")
        item = self._approved(record["shop_id"], original_sku=sku)
        rows = [self._product_json(item)] if item else []
        return json_reply({"data": rows, "paging": self._paging(len(rows), 1, 20)})

    def get_product(self, request: Request, product_id: str) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        item = self._approved(record["shop_id"], product_id=product_id)
        if item is None:
            return self._err(404, f"Not found: product {product_id}")
        return json_reply(self._product_json(item))

    def update_sku(self, request: Request) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        data, error = self._body(request)
        if error:
            return error
        if not isinstance(data, dict) or not (data.get("original_sku") or data.get("product_id")):
            return self._err(400, "Bad request: original_sku or product_id is required")
        shop_id = record["shop_id"]
        if data.get("product_id"):
            item = self._approved(shop_id, product_id=data["product_id"])
        else:
            item = self._approved(shop_id, original_sku=data["original_sku"])
        if item is None:
            return self._err(404, "Not found: product not found")
        errors = []
        if "price" in data and (
            not isinstance(data["price"], int) or isinstance(data["price"], bool) or data["price"] <= 0
        ):
            errors.append("Price is not valid")
        if "active" in data and data["active"] not in (0, 1):
            errors.append("active must be 0 or 1")
        if "quantity" in data:
            errors.append("quantity is not supported: use warehouse_quantities")
        quantities = data.get("warehouse_quantities")
        if quantities is not None:
            if not isinstance(quantities, list):
                errors.append("warehouse_quantities must be a list")
                quantities = []
            for row in quantities:
                if not isinstance(row, dict) or row.get("warehouse_id") != item["warehouse_id"]:
                    warehouse = row.get("warehouse_id") if isinstance(row, dict) else row
                    return self._err(400, f"update error [Warehouse '[{warehouse}]' are not found]")
                quantity = row.get("qty_available")
                if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
                    errors.append("qty_available must be an integer >= 0")
        if errors:
            return self._err(422, *errors)
        if "price" in data:
            item["price"] = data["price"]
        if "active" in data:
            item["active"] = data["active"]
        if quantities:
            item["quantity"] = sum(row["qty_available"] for row in quantities)
        item["updated_at"] = now_text()
        self.save_item(item)
        return json_reply({"state": "approved"})

    def update_product_info(self, request: Request) -> Reply:
        """Description, attributes and photos through an update request; the sandbox applies it
        at once (Tiki reviews it first)."""
        record, error = self._seller(request)
        if error:
            return error
        data, error = self._body(request)
        if error:
            return error
        if not isinstance(data, dict) or not data.get("product_id"):
            return self._err(400, "Bad request: product_id is required")
        item = self._approved(record["shop_id"], product_id=data["product_id"])
        if item is None:
            return self._err(404, "Not found: product_id not found")
        errors = []
        if "description" in data and (not isinstance(data["description"], str) or not data["description"].strip()):
            errors.append("description must not be empty")
        if "attributes" in data and not isinstance(data["attributes"], dict):
            errors.append("attributes must be an object")
        if "image" in data and not _is_url(data["image"]):
            errors.append("image must be a valid image URL")
        if "images" in data and (not isinstance(data["images"], list) or not all(map(_is_url, data["images"]))):
            errors.append("images must be a list of image URLs")
        if errors:
            return self._err(422, *errors)
        for key in ("description", "image", "images"):
            if key in data:
                item[key] = data[key]
        if "attributes" in data:
            item["attributes"] = {**item["attributes"], **data["attributes"]}
        item["updated_at"] = now_text()
        self.save_item(item)
        return json_reply({"track_id": uuid.uuid4().hex, "state": "queuing"})

    # -- orders --------------------------------------------------------------------------------------------------

    @staticmethod
    def _paging(total: int, page: int, limit: int) -> dict:
        last = max(1, -(-total // limit))
        return {"total": total, "current_page": page, "from": (page - 1) * limit,
                "to": min(page * limit, total), "per_page": limit, "last_page": last}  # fmt: skip

    def _page_args(self, request: Request) -> tuple[int, int, Reply | None]:
        try:
            page = int(request.query.get("page", 1))
            limit = int(request.query.get("limit", 20))
        except ValueError:
            return 0, 0, self._err(400, "Bad request: page and limit must be integers")
        if page < 1:
            return 0, 0, self._err(400, "Bad request: page must be greater than 0")
        if not 1 <= limit <= 100:
            return 0, 0, self._err(400, "Bad request: limit must be between 1 and 100")
        return page, limit, None

    @staticmethod
    def _public(order: dict) -> dict:
        return {key: value for key, value in order.items() if not key.startswith("_")}

    def list_orders(self, request: Request) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        page, limit, error = self._page_args(request)
        if error:
            return error
        query = request.query
        bounds = {}
        for name in ("created_from_date", "created_to_date", "updated_from_date", "updated_to_date"):
            if query.get(name):
                try:
                    datetime.datetime.strptime(query[name], TIME_FORMAT)
                except ValueError:
                    return self._err(400, f"Bad request: {name} must be in format yyyy-MM-dd HH:mm:ss")
                bounds[name] = query[name]
        orders = self.store.all("order", shop=record["shop_id"])
        for field in ("created", "updated"):
            low, high = bounds.get(f"{field}_from_date"), bounds.get(f"{field}_to_date")
            orders = [
                o for o in orders if (not low or o[f"{field}_at"] >= low) and (not high or o[f"{field}_at"] <= high)
            ]
        days = {"today": 0, "last7days": 7, "last30days": 30}
        if query.get("filter_date_by"):
            if query["filter_date_by"] not in days:
                return self._err(400, "Bad request: filter_date_by must be one of today, last7days, last30days")
            start = datetime.datetime.now(VN) - datetime.timedelta(days=days[query["filter_date_by"]])
            start_text = start.replace(hour=0, minute=0, second=0).strftime(TIME_FORMAT)
            orders = [o for o in orders if o["created_at"] >= start_text]
        if query.get("status"):
            operator, _, values = query["status"].rpartition("|")
            wanted = set(values.split(","))
            keep = (lambda s: s not in wanted) if operator == "nin" else (lambda s: s in wanted)
            orders = [o for o in orders if keep(o["status"])]
        column, _, direction = query.get("order_by", "created_at|desc").partition("|")
        if column not in ("created_at", "updated_at") or direction not in ("asc", "desc"):
            return self._err(400, "Bad request: order_by must be created_at|updated_at with asc|desc")
        orders.sort(key=lambda o: (o[column], o["id"]), reverse=direction == "desc")
        chunk = orders[(page - 1) * limit : page * limit]
        return json_reply({"data": [self._public(o) for o in chunk], "paging": self._paging(len(orders), page, limit)})

    def get_order(self, request: Request, code: str) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        order = self.store.get("order", code)
        if order is None or str(order["_shop_id"]) != str(record["shop_id"]):
            return self._err(404, "Not found: order not found")
        return json_reply(self._public(order))

    def create_order(self, shop_id: str, lines: list[dict], status: str) -> dict:
        status = status or "queueing"
        if status not in ORDER_STATUSES:
            raise SandboxError(f"unknown Tiki order status {status}")
        items, subtotal, quantity = [], 0, 0
        for line in lines:
            product = self._approved(shop_id, original_sku=line["sku"])
            if product is None:
                raise SandboxError(f"shop {shop_id} has no approved product {line['sku']}")
            qty, price = int(line["quantity"]), product["price"]
            subtotal, quantity = subtotal + qty * price, quantity + qty
            items.append(
                {"id": self.store.next_id("tiki_order_item", start=213040701),
                 "product": {"id": product["product_id"], "type": "simple", "sku": product["tiki_sku"],
                             "name": product["name"], "seller_product_code": product["original_sku"],
                             "inventory_type": product["inventory_type"]},
                 "seller": {"id": int(shop_id)}, "price": price, "qty": qty,
                 "invoice": {"price": price, "quantity": qty, "subtotal": qty * price, "row_total": qty * price,
                             "discount_amount": 0, "seller_fee": 0, "seller_income": qty * price}}
            )  # fmt: skip
        stamp = now_text()
        code = str(self.store.next_id("tiki_order_code", start=583518501))
        order = {
            "id": self.store.next_id("tiki_order_id", start=126222001),
            "code": code,
            "fulfillment_type": "dropship",
            "status": status,
            "items": items,
            "invoice": {"items_count": len(items), "items_quantity": quantity, "subtotal": subtotal,
                        "grand_total": subtotal, "collectible_amount": 0, "discount_amount": 0,
                        "shipping_amount_after_discount": 0, "total_seller_fee": 0,
                        "total_seller_income": subtotal, "purchased_at": stamp},
            "created_at": stamp,
            "updated_at": stamp,
            "_shop_id": shop_id,
            "_announced": False,
        }  # fmt: skip
        self._announce(order, status_changed=False)
        self.store.put("order", code, order, shop=shop_id)
        return self._public(order)

    def set_order_status(self, order_id: str, status: str) -> dict:
        order = self.store.get("order", order_id) or next(
            (o for o in self.store.all("order") if str(o["id"]) == str(order_id)), None
        )
        if order is None:
            raise SandboxError(f"no Tiki order {order_id}")
        if status not in ORDER_STATUSES:
            raise SandboxError(f"unknown Tiki order status {status}")
        order["status"], order["updated_at"] = status, now_text()
        self._announce(order, status_changed=True)
        self.store.put("order", order["code"], order, shop=order["_shop_id"])
        return self._public(order)

    # -- event queue --------------------------------------------------------------------------------------------

    def _announce(self, order: dict, *, status_changed: bool) -> None:
        """Route the order's events to every queue the shop subscribed them to."""
        payload = {"order_code": order["code"], "status": order["status"]}
        if not order["_announced"] and order["status"] not in BEFORE_QUEUEING:
            order["_announced"] = True
            self._enqueue(order["_shop_id"], "ORDER_CREATED_SUCCESSFULLY", payload)
        if status_changed:
            self._enqueue(order["_shop_id"], "ORDER_STATUS_UPDATED", {**payload, "orderCode": order["code"]})

    def _enqueue(self, shop_id: str, event_type: str, payload: dict) -> None:
        for subscription in self.store.all("subscription"):
            if subscription["_shop_id"] != str(shop_id) or subscription["event_type"] != event_type:
                continue
            if not subscription["active"]:
                continue
            seq = self.store.next_id("tiki_event_seq")
            event = {"id": str(uuid.uuid4()), "sid": self._sid(shop_id), "created_at": int(time.time() * 1000),
                     "payload": payload, "type": event_type, "version": "v1"}  # fmt: skip
            key = f"{subscription['_queue']}:{seq:012d}"
            self.store.put(
                "queue_event", key, {"key": key, "seq": seq, "event": event, "acked": False},
                shop=subscription["_queue"],
            )  # fmt: skip

    def _queue(self, app: dict, code: str) -> dict | None:
        queue = self.store.get("queue", code)
        return queue if queue and queue["_client_id"] == app["app"] else None

    def list_queues(self, request: Request) -> Reply:
        app, error = self._app(request)
        if error:
            return error
        return json_reply([self._public(q) for q in self.store.all("queue", shop=app["app"])])

    def create_queue(self, request: Request) -> Reply:
        app, error = self._app(request)
        if error:
            return error
        data, error = self._body(request)
        if error:
            return error
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"].strip():
            return self._err(400, "Bad request: name is required")
        code = str(uuid.uuid4())
        queue = {"code": code, "name": data["name"], "status": "ACTIVE", "_client_id": app["app"]}
        self.store.put("queue", code, queue, shop=app["app"])
        return json_reply(self._public(queue))

    def list_subscriptions(self, request: Request, code: str) -> Reply:
        app, error = self._app(request)
        if error:
            return error
        if self._queue(app, code) is None:
            return self._err(404, "Not found: queue not found")
        rows = [self._public(s) for s in self.store.all("subscription") if s["_queue"] == code]
        return json_reply(rows)

    def create_subscription(self, request: Request, code: str) -> Reply:
        record, error = self._seller(request)
        if error:
            return error
        data, error = self._body(request)
        if error:
            return error
        queue = self.store.get("queue", code)
        if queue is None:
            return self._err(404, "Not found: queue not found")
        event_type = data.get("event_type") if isinstance(data, dict) else None
        if event_type not in EVENT_TYPES:
            return self._err(400, f"Bad request: event_type must be one of {', '.join(EVENT_TYPES)}")
        shop_id = str(record["shop_id"])
        key = f"{code}:{shop_id}:{event_type}"
        subscription = self.store.get("subscription", key)
        if subscription is None:
            subscription = {"code": str(uuid.uuid4()), "active": True, "event_type": event_type,
                            "sid": self._sid(shop_id), "_queue": code, "_shop_id": shop_id}  # fmt: skip
            self.store.put("subscription", key, subscription)
        return json_reply(self._public(subscription))

    def pull_events(self, request: Request, code: str) -> Reply:
        """At-least-once: every pull returns the oldest unacknowledged events (up to a batch) with
        a fresh ack_id; sending that ack_id with a later pull acknowledges that batch."""
        app, error = self._app(request)
        if error:
            return error
        data, error = self._body(request)
        if error:
            return error
        if self._queue(app, code) is None:
            return self._err(404, "Not found: queue not found")
        ack_id = data.get("ack_id") if isinstance(data, dict) else None
        if ack_id:
            ack = self.store.get("queue_ack", str(ack_id))
            if ack is None or ack["queue"] != code:
                return self._err(400, "Bad request: ack_id is invalid")
            for key in ack["keys"]:
                entry = self.store.get("queue_event", key)
                if entry and not entry["acked"]:
                    entry["acked"] = True
                    self.store.put("queue_event", key, entry, shop=code)
        pending = sorted(
            (e for e in self.store.all("queue_event", shop=code) if not e["acked"]), key=lambda e: e["seq"]
        )
        batch = pending[: self.pull_batch]
        if not batch:
            return json_reply({"events": [], "ack_id": None})
        new_ack = str(uuid.uuid4())
        self.store.put("queue_ack", new_ack, {"queue": code, "keys": [e["key"] for e in batch]})
        return json_reply({"events": [e["event"] for e in batch], "ack_id": new_ack})
