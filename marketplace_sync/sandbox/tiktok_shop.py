"""TikTok Shop Partner API 202309, emulated for local runs and tests.

An independent implementation of what marketplaces.md §3 and the stored TikTok pages say (Sign
your API request, Common errors, Create/Get/Edit/Search Product, Update Price/Inventory,
Deactivate Products, Upload Product Image, Get Warehouse List, Get Order List/Detail, Get
Authorized Shops, the 202309 authorization guide, the order-status webhook). It imports nothing
from the connectors: the signature below is written again from the documentation, so that a
misreading on either side shows up as a 106001.

Layout (config.settings.base.sandbox_marketplaces): one root serves the API paths
(`/product/202309/...`), the token endpoints (`/api/v2/token/get|refresh`) and the service
authorization page (`/open/authorize`). Control API extras for this sandbox: POST
`/_sandbox/redirect-url {"url"}` (the app's Redirect URL, which the real app registers in Partner
Center) and POST `/_sandbox/items/<product_id>/status {"status", "reason"}` (what the platform or
the seller did in Seller Center). Choices are listed in docs/connectors/tiktok_shop.md.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import re
import secrets
import time
import urllib.parse
from pathlib import Path
from typing import Any

from PIL import Image

from .base import Reply, Request, Sandbox, SandboxError, html_reply, json_reply

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "marketplaces"
V = "202309"

ACCESS_TTL = 7 * 24 * 3600  # "default expiration time set to seven days"
AUTHORIZATION_TTL = 365 * 24 * 3600  # refresh_token_expire_in = authorization duration (sandbox: a year)

ORDER_STATUSES = (
    "UNPAID",
    "ON_HOLD",
    "AWAITING_SHIPMENT",
    "PARTIALLY_SHIPPING",
    "AWAITING_COLLECTION",
    "IN_TRANSIT",
    "DELIVERED",
    "COMPLETED",
    "CANCELLED",
)
IMAGE_USE_CASES = ("MAIN_IMAGE", "ATTRIBUTE_IMAGE", "DESCRIPTION_IMAGE", "CERTIFICATION_IMAGE", "SIZE_CHART_IMAGE")
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "HEIF", "HEIC")

# Messages copied from the stored "Common errors" page and the endpoints' Error Code tables.
MSG = {
    36009002: "Too many requests. You've made too many requests in a short period of time.",
    36009003: "Internal error. Please try again. If the issue persists after multiple attempts, please contact "
    "platform support.",
    36009009: "Invalid path. The specified path does not match any available endpoint.",
    36009022: "Invalid request format. The request body format must be `application/json` for structured data or "
    "`multipart/form-data` for binary files.",
    36009023: "Invalid request format. The value of the `content-type` header must be `multipart/form-data`.",
    106001: "Invalid credentials. The `sign` query parameter is invalid.",
    105002: "Expired credentials. The `access_token` or `x-tts-access-token` header has expired.",
    106013: "Missing identifier. The `shop_cipher` query parameter is required to identify the target shop.",
    101000: "Invalid query or header. The `category_asset_cipher` query parameter or `x-tts-access-token` header "
    "is invalid.",
    36004004: "Invalid auth code.",
    12052910: "Invalid input parameters. Refer to the API documentation for details.",
}
BAD_APP_KEY = "Invalid credentials. Invalid `app_key` query parameter."
NO_SIGN = "Missing credentials. The request does not include a required signature in the query."
BAD_TOKEN = "Invalid credentials. The `x-tts-access-token` header is invalid."
TS_NEGATIVE = "Invalid timestamp. The value of the `timestamp` query parameter must not be lesser than 0."
TS_OLD = (
    "Invalid timestamp. The value of the `timestamp` query parameter must not be earlier than 5 minutes before the "
    "current time."
)
TS_FUTURE = (
    "Invalid timestamp. The value of the `timestamp` query parameter must not exceed the current time by more than "
    "30 seconds."
)
UNEXPECTED_CIPHER = "Unexpected identifier. The `shop_cipher` query parameter is not required for this request."
TITLE_FORMAT = (
    "The title must follow these formatting rules: it cannot contain HTML escape characters (e.g., &nbsp;), emojis, "
    "or ASCII control characters (e.g., \\u007F). It also cannot consist solely of symbols (e.g., //// or !@#$$$&), "
    "nor can it have more than 9 consecutive repeated characters (e.g., aaaaaaaaa or 111111111)."
)
SKU_LIST_EMPTY = "The SKU list is empty. Either omit the list entirely, or provide all required details."
QUANTITY_LIMITS = "The SKU inventory quantity for the warehouse must be within allowed limits."
MULTIPLE_WAREHOUSES = (
    "Multiple warehouses detected. Include all warehouse IDs and the corresponding details and try again."
)
IMPERIAL = "Product weight or dimensions unit does not support the imperial units on non-US local products."
STATUS_NOT_ALLOWED = (
    "The product in its current status is not available for this operation. Change the product status and try again."
)

# What the audit refuses (sandbox rules, after listing_rules_vn.csv "title content").
_PROMOTION = re.compile(r"giảm giá|khuyến mãi|khuyến mại|flash sale|\bsale\b|freeship|rẻ nhất", re.IGNORECASE)
_CONTACT = re.compile(r"(?<!\d)(?:\+?84|0)(?:[ .-]?\d){9}(?!\d)|https?://|\bwww\.", re.IGNORECASE)
_PLATFORM = re.compile(r"\b(?:shopee|lazada|tiki|sendo)\b", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
DESCRIPTION_MIN_TEXT = 30  # characters of text once the HTML tags are gone

_HAN = re.compile(r"[\u4e00-\u9fff]")
_BAD_TITLE = re.compile(
    r"&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);|[\x00-\x1f\x7f]|[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]|(.)\1{9,}"
)

_categories_cache: tuple[frozenset[str], frozenset[str]] | None = None


def categories() -> tuple[frozenset[str], frozenset[str]]:
    """(leaf ids, non-leaf ids) this sandbox knows: the leaves of the stored TikTok tree and
    every TikTok id in the OCOP category map."""
    global _categories_cache
    if _categories_cache is None:
        leaves, parents = set(), set()
        with open(DATA_DIR / "tiktok_categories_id-region.csv", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                (leaves if row["leaf"] == "Y" else parents).add(row["category_id"].strip())
        with open(DATA_DIR / "ocop_category_map.csv", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["tiktok_category_id"].strip():
                    leaves.add(row["tiktok_category_id"].strip())
        _categories_cache = frozenset(leaves), frozenset(parents - leaves)
    return _categories_cache


def _request_id() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(10).upper()


def _reply(code: int, message: str, data: Any = None, status: int = 200) -> Reply:
    return json_reply({"code": code, "message": message, "request_id": _request_id(), "data": data}, status)


def _ok(data: Any, message: str = "Success") -> Reply:
    return _reply(0, message, data)


def _fail(code: int, message: str = "", status: int = 200) -> Reply:
    """Business errors come back with HTTP 200 and the code in the body; gateway errors with
    their HTTP status (see the docs file)."""
    return _reply(code, message or MSG[code], None, status)


def tts_sign(app_secret: str, path: str, pairs: list[tuple[str, str]], body: bytes) -> str:
    """Sign your API request, written from the documentation: parameters other than sign and
    access_token, sorted by name, as name+value, behind the path, then the body, the secret
    around it all, HMAC-SHA256 with the secret, hex."""
    kept = sorted((name, value) for name, value in pairs if name not in ("sign", "access_token"))
    text = path + "".join(name + value for name, value in kept)
    return hmac.new(
        app_secret.encode(), app_secret.encode() + text.encode() + body + app_secret.encode(), hashlib.sha256
    ).hexdigest()


def _page_token(offset: int, key: str) -> str:
    return base64.b64encode(json.dumps({"offset": offset, "key": key}).encode()).decode()


def _read_page_token(token: str, key: str) -> int | None:
    try:
        value = json.loads(base64.b64decode(token.encode()))
    except ValueError:
        return None
    return int(value["offset"]) if isinstance(value, dict) and value.get("key") == key else None


def _extra_error(warehouse_id: Any, code: int, message: str) -> dict:
    return {"warehouse_id": warehouse_id, "code": code, "message": message}


class ParamError(Exception):
    def __init__(self, code: int, message: str = ""):
        super().__init__(message)
        self.code, self.message = code, message or MSG.get(code, "")


class TikTokShopSandbox(Sandbox):
    name = "tiktok_shop"
    title = "TikTok Shop"
    default_requests_per_second = 50.0  # "50 QPS per API per (app, shop)" (§3.6)
    code_ttl = 30 * 60  # auth_code: 30 minutes, once

    def __init__(self, *, credentials: dict[str, str], redirect_url: str = "", **kwargs):
        super().__init__(credentials=credentials, **kwargs)
        # The app's Redirect URL, which a real app registers in Partner Center.
        self.redirect_url = redirect_url or credentials.get("REDIRECT_URL", "")

    def routes(self):
        product = rf"/product/{V}/products/(?P<product_id>\d+)"
        return [
            ("*", r"/open/authorize", self.authorize),
            ("GET", r"/api/v2/token/get", self.token_get),
            ("GET", r"/api/v2/token/refresh", self.token_refresh),
            ("GET", rf"/authorization/{V}/shops", self.authorized_shops),
            ("GET", rf"/logistics/{V}/warehouses", self.warehouses),
            ("POST", rf"/product/{V}/images/upload", self.upload_image),
            ("POST", rf"/product/{V}/products", self.create_product),
            ("POST", rf"/product/{V}/products/search", self.search_products),
            ("POST", rf"/product/{V}/products/deactivate", self.deactivate_products),
            ("GET", product, self.get_product),
            ("PUT", product, self.edit_product),
            ("POST", product + "/prices/update", self.update_price),
            ("POST", product + "/inventory/update", self.update_inventory),
            ("POST", rf"/order/{V}/orders/search", self.search_orders),
            ("GET", rf"/order/{V}/orders", self.order_detail),
        ]

    # -- framework hooks

    def shop_of(self, request: Request) -> str | None:
        token = request.header("x-tts-access-token")
        record = self.store.get("access_token", token) if token else None
        return str(record["shop_id"]) if record else None

    def error_reply(self, kind: str, request: Request) -> Reply:
        if kind == "rate_limited":
            return _fail(36009002, status=429)
        if kind == "server_error":
            return _fail(36009003, status=500)
        return _fail(36009009, status=404)

    def control(self, request: Request) -> Reply:
        path = request.path[len("/_sandbox/") :].strip("/")
        data = request.json if request.body else {}
        if path == "redirect-url" and request.method == "POST":
            self.redirect_url = data["url"]
            return json_reply({"url": self.redirect_url})
        match = re.fullmatch(r"items/(?P<item_id>[^/]+)/status", path)
        if match and request.method == "POST":
            return json_reply(self.set_item_status(match["item_id"], data["status"], data.get("reason", "")))
        return super().control(request)

    # -- shops

    def _shop(self, shop_id: str) -> dict:
        shop = self.store.get("shop", shop_id)
        if shop is None:
            raise SandboxError(f"no shop {shop_id}")
        if "cipher" not in shop:
            digest = hashlib.sha256(f"tiktok-sandbox-shop:{shop_id}".encode()).digest()
            number = 7_000_714_532_876_000_000 + int(shop_id) * 10
            shop.update(
                cipher="ROW_" + base64.urlsafe_b64encode(digest[:24]).decode().rstrip("="),
                code="VNLC" + digest.hex()[:6].upper(),
                region="VN",
                seller_type="LOCAL",
                warehouses=[
                    {
                        "id": str(number + 1),
                        "name": "Kho bán hàng sandbox",
                        "effect_status": "ENABLED",
                        "type": "SALES_WAREHOUSE",
                        "sub_type": "DOMESTIC_WAREHOUSE",
                        "is_default": True,
                        "address": {"region": "Vietnam", "region_code": "VN", "city": "Hà Nội"},
                    },
                    {
                        "id": str(number + 2),
                        "name": "Kho nhận hàng trả sandbox",
                        "effect_status": "ENABLED",
                        "type": "RETURN_WAREHOUSE",
                        "sub_type": "DOMESTIC_WAREHOUSE",
                        "is_default": True,
                        "address": {"region": "Vietnam", "region_code": "VN", "city": "Hà Nội"},
                    },
                ],
            )
            self.store.put("shop", shop_id, shop, shop=shop_id)
        return shop

    # -- the gateway: app key, signature, timestamp, token, shop_cipher, content type

    def _gate(self, request: Request, *, shop_scoped: bool, multipart: bool = False) -> str:
        query = request.query
        if query.get("app_key") != self.credentials["APP_KEY"]:
            raise ParamError(36009004, BAD_APP_KEY)
        if not query.get("sign"):
            raise ParamError(36009004, NO_SIGN)
        stamp = query.get("timestamp", "")
        if not re.fullmatch(r"-?\d+", stamp) or int(stamp) < 0:
            raise ParamError(36009004, TS_NEGATIVE)
        now = time.time()
        if int(stamp) < now - 300:
            raise ParamError(36009004, TS_OLD)
        if int(stamp) > now + 30:
            raise ParamError(36009004, TS_FUTURE)
        content_type = request.header("content-type")
        signed_body = b"" if content_type.startswith("multipart/form-data") else request.body
        expected = tts_sign(self.credentials["APP_SECRET"], request.path, request.query_list, signed_body)
        if not hmac.compare_digest(expected, query["sign"]):
            raise ParamError(106001)
        state, record = self.access_token_state(request.header("x-tts-access-token"))
        if state == "invalid":
            raise ParamError(36009004, BAD_TOKEN)
        if state == "expired":
            raise ParamError(105002)
        shop_id = str(record["shop_id"])
        cipher = query.get("shop_cipher")
        if shop_scoped and not cipher:
            raise ParamError(106013)
        if not shop_scoped and cipher:
            raise ParamError(36009004, UNEXPECTED_CIPHER)
        if shop_scoped and cipher != self._shop(shop_id)["cipher"]:
            raise ParamError(101000)
        if multipart and not content_type.startswith("multipart/form-data"):
            raise ParamError(36009023)
        if not multipart and not content_type.startswith("application/json"):
            raise ParamError(36009022)
        return shop_id

    _GATEWAY_STATUS = {36009004: 401, 106001: 401, 105002: 401, 101000: 401, 106013: 400, 36009022: 400, 36009023: 400}

    def _api(self, request: Request, work, *, shop_scoped: bool = True, multipart: bool = False) -> Reply:
        try:
            shop_id = self._gate(request, shop_scoped=shop_scoped, multipart=multipart)
        except ParamError as error:
            return _fail(error.code, error.message, self._GATEWAY_STATUS.get(error.code, 200))
        try:
            return work(shop_id)
        except ParamError as error:
            return _fail(error.code, error.message)

    @staticmethod
    def _body(request: Request) -> dict:
        try:
            body = request.json
        except ValueError as error:
            raise ParamError(12052910) from error
        if not isinstance(body, dict):
            raise ParamError(12052910)
        return body

    # -- authorisation (authorization guide 202309)

    def authorize(self, request: Request) -> Reply:
        if request.query.get("service_id") != self.credentials["SERVICE_ID"]:
            return html_reply("<!doctype html><meta charset=utf-8><p>Invalid service_id.</p>", 400)
        if not self.redirect_url:
            return html_reply(
                "<!doctype html><meta charset=utf-8><p>This app has no Redirect URL. Register one (Partner Center; "
                "here: POST /_sandbox/redirect-url or SANDBOX_CREDENTIALS REDIRECT_URL).</p>",
                400,
            )
        state = request.query.get("state", "")
        target = self.redirect_url

        def redirect_to(shop_id: str, code: str) -> str:
            separator = "&" if "?" in target else "?"
            return f"{target}{separator}{urllib.parse.urlencode({'code': code, 'state': state})}"

        return self.authorization_page(request, redirect_to=redirect_to)

    def _app_credentials(self, query: dict) -> None:
        if query.get("app_key") != self.credentials["APP_KEY"]:
            raise ParamError(36009004, BAD_APP_KEY)
        if query.get("app_secret") != self.credentials["APP_SECRET"]:
            raise ParamError(36009004, "Invalid credentials. Invalid `app_secret` query parameter.")

    def _token_data(self, shop_id: str, access: str, access_expires: float, refresh: str, refresh_expires: float):
        shop = self._shop(shop_id)
        return {
            "access_token": access,
            "access_token_expire_in": int(access_expires),
            "refresh_token": refresh,
            "refresh_token_expire_in": int(refresh_expires),
            "open_id": f"sandbox-open-{shop_id}",
            "seller_name": shop["name"],
            "seller_base_region": "VN",
            "user_type": 0,
            "granted_scopes": ["seller.authorization.info", "seller.product.basic", "seller.order.info"],
        }

    def token_get(self, request: Request) -> Reply:
        query = request.query
        try:
            self._app_credentials(query)
            if query.get("grant_type") != "authorized_code":
                raise ParamError(36009004, "Invalid grant_type. Only `authorized_code` is accepted.")
            record = self.redeem_code(query.get("auth_code", ""))
            if record is None:
                raise ParamError(36004004)
        except ParamError as error:
            return _fail(error.code, error.message)
        tokens = self.issue_tokens(record["shop_id"], access_ttl=ACCESS_TTL, refresh_ttl=AUTHORIZATION_TTL)
        data = self._token_data(
            record["shop_id"],
            tokens["access_token"],
            tokens["access_expires_at"],
            tokens["refresh_token"],
            tokens["refresh_expires_at"],
        )
        return _ok(data, "success")

    def token_refresh(self, request: Request) -> Reply:
        query = request.query
        try:
            self._app_credentials(query)
            if query.get("grant_type") != "refresh_token":
                raise ParamError(36009004, "Invalid grant_type. Only `refresh_token` is accepted.")
            record = self.use_refresh_token(query.get("refresh_token", ""), single_use=False)
            if record is None:
                raise ParamError(36004004, "Invalid refresh token.")
        except ParamError as error:
            return _fail(error.code, error.message)
        # A new access token; the refresh token and the authorization's end stay as they were.
        access, expires = secrets.token_hex(16), time.time() + ACCESS_TTL
        shop_id = str(record["shop_id"])
        self.store.put(
            "access_token", access, {"token": access, "shop_id": shop_id, "expires_at": expires}, shop=shop_id
        )
        return _ok(self._token_data(shop_id, access, expires, record["token"], record["expires_at"]), "success")

    def authorized_shops(self, request: Request) -> Reply:
        def work(shop_id):
            shop = self._shop(shop_id)
            keys = ("cipher", "code", "name", "region", "seller_type")
            return _ok({"shops": [{"id": shop_id, **{key: shop[key] for key in keys}}]})

        return self._api(request, work, shop_scoped=False)

    def warehouses(self, request: Request) -> Reply:
        return self._api(request, lambda shop_id: _ok({"warehouses": self._shop(shop_id)["warehouses"]}))

    # -- images

    def upload_image(self, request: Request) -> Reply:
        def work(shop_id):
            parts = request.files.get("data") or []
            if not parts or not parts[0].content:
                raise ParamError(12038002, "Invalid upload file. Please ensure you are passing the correct file data.")
            use_case = request.form.get("use_case") or "MAIN_IMAGE"
            if use_case not in IMAGE_USE_CASES:
                raise ParamError(11050001, "invalid param")
            content = parts[0].content
            if len(content) > 10 * 1024 * 1024:
                raise ParamError(12038005, "The file size exceeds the maximum allowed size.")
            try:
                picture = Image.open(io.BytesIO(content))
                width, height, kind = picture.width, picture.height, picture.format
            except Exception as error:  # not an image Pillow can read
                raise ParamError(
                    12038004, "Failed to process the image. The format or content is not supported."
                ) from error
            if kind not in IMAGE_FORMATS:
                raise ParamError(
                    12038015,
                    "Failed to process the image. The format or content is not supported. Supported formats: "
                    "JPG, JPEG, PNG, WEBP, HEIC, BMP",
                )
            low, high = (300, 4000) if use_case == "MAIN_IMAGE" else (100, 20000)
            if use_case == "SIZE_CHART_IMAGE":
                low = max(low, 1024)
            if not (low <= width <= high and low <= height <= high):
                raise ParamError(
                    12038014,
                    "The image dimensions exceed the allowed limits. Allowed dimensions (width x height in "
                    f"pixels): {low} x {low} to {high} x {high}",
                )
            if use_case in ("MAIN_IMAGE", "ATTRIBUTE_IMAGE") and not 3 / 4 <= width / height <= 4 / 3:
                width = height = max(width, height)  # "automatically converted to 1:1"
            uri = f"tos-alisg-i-sandbox-vn/{secrets.token_hex(16)}"
            image = {
                "uri": uri,
                "url": f"https://p16-oec-sg.ibyteimg.com/{uri}~tplv-origin-jpeg.jpeg",
                "width": width,
                "height": height,
                "use_case": use_case,
            }
            self.store.put("image", uri, {**image, "shop_id": shop_id, "bytes": len(content)}, shop=shop_id)
            return _ok(image)

        return self._api(request, work, shop_scoped=False, multipart=True)

    # -- products: validation (Create Product 202309 rules and error codes)

    def _validate(self, shop_id: str, body: dict, *, existing: dict | None = None) -> dict:
        """The product fields of a Create/Edit body, checked as TikTok checks them; raises
        ParamError with TikTok's code on the first problem."""
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise ParamError(12052261, "product name is empty")
        title = title.strip()
        if len(title) > 255:
            raise ParamError(12052051, "The product name exceed max limit characters")
        if len(title) < 25:
            raise ParamError(12052910, MSG[12052910] + " The product title must be 25-255 characters.")
        if _BAD_TITLE.search(title) or not any(character.isalnum() for character in title):
            raise ParamError(12052931, TITLE_FORMAT)
        if _HAN.search(title):
            raise ParamError(12052262, "Chinese characters are not supported in product name")
        description = body.get("description")
        if not isinstance(description, str) or not description.strip():
            raise ParamError(12052015, "The product description is required")
        if len(description) > 10_000:
            raise ParamError(12052013, "The product description cannot exceed maximum characters")
        if _HAN.search(description):
            raise ParamError(12052346, "The product description has Chinese characters")
        if body.get("category_version", "v1") != "v1":
            raise ParamError(
                12052217,
                "Incorrect category version. For US shops or global sellers with an active US shop, specify "
                "'category version=v2'. For shops in other regions specify 'category_version=v1'.",
            )
        category = body.get("category_id")
        if not isinstance(category, str) or not category.isdigit():
            raise ParamError(12052002, "Incorrect category format")
        leaves, parents = categories()
        if category in parents:
            raise ParamError(12052024, "Category is not final category")
        if category not in leaves:
            raise ParamError(12052023, "Category does not exist")
        images = body.get("main_images")
        if not isinstance(images, list) or not images:
            raise ParamError(12052028, "Main product image is required")
        if len(images) > 9:
            raise ParamError(12052306, "main product images count exceed limit")
        main_images = []
        for image in images:
            uri = image.get("uri") if isinstance(image, dict) else None
            stored = self.store.get("image", uri) if isinstance(uri, str) else None
            if stored is None or stored["shop_id"] != shop_id or stored["use_case"] != "MAIN_IMAGE":
                raise ParamError(12052300, "product main image uri illegal")
            main_images.append(
                {
                    "uri": uri,
                    "urls": [stored["url"]],
                    "thumb_urls": [stored["url"]],
                    "width": stored["width"],
                    "height": stored["height"],
                }
            )
        skus = self._validate_skus(shop_id, body.get("skus"), existing)
        weight = body.get("package_weight")
        if not isinstance(weight, dict):
            raise ParamError(12019011, "product package weight is invalid")
        if weight.get("unit") == "POUND":
            raise ParamError(
                12019061,
                IMPERIAL,
            )
        value = weight.get("value")
        if (
            weight.get("unit") != "KILOGRAM"
            or not isinstance(value, str)
            or not re.fullmatch(r"\d+(\.\d{1,3})?", value)
        ):
            raise ParamError(12052006, "Incorrect parcel weight format")
        if float(value) == 0:
            raise ParamError(12052181, "The package weight of the product can not be zero.")
        dimensions = body.get("package_dimensions")
        if dimensions is not None:
            if not isinstance(dimensions, dict):
                raise ParamError(12052116, "product package size is invalid")
            if dimensions.get("unit") == "INCH":
                raise ParamError(12052915, "package weight unit and dimension unit miss match.")
            if dimensions.get("unit") != "CENTIMETER":
                raise ParamError(12052116, "product package size is invalid")
            for name, code in (("length", 12052005), ("width", 12052004), ("height", 12052003)):
                if not isinstance(dimensions.get(name), str) or not re.fullmatch(r"[1-9]\d*", dimensions[name]):
                    raise ParamError(code, f"Incorrect parcel {name} format")
        key = body.get("idempotency_key")
        if key is not None and (not isinstance(key, str) or len(key) > 128):
            raise ParamError(12052910)
        if body.get("save_mode", "LISTING") not in ("LISTING", "AS_DRAFT"):
            raise ParamError(12052910)
        return {
            "title": title,
            "description": description,
            "category_id": category,
            "category_version": "v1",
            "main_images": main_images,
            "skus": skus,
            "package_weight": {"value": value, "unit": "KILOGRAM"},
            "package_dimensions": dimensions,
        }

    def _validate_skus(self, shop_id: str, skus: Any, existing: dict | None) -> list[dict]:
        if not isinstance(skus, list) or not skus:
            raise ParamError(12052902, SKU_LIST_EMPTY)
        if len(skus) > 100:
            raise ParamError(12052050, "A single product cannot have more than 100 different SKUs")
        if len(skus) > 1 and not all(isinstance(sku, dict) and sku.get("sales_attributes") for sku in skus):
            raise ParamError(12052550, "SKU property must contain all properties")
        old = {sku["id"]: sku for sku in (existing or {}).get("skus", [])}
        sales = {item["id"] for item in self._shop(shop_id)["warehouses"] if item["type"] == "SALES_WAREHOUSE"}
        every_warehouse = {item["id"] for shop in self.store.all("shop") for item in shop.get("warehouses", [])}
        result = []
        for sku in skus:
            if not isinstance(sku, dict):
                raise ParamError(12052910)
            sku_id = sku.get("id")
            if sku_id is not None and sku_id not in old:
                raise ParamError(12052556, "The SKU id not exist.")
            seller_sku = sku.get("seller_sku", "")
            if not isinstance(seller_sku, str) or len(seller_sku) > 50:
                raise ParamError(12052054, "The seller SKU text length cannot exceed max limit characters")
            if re.search(r"\s", seller_sku):
                raise ParamError(12052910, MSG[12052910] + " seller_sku must not contain spaces.")
            price = sku.get("price")
            if not isinstance(price, dict) and sku_id is not None:
                price = {"amount": old[sku_id]["price"]["amount"], "currency": "VND"}  # Edit keeps the price
            amount = self._checked_price(price)
            inventory = sku.get("inventory")
            if inventory is None and sku_id is not None:
                inventory = old[sku_id]["inventory"]
            if not isinstance(inventory, list) or not inventory:
                raise ParamError(12019022, "SKU must contain a valid warehouse.")
            lines = []
            for line in inventory:
                warehouse = line.get("warehouse_id") if isinstance(line, dict) else None
                if warehouse not in sales:
                    if warehouse in every_warehouse:
                        raise ParamError(
                            12052530, f"The warehouse ' {warehouse} ' does not belong to this shop/seller."
                        )
                    raise ParamError(12052097, "The warehouse does not exist")
                quantity = line.get("quantity")
                if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 99_999:
                    raise ParamError(12052055, QUANTITY_LIMITS)
                lines.append({"warehouse_id": warehouse, "quantity": quantity})
            result.append(
                {
                    "id": sku_id or str(1_729_592_969_712_300_000 + self.store.next_id("sku")),
                    "seller_sku": seller_sku,
                    "price": {"amount": amount, "currency": "VND"},
                    "inventory": lines,
                }
            )
        return result

    @staticmethod
    def _checked_price(price: Any) -> str:
        if not isinstance(price, dict):
            raise ParamError(12052073, "The product price is invalid")
        if price.get("currency") != "VND":
            raise ParamError(12052084, "The provided currency is not available for this shop/region.")
        amount = price.get("amount")
        if not isinstance(amount, str) or not re.fullmatch(r"\d+", amount) or int(amount) < 1:
            raise ParamError(12052073, "The product price is invalid")
        if int(amount) > 180_000_000:  # VN local sellers (Product Pricing)
            raise ParamError(12052570, "product price exceed limit")
        return amount

    # -- products: views

    @staticmethod
    def _mirror(item: dict) -> None:
        """Flat copies for /_sandbox/items and the product page."""
        sku = item["skus"][0]
        item["seller_sku"] = sku["seller_sku"]
        item["price_vnd"] = int(sku["price"]["amount"])
        item["stock"] = sum(line["quantity"] for line in sku["inventory"])
        item["audit_status"] = item["audit"]["status"]

    @staticmethod
    def _sku_view(sku: dict) -> dict:
        amount = sku["price"]["amount"]
        price = {"currency": "VND", "sale_price": amount, "tax_exclusive_price": amount}
        return {"id": sku["id"], "seller_sku": sku["seller_sku"], "price": price, "inventory": sku["inventory"]}

    def _product_view(self, item: dict, *, under_review: bool = False) -> dict:
        content = {**item, **item["pending"]} if under_review and item.get("pending") else item
        keys = ("title", "description", "main_images", "package_weight", "audit_failed_reasons", "audit")
        view = {"id": item["item_id"], "status": item["status"], **{key: content[key] for key in keys}}
        leaf = {"id": content["category_id"], "parent_id": "0", "local_name": "", "is_leaf": True}
        view.update(
            category_chains=[leaf],
            skus=[self._sku_view(sku) for sku in item["skus"]],
            create_time=item["create_time"],
            update_time=item["update_time"],
            has_draft=False,
            product_status=item["status"] if item["status"] != "PENDING" else "ACTIVATE",
        )
        if content.get("package_dimensions"):
            view["package_dimensions"] = content["package_dimensions"]
        return view

    def _item(self, shop_id: str, product_id: str) -> dict:
        self.finish_reviews()
        item = self.store.get("item", product_id)
        if item is None or item["shop_id"] != shop_id:
            raise ParamError(12052032, "The product does not exist")
        if item["status"] in ("FREEZE", "DELETED"):  # Get Product and the edits do not see them
            raise ParamError(12052032, "The product does not exist")
        return item

    # -- products: endpoints

    def create_product(self, request: Request) -> Reply:
        def work(shop_id):
            body = self._body(request)
            fields = self._validate(shop_id, body)
            key = body.get("idempotency_key")
            if key:
                seen = self.store.get("idempotency", f"{shop_id}:{key}")
                if seen and seen["expires_at"] > time.time():
                    earlier = self.store.get("item", seen["product_id"])
                    if earlier is not None and earlier["status"] != "DELETED":
                        return _ok(seen["data"])
            now = int(time.time())
            product_id = str(1_729_592_969_712_200_000 + self.store.next_id("product"))
            item = {"item_id": product_id, "shop_id": shop_id, **fields}
            item.update(create_time=now, update_time=now, audit_failed_reasons=[])
            if body.get("save_mode") == "AS_DRAFT":
                item.update(status="DRAFT", audit={"status": "NONE"})
            else:
                item.update(status="PENDING", audit={"status": "AUDITING"})
                self.new_item_review(item)
            self._mirror(item)
            self.save_item(item)
            data = {
                "product_id": product_id,
                "skus": [
                    {"id": sku["id"], "seller_sku": sku["seller_sku"], "sales_attributes": []} for sku in item["skus"]
                ],
                "warnings": [],
            }
            if key:
                record = {"product_id": product_id, "data": data, "expires_at": time.time() + 24 * 3600}
                self.store.put("idempotency", f"{shop_id}:{key}", record, shop=shop_id)
            reply = _ok(data)
            # "Timed out after the marketplace created it": the product exists, the answer is late.
            reply.delay_after = self.timeout_reply_delay()
            return reply

        return self._api(request, work)

    def get_product(self, request: Request, product_id: str) -> Reply:
        def work(shop_id):
            item = self._item(shop_id, product_id)
            under_review = request.query.get("return_under_review_version") == "true"
            return _ok(self._product_view(item, under_review=under_review))

        return self._api(request, work)

    def edit_product(self, request: Request, product_id: str) -> Reply:
        """Edit Product: a live product stays live with its old content while the new content
        is audited (price and stock apply at once); any other product goes back to PENDING."""

        def work(shop_id):
            item = self._item(shop_id, product_id)
            body = self._body(request)
            fields = self._validate(shop_id, body, existing=item)
            skus = fields.pop("skus")
            now = int(time.time())
            item["skus"] = skus
            if item["status"] == "ACTIVATE":
                item["pending"] = fields
            else:
                item.pop("pending", None)
                item.update(fields, status="PENDING")
            item.update(audit={"status": "AUDITING"}, audit_failed_reasons=[], update_time=now)
            item.update(review_ends_at=time.time() + self.review_seconds, review_state="reviewing")
            self._mirror(item)
            self.save_item(item)
            return _ok(
                {"product_id": product_id, "skus": [{"id": sku["id"], "seller_sku": sku["seller_sku"]} for sku in skus]}
            )

        return self._api(request, work)

    def search_products(self, request: Request) -> Reply:
        def work(shop_id):
            page_size = request.query.get("page_size", "")
            if not page_size.isdigit() or not 1 <= int(page_size) <= 100:
                raise ParamError(12052910, MSG[12052910] + " page_size must be 1-100.")
            body = self._body(request) if request.body else {}
            self.finish_reviews()
            status = body.get("status", "ALL")
            seller_skus = body.get("seller_skus")
            sku_ids = body.get("sku_ids")
            found = []
            for item in self.store.all("item", shop=shop_id):
                if status != "ALL" and item["status"] != status:
                    continue
                if seller_skus and not any(sku["seller_sku"] in seller_skus for sku in item["skus"]):
                    continue
                if sku_ids and not any(sku["id"] in sku_ids for sku in item["skus"]):
                    continue
                if not all(
                    item[field] >= body[f"{field}_ge"] if f"{field}_ge" in body else True
                    for field in ("create_time", "update_time")
                ) or not all(
                    item[field] <= body[f"{field}_le"] if f"{field}_le" in body else True
                    for field in ("create_time", "update_time")
                ):
                    continue
                found.append(item)
            found.sort(key=lambda item: (-item["update_time"], item["item_id"]))
            filters = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
            offset = 0
            if request.query.get("page_token"):
                offset = _read_page_token(request.query["page_token"], filters)
                if offset is None:
                    raise ParamError(12052910, MSG[12052910] + " page_token is invalid.")
            page = found[offset : offset + int(page_size)]
            more = offset + int(page_size) < len(found)
            products = [
                {
                    "id": item["item_id"],
                    "title": item["title"],
                    "status": item["status"],
                    "skus": [self._sku_view(sku) for sku in item["skus"]],
                    "sales_regions": ["VN"],
                    "create_time": item["create_time"],
                    "update_time": item["update_time"],
                    "audit": item["audit"],
                }
                for item in page
            ]
            token = _page_token(offset + int(page_size), filters) if more else ""
            return _ok({"products": products, "total_count": len(found), "next_page_token": token})

        return self._api(request, work)

    def update_price(self, request: Request, product_id: str) -> Reply:
        def work(shop_id):
            item = self._item(shop_id, product_id)
            if item["status"] != "ACTIVATE":
                raise ParamError(12052901, STATUS_NOT_ALLOWED)
            skus = self._body(request).get("skus")
            if not isinstance(skus, list) or not skus:
                raise ParamError(12052902, SKU_LIST_EMPTY)
            own = {sku["id"]: sku for sku in item["skus"]}
            changes = {}
            for sku in skus:
                if not isinstance(sku, dict) or sku.get("id") not in own:
                    raise ParamError(12052557, "The SKU ID does not belong to the product.")
                if not isinstance(sku.get("price"), dict):
                    raise ParamError(12052012, "Incorrect price format")
                changes[sku["id"]] = self._checked_price(sku["price"])
            for sku_id, amount in changes.items():
                own[sku_id]["price"] = {"amount": amount, "currency": "VND"}
            item["update_time"] = int(time.time())
            self._mirror(item)
            self.save_item(item)
            return _ok({})

        return self._api(request, work)

    def update_inventory(self, request: Request, product_id: str) -> Reply:
        """Update Inventory: whole-request problems are errors; per-SKU problems come back in
        `data.errors` with code 0, as the page's example shows."""

        def work(shop_id):
            item = self._item(shop_id, product_id)
            if item["status"] != "ACTIVATE":
                raise ParamError(12052901, STATUS_NOT_ALLOWED)
            skus = self._body(request).get("skus")
            if not isinstance(skus, list) or not skus:
                raise ParamError(12052902, SKU_LIST_EMPTY)
            own = {sku["id"]: sku for sku in item["skus"]}
            errors = []
            for sku in skus:
                if not isinstance(sku, dict) or sku.get("id") not in own:
                    raise ParamError(12052556, "The SKU id not exist.")
                assigned = {line["warehouse_id"] for line in own[sku["id"]]["inventory"]}
                lines, extra = sku.get("inventory") or [], []
                for line in lines:
                    quantity = line.get("quantity")
                    if line.get("warehouse_id") not in assigned:
                        extra.append(_extra_error(line.get("warehouse_id"), 12052097, "The warehouse does not exist"))
                    elif isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= 99_999:
                        extra.append(_extra_error(line["warehouse_id"], 12052055, QUANTITY_LIMITS))
                if not extra and {line.get("warehouse_id") for line in lines} != assigned:
                    extra.append(_extra_error("", 12019028, MULTIPLE_WAREHOUSES))
                if extra:
                    detail = {"sku_id": sku["id"], "extra_errors": extra}
                    errors.append({"code": 12052990, "message": "Check failed", "detail": detail})
                else:
                    own[sku["id"]]["inventory"] = [
                        {"warehouse_id": line["warehouse_id"], "quantity": line["quantity"]} for line in lines
                    ]
            item["update_time"] = int(time.time())
            self._mirror(item)
            self.save_item(item)
            return _ok({"errors": errors} if errors else {})

        return self._api(request, work)

    def deactivate_products(self, request: Request) -> Reply:
        def work(shop_id):
            ids = self._body(request).get("product_ids")
            if not isinstance(ids, list) or not ids:
                raise ParamError(12052910)
            if len(ids) > 20:
                raise ParamError(12019120, "The number of provided product IDs exceeds the limit.")
            self.finish_reviews()
            errors = []
            for product_id in ids:
                item = self.store.get("item", str(product_id))
                if item is None or item["shop_id"] != shop_id:
                    detail = {"product_id": str(product_id)}
                    errors.append(
                        {"code": 12052048, "message": "You can't edit other sellers' products", "detail": detail}
                    )
                elif item["status"] != "ACTIVATE":
                    detail = {"product_id": str(product_id)}
                    errors.append({"code": 12052901, "message": STATUS_NOT_ALLOWED, "detail": detail})
                else:
                    item.update(status="SELLER_DEACTIVATED", update_time=int(time.time()))
                    self.save_item(item)
            return _ok({"errors": errors} if errors else {})

        return self._api(request, work)

    # -- review

    def review_outcome(self, item: dict) -> tuple[bool, str]:
        content = {**item, **(item.get("pending") or {})}
        failures = []
        title = content["title"]
        if _PROMOTION.search(title):
            failures.append(
                {
                    "position": "Product Name",
                    "reasons": ["Promotional information in product name"],
                    "suggestions": [
                        'Remove discounts, promotions or prices (e.g. "giảm giá", "sale") from the '
                        "product name and resubmit."
                    ],
                }
            )
        if _CONTACT.search(title):
            failures.append(
                {
                    "position": "Product Name",
                    "reasons": ["Contact information or external link in product name"],
                    "suggestions": ["Remove phone numbers and links from the product name and resubmit."],
                }
            )
        if _PLATFORM.search(title):
            failures.append(
                {
                    "position": "Product Name",
                    "reasons": ["Other platform name in product name"],
                    "suggestions": ["Do not mention other e-commerce platforms in the product name."],
                }
            )
        if len(_TAG.sub("", content["description"]).strip()) < DESCRIPTION_MIN_TEXT:
            failures.append(
                {
                    "position": "Product Description",
                    "reasons": ["Insufficient or Incomplete Product Information"],
                    "suggestions": [
                        "Sellers must ensure all product titles and descriptions contain complete "
                        "information that accurately describes the product being sold."
                    ],
                }
            )
        for failure in failures:
            failure["listing_platform"] = "TIKTOK_SHOP"
        item["_audit_failures"] = failures
        return not failures, "; ".join(reason for failure in failures for reason in failure["reasons"])

    def on_review_finished(self, item: dict) -> None:
        pending = item.pop("pending", None)
        failures = item.pop("_audit_failures", [])
        if item["review_state"] == "approved":
            item.update(pending or {})
            item.update(status="ACTIVATE", audit={"status": "APPROVED"}, audit_failed_reasons=[])
            event = "PRODUCT_FIRST_PASS_REVIEW"
        else:
            # A failed edit of a live product leaves the live version on sale (Edit Product).
            item.update(audit={"status": "FAILED"}, audit_failed_reasons=failures)
            if pending is None:
                item["status"] = "FAILED"
            event = "PRODUCT_AUDIT_FAILURE"
        item["update_time"] = int(time.time())
        self._mirror(item)
        self.deliver(self._product_webhook(item, event, item.get("review_reason", "")))

    def set_item_status(self, product_id: str, status: str, reason: str = "") -> dict:
        """What Seller Center or the platform can do to a product (control API)."""
        allowed = ("ACTIVATE", "SELLER_DEACTIVATED", "PLATFORM_DEACTIVATED", "FREEZE", "DELETED")
        item = self.store.get("item", product_id)
        if item is None or status not in allowed:
            raise SandboxError(f"cannot set product {product_id} to {status}")
        item.update(status=status, update_time=int(time.time()))
        if status in ("PLATFORM_DEACTIVATED", "FREEZE"):
            item["audit_failed_reasons"] = [
                {
                    "position": "product",
                    "reasons": [reason or "violate listing rules"],
                    "suggestions": ["The product violates TikTok Shopping listing rules, please check and resubmit."],
                    "listing_platform": "TIKTOK_SHOP",
                }
            ]
        self.save_item(item)
        self.deliver(self._product_webhook(item, "PRODUCT_STATUS_CHANGED", reason))
        return item

    # -- orders (Get Order List / Get Order Detail 202309)

    def create_order(self, shop_id: str, lines: list[dict], status: str) -> dict:
        status = status or "UNPAID"
        if status not in ORDER_STATUSES:
            raise SandboxError(f"unknown TikTok order status {status}")
        self.finish_reviews()
        now = int(time.time())
        order_id = str(576_460_000_000_000_000 + self.store.next_id("order"))
        line_items, total = [], 0
        for line in lines:
            item = next(
                (
                    candidate
                    for candidate in reversed(self.store.all("item", shop=shop_id))
                    if candidate["status"] != "DELETED"
                    and any(sku["seller_sku"] == line["sku"] for sku in candidate["skus"])
                ),
                None,
            )
            if item is None:
                raise SandboxError(f"shop {shop_id} has no product with SKU {line['sku']}")
            sku = next(sku for sku in item["skus"] if sku["seller_sku"] == line["sku"])
            price = sku["price"]["amount"]
            for _unit in range(int(line["quantity"])):  # one line item per unit, as TikTok does
                line_items.append(
                    {
                        "id": str(577_086_512_123_000_000 + self.store.next_id("line_item")),
                        "sku_id": sku["id"],
                        "product_id": item["item_id"],
                        "product_name": item["title"],
                        "seller_sku": sku["seller_sku"],
                        "sku_name": "",
                        "sale_price": price,
                        "original_price": price,
                        "platform_discount": "0",
                        "seller_discount": "0",
                        "currency": "VND",
                        "display_status": status,
                        "package_status": "TO_FULFILL",
                        "is_gift": False,
                    }
                )
                total += int(price)
        order = {
            "id": order_id,
            "shop_id": shop_id,
            "status": status,
            "create_time": now,
            "update_time": now,
            "payment": {
                "currency": "VND",
                "sub_total": str(total),
                "shipping_fee": "0",
                "seller_discount": "0",
                "platform_discount": "0",
                "total_amount": str(total),
                "original_total_product_price": str(total),
                "original_shipping_fee": "0",
                "tax": "0",
            },
            "line_items": line_items,
            "shipping_type": "TIKTOK",
            "fulfillment_type": "FULFILLMENT_BY_SELLER",
            "delivery_type": "HOME_DELIVERY",
            "is_cod": False,
            "is_on_hold_order": status == "ON_HOLD",
            "warehouse_id": self._shop(shop_id)["warehouses"][0]["id"],
            "user_id": "7021436810468230477",
            "buyer_message": "",
        }
        if status != "UNPAID":
            order["paid_time"] = now
        self.store.put("order", order_id, order, shop=shop_id)
        return order

    def set_order_status(self, order_id: str, status: str) -> dict:
        order = self.store.get("order", order_id)
        if order is None or status not in ORDER_STATUSES:
            raise SandboxError(f"cannot set order {order_id} to {status}")
        now = int(time.time())
        order.update(status=status, update_time=now)
        if status == "CANCELLED":
            order.update(cancel_time=now, cancellation_initiator="BUYER", cancel_reason="No longer needed")
        if status != "UNPAID":
            order.setdefault("paid_time", now)
        for line in order["line_items"]:
            line["display_status"] = status
        self.store.put("order", order_id, order, shop=order["shop_id"])
        return order

    @staticmethod
    def _order_view(order: dict) -> dict:
        return {key: value for key, value in order.items() if key != "shop_id"}

    def search_orders(self, request: Request) -> Reply:
        def work(shop_id):
            page_size = request.query.get("page_size", "")
            if not page_size.isdigit() or not 1 <= int(page_size) <= 100:
                raise ParamError(36009004, "Invalid request parameters. `page_size` must be between 1 and 100.")
            body = self._body(request) if request.body else {}
            sort_field = request.query.get("sort_field", "create_time")
            if sort_field not in ("create_time", "update_time"):
                raise ParamError(36009004, "Invalid request parameters. `sort_field` is invalid.")
            descending = request.query.get("sort_order", "DESC") != "ASC"
            found = []
            for order in self.store.all("order", shop=shop_id):
                if body.get("order_status") and order["status"] != body["order_status"]:
                    continue
                if any(
                    (f"{field}_ge" in body and order[field] < body[f"{field}_ge"])
                    or (f"{field}_lt" in body and order[field] >= body[f"{field}_lt"])
                    for field in ("create_time", "update_time")
                ):
                    continue
                found.append(order)
            found.sort(key=lambda order: (order[sort_field], order["id"]), reverse=descending)
            filters = hashlib.sha256(json.dumps([body, sort_field, descending], sort_keys=True).encode()).hexdigest()[
                :16
            ]
            offset = 0
            if request.query.get("page_token"):
                offset = _read_page_token(request.query["page_token"], filters)
                if offset is None:
                    raise ParamError(36009004, "Invalid request parameters. `page_token` is invalid.")
            size = int(page_size)
            more = offset + size < len(found)
            return _ok(
                {
                    "orders": [self._order_view(order) for order in found[offset : offset + size]],
                    "next_page_token": _page_token(offset + size, filters) if more else "",
                    "total_count": len(found),
                }
            )

        return self._api(request, work)

    def order_detail(self, request: Request) -> Reply:
        def work(shop_id):
            ids = [value for value in request.query.get("ids", "").split(",") if value]
            if not ids or len(ids) > 50:
                raise ParamError(36009004, "Invalid request parameters. `ids` must hold 1 to 50 order ids.")
            orders = [self.store.get("order", order_id) for order_id in ids]
            return _ok(
                {"orders": [self._order_view(order) for order in orders if order and order["shop_id"] == shop_id]}
            )

        return self._api(request, work)

    # -- webhooks (§3.7; signature scheme third-party sourced)

    def _signed(self, message: dict) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
        key, secret = self.credentials["APP_KEY"].encode(), self.credentials["APP_SECRET"].encode()
        signature = hmac.new(secret, key + body, hashlib.sha256).hexdigest()
        return body, {"Authorization": signature, "Content-Type": "application/json"}

    def _notification(self, kind: int, shop_id: str, data: dict) -> tuple[bytes, dict[str, str]]:
        return self._signed(
            {
                "type": kind,
                "tts_notification_id": str(7_327_112_393_057_000_000 + self.store.next_id("notification")),
                "shop_id": shop_id,
                "timestamp": int(time.time()),
                "data": data,
            }
        )

    def order_webhooks(self, order: dict) -> list[tuple[bytes, dict[str, str]]]:
        status = "CANCEL" if order["status"] == "CANCELLED" else order["status"]  # the webhook's spelling
        data = {
            "order_id": order["id"],
            "order_status": status,
            "is_on_hold_order": bool(order.get("is_on_hold_order")),
            "update_time": order["update_time"],
        }
        return [self._notification(1, order["shop_id"], data)]

    def _product_webhook(self, item: dict, status: str, reason: str) -> list[tuple[bytes, dict[str, str]]]:
        data = {
            "product_id": item["item_id"],
            "status": status,
            "suspended_reason": reason,
            "update_time": item["update_time"],
        }
        return [self._notification(5, item["shop_id"], data)]
