"""Shopee Open Platform API v2 sandbox: the paths, signatures, envelopes and error codes of
marketplaces.md §1, implemented independently of the connector (nothing is imported from
marketplace_sync.connectors: a misreading of the docs must show up as a failing call).

Served on the root of its port (sandbox_marketplaces: API_URL = http://host:port):

    GET|POST /api/v2/shop/auth_partner           signed authorisation link → consent page → redirect
    POST /api/v2/auth/token/get                   code → tokens (top-level answer)
    POST /api/v2/auth/access_token/get            refresh (single-use refresh token)
    GET  /api/v2/shop/get_shop_info               shop name, auth_time, expire_time (top level)
    POST /api/v2/media_space/upload_image         multipart "image", scene normal|desc
    GET  /api/v2/logistics/get_channel_list       a VN-like list of shipping channels
    POST /api/v2/product/add_item | update_item | update_price | update_stock | unlist_item
    GET  /api/v2/product/get_item_list | get_item_base_info | get_item_violation_info
    GET  /api/v2/order/get_order_list | get_order_detail

What it validates, and the choices behind the error shapes, are listed in docs/connectors/shopee.md.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import re
import secrets
import string
import time
import urllib.parse
from pathlib import Path
from typing import Any

from .base import Reply, Request, Sandbox, SandboxError, json_reply

DATA = Path(__file__).resolve().parents[2] / "data" / "marketplaces"

TIMESTAMP_WINDOW = 300  # "a request must arrive within 5 minutes of it" (§1.2)
ACCESS_TTL = 4 * 3600
REFRESH_TTL = 30 * 86400
AUTHORIZATION_TTL = 365 * 86400
OLD_TOKEN_GRACE = 300  # "After a new access_token is generated, the old access_token is still valid for 5 minutes."
ORDER_WINDOW = 15 * 86400

# get_item_limit sample values (§1.7) — what this sandbox holds every item to.
NAME_MIN, NAME_MAX = 5, 100
DESCRIPTION_MIN, DESCRIPTION_MAX = 10, 2000
IMAGES_MIN, IMAGES_MAX = 1, 9
PRICE_MIN, PRICE_MAX = 5.5, 10_000_000
STOCK_MAX = 10_000_000
MAX_HASHTAGS = 18
IMAGE_MAX_BYTES = 10 * 1024 * 1024
SKU_MAX = 100

ITEM_STATUSES = {"NORMAL", "BANNED", "UNLIST", "REVIEWING", "SELLER_DELETE", "SHOPEE_DELETE"}
ORDER_STATUSES = [
    "UNPAID",
    "READY_TO_SHIP",
    "PROCESSED",
    "RETRY_SHIP",
    "SHIPPED",
    "TO_CONFIRM_RECEIVE",
    "IN_CANCEL",
    "CANCELLED",
    "TO_RETURN",
    "COMPLETED",
]
# The control API also takes our canonical words (the demo's buttons).
CANONICAL_TO_SHOPEE = {
    "pending": "UNPAID",
    "paid": "READY_TO_SHIP",
    "shipped": "SHIPPED",
    "completed": "COMPLETED",
    "cancelled": "CANCELLED",
    "returned": "TO_RETURN",
}

# A shop's shipping channels, VN-like (names from the get_channel_list page's VN sample; ids made up).
CHANNELS = [
    {"id": 50011, "name": "Giao Hàng Nhanh", "enabled": True, "fee_type": "SIZE_INPUT", "mask": 0, "max_kg": 30.0},
    {"id": 50012, "name": "VNPost Nhanh", "enabled": True, "fee_type": "SIZE_INPUT", "mask": 0, "max_kg": 20.0},
    {"id": 50015, "name": "Ninja Van", "enabled": False, "fee_type": "SIZE_INPUT", "mask": 0, "max_kg": 30.0},
    {"id": 50021, "name": "Hỏa Tốc", "enabled": True, "fee_type": "SIZE_SELECTION", "mask": 0, "max_kg": 5.0},
    {
        "id": 5001101,
        "name": "Giao Hàng Nhanh - Kho",
        "enabled": True,
        "fee_type": "SIZE_INPUT",
        "mask": 50011,
        "max_kg": 30.0,
    },
]

# Review rules this sandbox applies (the reasons are the sandbox's own words, in Shopee's shape).
PROMOTION_WORDS = re.compile(r"giảm\s*giá|khuyến\s*mãi|\bsale\b|\bfreeship\b", re.IGNORECASE)
PHONE_NUMBER = re.compile(r"(?:\+?84|\b0)(?:[\s.\-]?\d){9}\b")
REVIEW_DESCRIPTION_MIN = 100


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _request_id() -> str:
    return secrets.token_hex(16)


def _error(code: str, message: str, status: int = 200) -> Reply:
    return json_reply({"request_id": _request_id(), "error": code, "message": message}, status)


def _param(detail: str) -> Reply:
    return _error("error_param", f"Wrong parameters, detail: {detail}.")


def _ok(response: Any = None, **top_level: Any) -> Reply:
    body = {"request_id": _request_id(), "error": "", "message": "", "warning": ""}
    if response is not None:
        body["response"] = response
    body.update(top_level)
    return json_reply(body)


def _ids(request: Request, name: str) -> list[str]:
    """An int-list query parameter: comma-joined (item_id_list=1,2) or repeated keys."""
    values = []
    for key, value in request.query_list:
        if key == name:
            values.extend(part for part in value.split(",") if part.strip())
    return [value.strip() for value in values]


def _load_categories() -> set[int]:
    """Leaf ids of data/marketplaces/shopee_categories_vn.csv plus the Shopee ids proposed in
    ocop_category_map.csv."""
    ids: set[int] = set()
    tree, proposals = DATA / "shopee_categories_vn.csv", DATA / "ocop_category_map.csv"
    if tree.exists():
        with tree.open(newline="", encoding="utf-8") as handle:
            ids |= {int(row["category_id"]) for row in csv.DictReader(handle) if row.get("leaf") == "Y"}
    if proposals.exists():
        with proposals.open(newline="", encoding="utf-8") as handle:
            ids |= {int(row["shopee_category_id"]) for row in csv.DictReader(handle) if row.get("shopee_category_id")}
    return ids


class ShopeeSandbox(Sandbox):
    name = "shopee"
    title = "Shopee"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.partner_id = str(self.credentials["PARTNER_ID"])
        self.partner_key = str(self.credentials["PARTNER_KEY"])
        self.categories = _load_categories()

    def routes(self):
        return [
            ("*", r"/api/v2/shop/auth_partner", self.auth_partner),
            ("POST", r"/api/v2/auth/token/get", self.token_get),
            ("POST", r"/api/v2/auth/access_token/get", self.access_token_get),
            ("GET", r"/api/v2/shop/get_shop_info", self.get_shop_info),
            ("POST", r"/api/v2/media_space/upload_image", self.upload_image),
            ("GET", r"/api/v2/logistics/get_channel_list", self.get_channel_list),
            ("POST", r"/api/v2/product/add_item", self.add_item),
            ("POST", r"/api/v2/product/update_item", self.update_item),
            ("POST", r"/api/v2/product/update_price", self.update_price),
            ("POST", r"/api/v2/product/update_stock", self.update_stock),
            ("POST", r"/api/v2/product/unlist_item", self.unlist_item),
            ("GET", r"/api/v2/product/get_item_list", self.get_item_list),
            ("GET", r"/api/v2/product/get_item_base_info", self.get_item_base_info),
            ("GET", r"/api/v2/product/get_item_violation_info", self.get_item_violation_info),
            ("GET", r"/api/v2/order/get_order_list", self.get_order_list),
            ("GET", r"/api/v2/order/get_order_detail", self.get_order_detail),
        ]

    # -- framework hooks

    def shop_of(self, request: Request) -> str | None:
        # Shop APIs name their shop in the query; public APIs are not limited per shop.
        return request.query.get("shop_id") or None

    def error_reply(self, kind: str, request: Request) -> Reply:
        if kind == "rate_limited":
            return _error("error_rate_limit", "Too many requests, please try again later.", 429)
        if kind == "server_error":
            return _error("error_server", "Something wrong. Please try later.", 500)
        return _error("error_not_found", "Wrong parameters, detail: api not found.", 404)

    # -- signing and authentication (§1.3), written independently of the connector

    def _sign(self, *parts: Any) -> str:
        message = "".join(str(part) for part in parts).encode("utf-8")
        return hmac.new(self.partner_key.encode("utf-8"), message, hashlib.sha256).hexdigest()

    def _authenticate(self, request: Request, *, shop: bool, check_time: bool = True) -> tuple[Reply | None, dict]:
        """The gateway's checks, in order: partner_id, timestamp, sign, token. Gateway refusals are
        HTTP 403 (business errors further down answer 200 with `error` set)."""
        query = request.query
        if not query.get("partner_id"):
            return _error("error_param", "There is no partner_id in query.", 403), {}
        if not query.get("timestamp"):
            return _error("error_param", "no timestamp", 403), {}
        try:
            timestamp = int(query["timestamp"])
        except ValueError:
            return _error("error_param", "Invalid timestamp", 403), {}
        if check_time and abs(time.time() - timestamp) > TIMESTAMP_WINDOW:
            return _error("error_param", "Invalid timestamp", 403), {}
        if query["partner_id"] != self.partner_id:
            return _error("error_param", "Invalid partner_id.", 403), {}
        if not query.get("sign"):
            return _error("error_param", "There is no sign in query.", 403), {}
        if shop:
            if not query.get("access_token"):
                return _error("error_param", "There is no access_token in query.", 403), {}
            if not query.get("shop_id"):
                return _error("error_param", "There is no shop_id in query.", 403), {}
            expected = self._sign(
                self.partner_id, request.path, query["timestamp"], query["access_token"], query["shop_id"]
            )
        else:
            expected = self._sign(self.partner_id, request.path, query["timestamp"])
        if not hmac.compare_digest(expected, query["sign"]):
            return _error("error_sign", "Wrong sign.", 403), {}
        if not shop:
            return None, {}
        state, record = self.access_token_state(query["access_token"])
        if state == "invalid":
            return _error("error_auth", "Invalid access_token.", 403), {}
        if state == "expired":
            return _error("invalid_acceess_token", "Invalid access_token.", 403), {}
        if str(record["shop_id"]) != query["shop_id"]:
            return _error("error_auth", "Invalid partner_id or shopid.", 403), {}
        return None, record

    @staticmethod
    def _json(request: Request) -> tuple[Reply | None, dict]:
        try:
            body = request.json
        except ValueError:
            return _param("request body is not valid json"), {}
        if not isinstance(body, dict):
            return _param("request body must be a json object"), {}
        return None, body

    # -- authorisation (§1.4)

    def auth_partner(self, request: Request) -> Reply:
        # The link is valid 5 minutes when opened; the seller may then take their time to log in.
        refusal, _ = self._authenticate(request, shop=False, check_time=request.method == "GET")
        if refusal:
            return refusal
        redirect_url = request.query.get("redirect", "")
        if not redirect_url:
            return _error("error_param", "There is no redirect in query.", 403)

        def redirect_to(shop_id: str, code: str) -> str:
            joiner = "&" if urllib.parse.urlsplit(redirect_url).query else ("" if redirect_url.endswith("?") else "?")
            return f"{redirect_url}{joiner}{urllib.parse.urlencode({'code': code, 'shop_id': shop_id})}"

        return self.authorization_page(request, redirect_to=redirect_to)

    def _token_body(self, shop_id: str, tokens: dict) -> dict:
        return {
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "expire_in": ACCESS_TTL,
        }

    def token_get(self, request: Request) -> Reply:
        refusal, _ = self._authenticate(request, shop=False)
        if refusal:
            return refusal
        refusal, body = self._json(request)
        if refusal:
            return refusal
        if not isinstance(body.get("code"), str) or not body["code"]:
            return _param("code is required")
        if not _is_int(body.get("partner_id")) or str(body["partner_id"]) != self.partner_id:
            return _error("error_param", "Invalid partner_id.")
        if "main_account_id" in body:
            return _error("invalid_main_acount_id", "Invalid main_account_id.")
        if not _is_int(body.get("shop_id")):
            return _error("invalid_shop_id", "Invalid shop_id.")
        record = self.store.get("auth_code", body["code"])
        if record is None or str(record["shop_id"]) != str(body["shop_id"]) or not self.redeem_code(body["code"]):
            return _error("error_auth", "Invalid code", 403)
        shop_id = str(body["shop_id"])
        now = time.time()
        self.store.put(
            "shop_auth",
            shop_id,
            {"shop_id": shop_id, "auth_time": int(now), "expire_time": int(now + AUTHORIZATION_TTL)},
            shop=shop_id,
        )
        tokens = self.issue_tokens(shop_id, access_ttl=ACCESS_TTL, refresh_ttl=REFRESH_TTL)
        return json_reply(
            {"request_id": _request_id(), "error": "", "message": "", **self._token_body(shop_id, tokens)}
        )

    def access_token_get(self, request: Request) -> Reply:
        refusal, _ = self._authenticate(request, shop=False)
        if refusal:
            return refusal
        refusal, body = self._json(request)
        if refusal:
            return refusal
        if not isinstance(body.get("refresh_token"), str) or not body["refresh_token"]:
            return _param("refresh_token is required")
        if not _is_int(body.get("partner_id")) or str(body["partner_id"]) != self.partner_id:
            return _error("error_param", "Invalid partner_id.")
        if not _is_int(body.get("shop_id")):
            return _error("invalid_shop_id", "Invalid shop_id.")
        shop_id = str(body["shop_id"])
        existing = self.store.get("refresh_token", body["refresh_token"])
        authorization = self.store.get("shop_auth", shop_id)
        if (
            existing is None
            or str(existing["shop_id"]) != shop_id
            or authorization is None
            or authorization["expire_time"] < time.time()
            or not self.use_refresh_token(body["refresh_token"], single_use=True)
        ):
            return _error("error_auth", "Invalid refresh_token.", 403)
        # The shop's earlier access tokens keep working for 5 more minutes.
        for token in self.store.all("access_token", shop=shop_id):
            if token["expires_at"] > time.time() + OLD_TOKEN_GRACE:
                token["expires_at"] = time.time() + OLD_TOKEN_GRACE
                self.store.put("access_token", token["token"], token, shop=shop_id)
        tokens = self.issue_tokens(shop_id, access_ttl=ACCESS_TTL, refresh_ttl=REFRESH_TTL)
        return json_reply(
            {
                "request_id": _request_id(),
                "error": "",
                "message": "",
                "partner_id": int(self.partner_id),
                "shop_id": int(shop_id),
                **self._token_body(shop_id, tokens),
            }
        )

    def get_shop_info(self, request: Request) -> Reply:
        refusal, token = self._authenticate(request, shop=True)
        if refusal:
            return refusal
        shop_id = str(token["shop_id"])
        shop = self.store.get("shop", shop_id) or {"name": ""}
        authorization = self.store.get("shop_auth", shop_id) or {}
        return json_reply(
            {
                "request_id": _request_id(),
                "error": "",
                "message": "",
                "shop_name": shop["name"],
                "region": "VN",
                "status": "NORMAL",
                "is_cb": False,
                "is_sip": False,
                "auth_time": authorization.get("auth_time"),
                "expire_time": authorization.get("expire_time"),
            }
        )

    # -- media (§1.8)

    def upload_image(self, request: Request) -> Reply:
        refusal, _ = self._authenticate(request, shop=False)
        if refusal:
            return refusal
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return _param("request must be multipart/form-data")
        parts = request.files.get("image") or []
        if not parts:
            return _param("image is required")
        if len(parts) >= 9:
            return _param("upload fewer than 9 images per call")
        scene = request.form.get("scene", "normal")
        if scene not in ("normal", "desc"):
            return _param("scene should be normal or desc")
        infos = []
        for part in parts:
            if len(part.content) > IMAGE_MAX_BYTES:
                return _param("image size should be less than 10MB")
            if not (part.content.startswith(b"\xff\xd8\xff") or part.content.startswith(b"\x89PNG\r\n\x1a\n")):
                return _param("image format should be JPG, JPEG or PNG")
            image_id = f"vn-11134207-{secrets.token_hex(12)}"
            self.store.put(
                "image",
                image_id,
                {"image_id": image_id, "size": len(part.content), "scene": scene, "filename": part.filename},
            )
            urls = [{"image_url_region": "VN", "image_url": f"https://cf.shopee.vn/file/{image_id}"}]
            infos.append({"image_id": image_id, "image_url_list": urls})
        return _ok(
            {"image_info": infos[0], "image_info_list": [{"id": n, "image_info": info} for n, info in enumerate(infos)]}
        )

    # -- logistics

    def get_channel_list(self, request: Request) -> Reply:
        refusal, _ = self._authenticate(request, shop=True)
        if refusal:
            return refusal
        channels = [
            {
                "logistics_channel_id": channel["id"],
                "logistics_channel_name": channel["name"],
                "cod_enabled": True,
                "enabled": channel["enabled"],
                "fee_type": channel["fee_type"],
                "size_list": [{"size_id": "1", "name": "Nhỏ", "default_price": 15000}]
                if channel["fee_type"] == "SIZE_SELECTION"
                else [],
                "weight_limit": {"item_max_weight": channel["max_kg"], "item_min_weight": 0.01},
                "item_max_dimension": {"height": 100, "width": 100, "length": 100, "unit": "cm", "dimension_sum": 300},
                "volume_limit": {"item_max_volume": 0, "item_min_volume": 0},
                "logistics_description": "",
                "force_enable": False,
                "mask_channel_id": channel["mask"],
            }
            for channel in CHANNELS
        ]
        return _ok({"logistics_channel_list": channels})

    # -- items (§1.6, §1.7)

    def _validate_item(self, body: dict, *, create: bool) -> Reply | None:
        """add_item / update_item field rules. On update only the fields present are checked."""

        def present(field: str) -> bool:
            return create or field in body

        required = ("original_price", "description", "weight", "item_name", "logistic_info", "category_id", "image")
        if create:
            for field in required:
                if field not in body:
                    return _param(f"{field} is required")
        if present("item_name"):
            name = body.get("item_name")
            if not isinstance(name, str):
                return _param("item_name should be string")
            if not name.strip():
                return _error("error_item_name_empty", "Item name is empty.")
            if len(name) < NAME_MIN:
                return _error("error_item_name_is_too_short", f"Item name should be at least {NAME_MIN} characters.")
            if len(name) > NAME_MAX:
                return _error("error_name_length_limit", f"Item name length should be less than {NAME_MAX}.")
        if present("description"):
            description = body.get("description")
            if not isinstance(description, str):
                return _param("description should be string")
            if not DESCRIPTION_MIN <= len(description) <= DESCRIPTION_MAX:
                return _param(f"description length should be in [{DESCRIPTION_MIN}, {DESCRIPTION_MAX}]")
            if len(re.findall(r"#\w+", description)) > MAX_HASHTAGS:
                return _error(
                    "error_desc_hash_tag_over_limit", f"Hashtag in description should be less than {MAX_HASHTAGS}."
                )
        if present("original_price"):
            price = body.get("original_price")
            if not _is_number(price):
                return _param("original_price should be float")
            if price != int(price):
                return _error("error_invalid_price", "Price should be integer in this region.")
            if not PRICE_MIN <= price <= PRICE_MAX:
                return _error("error_invalid_price", f"Price should be in [{PRICE_MIN}, {PRICE_MAX}].")
        if present("weight"):
            weight = body.get("weight")
            if not _is_number(weight) or weight <= 0:
                return _error("error_param", "Invalid Weight.")
        if create or "dimension" in body:
            dimension = body.get("dimension")
            keys = ("package_length", "package_width", "package_height")
            if not isinstance(dimension, dict) or any(key not in dimension for key in keys):
                return _error("error_param", "dimension is required")
            if any(not _is_int(dimension[key]) or dimension[key] <= 0 for key in keys):
                return _param("package_length, package_width and package_height should be positive int")
        if present("category_id"):
            category = body.get("category_id")
            if not _is_int(category):
                return _param("category_id should be int")
            if category not in self.categories:
                return _error("error_invalid_category", "Invalid category: it must be a leaf category.")
        if present("image"):
            image = body.get("image")
            ids = image.get("image_id_list") if isinstance(image, dict) else None
            if not isinstance(ids, list) or not all(isinstance(image_id, str) for image_id in ids):
                return _param("image.image_id_list should be string list")
            if not IMAGES_MIN <= len(ids) <= IMAGES_MAX:
                return _param(f"image count should be in [{IMAGES_MIN}, {IMAGES_MAX}]")
            if any(self.store.get("image", image_id) is None for image_id in ids):
                return _error("error_param", "Image not exist.")
        if create or "brand" in body:
            brand = body.get("brand")
            if not isinstance(brand, dict) or not _is_int(brand.get("brand_id")):
                return _error("error_invalid_brand", "Brand information required")
            if brand["brand_id"] == 0 and not str(brand.get("original_brand_name") or "").strip():
                return _error("error_invalid_brand", "Brand information required")
        if create or "seller_stock" in body:
            stock = body.get("seller_stock")
            if (
                not isinstance(stock, list)
                or not stock
                or not all(isinstance(entry, dict) and _is_int(entry.get("stock")) for entry in stock)
            ):
                return _param("seller_stock should be a list of {stock: int}")
            if any(not 0 <= entry["stock"] <= STOCK_MAX for entry in stock):
                return _param(f"stock should be in [0, {STOCK_MAX}]")
        if "item_sku" in body and (not isinstance(body["item_sku"], str) or len(body["item_sku"]) > SKU_MAX):
            return _param(f"item_sku should be a string of at most {SKU_MAX} characters")
        if "item_status" in body and body["item_status"] not in ("NORMAL", "UNLIST"):
            return _param("item_status should be NORMAL or UNLIST")
        if "attribute_list" in body:
            attributes = body["attribute_list"]
            if not isinstance(attributes, list) or not all(
                isinstance(entry, dict) and _is_int(entry.get("attribute_id")) for entry in attributes
            ):
                return _param("attribute_list should be a list of {attribute_id: int, attribute_value_list}")
        if present("logistic_info"):
            refusal = self._validate_logistics(body.get("logistic_info"), body.get("weight"))
            if refusal:
                return refusal
        return None

    @staticmethod
    def _validate_logistics(logistic_info: Any, weight: Any) -> Reply | None:
        channels = {channel["id"]: channel for channel in CHANNELS}
        if not isinstance(logistic_info, list) or not logistic_info:
            return _error("error_invalid_logistic_info", "logistic_info is required.")
        for entry in logistic_info:
            if (
                not isinstance(entry, dict)
                or not _is_int(entry.get("logistic_id"))
                or not isinstance(entry.get("enabled"), bool)
            ):
                return _error(
                    "error_invalid_logistic_info", "Each logistic_info needs logistic_id (int) and enabled (bool)."
                )
            channel = channels.get(entry["logistic_id"])
            if channel is None or channel["mask"]:
                return _error(
                    "error_invalid_logistic_info", f"Logistic {entry['logistic_id']} is not a channel of this shop."
                )
            if entry["enabled"] and not channel["enabled"]:
                return _error(
                    "error_invalid_logistic_info", f"Logistic {entry['logistic_id']} is disabled in this shop."
                )
            if entry["enabled"] and channel["fee_type"] == "SIZE_SELECTION" and "size_id" not in entry:
                return _error(
                    "error_invalid_logistic_info", f"size_id is required for logistic {entry['logistic_id']}."
                )
            if entry["enabled"] and _is_number(weight) and weight > channel["max_kg"]:
                return _error(
                    "error_invalid_logistic_info",
                    f"Weight {weight} kg is over the {channel['max_kg']} kg limit of logistic {entry['logistic_id']}.",
                )
        if not any(entry["enabled"] for entry in logistic_info):
            return _error("error_invalid_logistic_info", "At least one logistic channel must be enabled.")
        return None

    def _image_urls(self, ids: list[str]) -> list[str]:
        return [f"https://cf.shopee.vn/file/{image_id}" for image_id in ids]

    def _item_echo(self, item: dict) -> dict:
        return {
            "item_id": item["item_id"],
            "item_status": item["item_status"],
            "item_name": item["item_name"],
            "item_sku": item["item_sku"],
            "category_id": item["category_id"],
            "description": item["description"],
            "weight": item["weight"],
            "dimension": item["dimension"],
            "price_info": [{"original_price": item["original_price"], "current_price": item["original_price"]}],
            "images": {
                "image_id_list": item["image"]["image_id_list"],
                "image_url_list": self._image_urls(item["image"]["image_id_list"]),
            },
            "logistic_info": item["logistic_info"],
            "brand": item["brand"],
        }

    def add_item(self, request: Request) -> Reply:
        refusal, token = self._authenticate(request, shop=True)
        if refusal:
            return refusal
        refusal, body = self._json(request)
        if refusal:
            return refusal
        refusal = self._validate_item(body, create=True)
        if refusal:
            return refusal
        now = int(time.time())
        item_id = self.store.next_id("shopee_item", start=22_000_000_001)
        item = {
            "item_id": item_id,
            "shop_id": str(token["shop_id"]),
            "item_name": body["item_name"],
            "description": body["description"],
            "item_sku": body.get("item_sku", ""),
            "category_id": body["category_id"],
            "original_price": body["original_price"],
            "stock": sum(entry["stock"] for entry in body["seller_stock"]),
            "weight": body["weight"],
            "dimension": body["dimension"],
            "image": {"image_id_list": body["image"]["image_id_list"]},
            "logistic_info": body["logistic_info"],
            "brand": body["brand"],
            "attribute_list": body.get("attribute_list", []),
            "condition": body.get("condition", "NEW"),
            "item_status": "REVIEWING",
            "wanted_status": body.get("item_status", "NORMAL"),  # what the seller asked for after review
            "create_time": now,
            "update_time": now,
        }
        self.save_item(self.new_item_review(item))
        reply = _ok(self._item_echo(item))
        reply.delay_after = self.timeout_reply_delay()  # the item exists even if the answer is lost
        return reply

    def _own_item(self, shop_id: str, item_id: Any) -> dict | None:
        item = self.store.get("item", str(item_id)) if _is_int(item_id) else None
        if item is None or item["shop_id"] != shop_id or item["item_status"] in ("SELLER_DELETE", "SHOPEE_DELETE"):
            return None
        return item

    def update_item(self, request: Request) -> Reply:
        refusal, token = self._authenticate(request, shop=True)
        if refusal:
            return refusal
        refusal, body = self._json(request)
        if refusal:
            return refusal
        self.finish_reviews()
        if not _is_int(body.get("item_id")):
            return _param("item_id is required")
        item = self._own_item(str(token["shop_id"]), body["item_id"])
        if item is None:
            return _error("error_item_not_found", "Product not found")
        refusal = self._validate_item(body, create=False)
        if refusal:
            return refusal
        for field in (
            "item_name",
            "description",
            "item_sku",
            "category_id",
            "weight",
            "dimension",
            "logistic_info",
            "brand",
            "attribute_list",
            "condition",
        ):
            if field in body:
                item[field] = body[field]
        if "image" in body:
            item["image"] = {"image_id_list": body["image"]["image_id_list"]}
        item["update_time"] = int(time.time())
        if item["item_status"] == "BANNED" and item.get("review_state") == "rejected":
            # A listing fixed after a failed review goes back to review.
            item["item_status"], item["item_status_details"] = "REVIEWING", []
            item["wanted_status"] = "NORMAL"
            self.new_item_review(item)
            self.stats.items_created -= 1  # not a new item
        self.save_item(item)
        return _ok(self._item_echo(item))

    def update_price(self, request: Request) -> Reply:
        return self._update_models(request, "price_list")

    def update_stock(self, request: Request) -> Reply:
        return self._update_models(request, "stock_list")

    def _update_models(self, request: Request, list_name: str) -> Reply:
        refusal, token = self._authenticate(request, shop=True)
        if refusal:
            return refusal
        refusal, body = self._json(request)
        if refusal:
            return refusal
        self.finish_reviews()
        if not _is_int(body.get("item_id")):
            return _param("item_id is required")
        item = self._own_item(str(token["shop_id"]), body["item_id"])
        if item is None:
            return _error("error_item_not_found", "Product not found")
        entries = body.get(list_name)
        if not isinstance(entries, list) or not 1 <= len(entries) <= 50:
            return _param(f"{list_name} length should be in [1, 50]")
        success, failure = [], []
        for entry in entries:
            if not isinstance(entry, dict) or not _is_int(entry.get("model_id")):
                return _param(f"{list_name}.model_id should be int")
            if entry["model_id"] != 0:
                failure.append({"model_id": entry["model_id"], "failed_reason": "Model not found."})
                continue
            if list_name == "price_list":
                price = entry.get("original_price")
                if not _is_number(price) or price != int(price) or not PRICE_MIN <= price <= PRICE_MAX:
                    failure.append(
                        {"model_id": 0, "failed_reason": "Invalid price: integer in [5.5, 10000000] required."}
                    )
                    continue
                item["original_price"] = price
                success.append({"model_id": 0, "original_price": price})
            else:
                stock = entry.get("seller_stock")
                if (
                    not isinstance(stock, list)
                    or not stock
                    or not all(
                        isinstance(part, dict) and _is_int(part.get("stock")) and 0 <= part["stock"] <= STOCK_MAX
                        for part in stock
                    )
                ):
                    failure.append(
                        {"model_id": 0, "failed_reason": "Invalid stock: seller_stock[].stock int required."}
                    )
                    continue
                item["stock"] = sum(part["stock"] for part in stock)
                success.append({"model_id": 0, "location_id": "", "stock": item["stock"]})
        item["update_time"] = int(time.time())
        self.save_item(item)
        return _ok({"success_list": success, "failure_list": failure})

    def unlist_item(self, request: Request) -> Reply:
        refusal, token = self._authenticate(request, shop=True)
        if refusal:
            return refusal
        refusal, body = self._json(request)
        if refusal:
            return refusal
        self.finish_reviews()
        entries = body.get("item_list")
        if not isinstance(entries, list) or not 1 <= len(entries) <= 50:
            return _param("item_list length should be in [1, 50]")
        success, failure = [], []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("unlist"), bool):
                return _param("item_list needs item_id (int) and unlist (bool)")
            item = self._own_item(str(token["shop_id"]), entry.get("item_id"))
            if item is None:
                failure.append({"item_id": entry.get("item_id"), "failed_reason": "Product not found"})
                continue
            if item["item_status"] == "BANNED":
                failure.append({"item_id": item["item_id"], "failed_reason": "Item is banned and cannot be changed."})
                continue
            item["wanted_status"] = "UNLIST" if entry["unlist"] else "NORMAL"
            if item["item_status"] != "REVIEWING":
                item["item_status"] = item["wanted_status"]
            item["update_time"] = int(time.time())
            self.save_item(item)
            success.append({"item_id": item["item_id"], "unlist": entry["unlist"]})
        return _ok({"success_list": success, "failure_list": failure})

    def get_item_list(self, request: Request) -> Reply:
        refusal, token = self._authenticate(request, shop=True)
        if refusal:
            return refusal
        self.finish_reviews()
        try:
            offset, page_size = int(request.query["offset"]), int(request.query["page_size"])
        except (KeyError, ValueError):
            return _param("offset and page_size are required int")
        if not 1 <= page_size <= 100 or offset < 0:
            return _param("page_size should be in [1, 100]")
        statuses = [value for key, value in request.query_list if key == "item_status"]
        if not statuses:
            return _param("item_status is required")
        if any(status not in ITEM_STATUSES for status in statuses):
            return _error("error_param_item_status", "Item status error.")
        items = [item for item in self.store.all("item", shop=str(token["shop_id"])) if item["item_status"] in statuses]
        for bound, keep in (("update_time_from", lambda t, v: t >= v), ("update_time_to", lambda t, v: t <= v)):
            if request.query.get(bound):
                items = [item for item in items if keep(item["update_time"], int(request.query[bound]))]
        page = items[offset : offset + page_size]
        response: dict[str, Any] = {
            "total_count": len(items),
            "has_next_page": offset + page_size < len(items),
            "next_offset": offset + len(page),
        }
        if page:  # like Shopee, an empty page has no "item" key at all
            response["item"] = [
                {
                    "item_id": item["item_id"],
                    "item_status": item["item_status"],
                    "update_time": item["update_time"],
                    "tag": {"kit": False},
                }
                for item in page
            ]
        return _ok(response)

    def _requested_items(self, request: Request, shop_id: str) -> tuple[Reply | None, list[dict], list[str]]:
        self.finish_reviews()
        ids = _ids(request, "item_id_list")
        if not ids:
            return _param("item_id_list is required"), [], []
        if len(ids) > 50:
            return _param("item_id_list length should be in [1, 50]"), [], []
        found, missing = [], []
        for item_id in ids:
            item = self.store.get("item", item_id) if item_id.isdigit() else None
            if item is None or item["shop_id"] != shop_id:
                missing.append(item_id)
            else:
                found.append(item)
        return None, found, missing

    def get_item_base_info(self, request: Request) -> Reply:
        refusal, token = self._authenticate(request, shop=True)
        if refusal:
            return refusal
        refusal, items, missing = self._requested_items(request, str(token["shop_id"]))
        if refusal:
            return refusal
        if not items:
            return _error("error_item_not_found", "Product not found")
        info = [
            {
                "item_id": item["item_id"],
                "category_id": item["category_id"],
                "item_name": item["item_name"],
                "description": item["description"],
                "description_type": "normal",
                "item_sku": item["item_sku"],
                "create_time": item["create_time"],
                "update_time": item["update_time"],
                "attribute_list": item["attribute_list"],
                "price_info": [
                    {
                        "currency": "VND",
                        "original_price": item["original_price"],
                        "current_price": item["original_price"],
                    }
                ],
                "stock_info_v2": {
                    "summary_info": {"total_reserved_stock": 0, "total_available_stock": item["stock"]},
                    "seller_stock": [{"location_id": "", "stock": item["stock"]}],
                },
                "image": {
                    "image_id_list": item["image"]["image_id_list"],
                    "image_url_list": self._image_urls(item["image"]["image_id_list"]),
                },
                "weight": str(item["weight"]),
                "dimension": item["dimension"],
                "logistic_info": item["logistic_info"],
                "pre_order": {"is_pre_order": False, "days_to_ship": 2},
                "condition": item["condition"],
                "item_status": item["item_status"],
                "has_model": False,
                "brand": item["brand"],
                "item_dangerous": 0,
                "deboost": False,
            }
            for item in items
        ]
        warning = f"item_id {','.join(missing)} not found" if missing else ""
        return json_reply(
            {
                "request_id": _request_id(),
                "error": "",
                "message": "",
                "warning": warning,
                "response": {"item_list": info},
            }
        )

    def get_item_violation_info(self, request: Request) -> Reply:
        refusal, token = self._authenticate(request, shop=True)
        if refusal:
            return refusal
        refusal, items, missing = self._requested_items(request, str(token["shop_id"]))
        if refusal:
            return refusal
        entries = [
            {
                "item_id": item["item_id"],
                "item_name": item["item_name"],
                "item_status": item["item_status"],
                "deboost": False,
                "item_status_details": item.get("item_status_details", []) if item["item_status"] == "BANNED" else [],
                "deboost_details": [],
            }
            for item in items
        ]
        entries += [
            {
                "item_id": int(item_id) if item_id.isdigit() else item_id,
                "fail_error": "error_param",
                "fail_message": "Invalid request item_id",
            }
            for item_id in missing
        ]
        return json_reply({"request_id": _request_id(), "message": None, "response": {"item_list": entries}})

    # -- review

    def review_outcome(self, item: dict) -> tuple[bool, str]:
        if PROMOTION_WORDS.search(item["item_name"]) or PHONE_NUMBER.search(item["item_name"]):
            return False, "Spam"
        if PHONE_NUMBER.search(item["description"]):
            return False, "Spam:contact"
        if len(item["description"]) < REVIEW_DESCRIPTION_MIN:
            return False, "Insufficient Information"
        return True, ""

    def on_review_finished(self, item: dict) -> None:
        now = int(time.time())
        if item["review_state"] == "approved":
            item["item_status"] = item.get("wanted_status") or "NORMAL"
            item["item_status_details"] = []
        else:
            reasons = {
                "Spam": (
                    "Spam",
                    "Promotional words or a phone number in the product name",
                    "Remove words such as 'giảm giá', 'sale' and phone numbers from the product name.",
                ),
                "Spam:contact": (
                    "Spam",
                    "Contact details in the product description",
                    "Remove phone numbers and other contact details from the description.",
                ),
                "Insufficient Information": (
                    "Insufficient Information",
                    "Description too short",
                    f"Describe the product in at least {REVIEW_DESCRIPTION_MIN} characters.",
                ),
            }
            violation_type, reason, suggestion = reasons[item["review_reason"]]
            item["review_reason"] = f"{violation_type}: {reason}"
            item["item_status"] = "BANNED"
            item["item_status_details"] = [
                {
                    "violation_type": violation_type,
                    "violation_reason": reason,
                    "suggestion": suggestion,
                    "fix_deadline_time": now + 7 * 86400,
                    "update_time": now,
                }
            ]
        item["update_time"] = now

    # -- orders (§1.9)

    def _status(self, status: str) -> str:
        status = CANONICAL_TO_SHOPEE.get(status, status)
        if status not in ORDER_STATUSES:
            raise SandboxError(f"unknown Shopee order status {status!r}")
        return status

    def create_order(self, shop_id: str, lines: list[dict], status: str) -> dict:
        self.finish_reviews()
        items = [
            item
            for item in self.store.all("item", shop=shop_id)
            if item["item_status"] not in ("SELLER_DELETE", "SHOPEE_DELETE")
        ]
        item_list = []
        for line in lines:
            item = next((item for item in items if item["item_sku"] == line["sku"]), None)
            if item is None:
                raise SandboxError(f"shop {shop_id} has no item with SKU {line['sku']!r}")
            item_list.append(
                {
                    "item_id": item["item_id"],
                    "item_name": item["item_name"],
                    "item_sku": item["item_sku"],
                    "model_id": 0,
                    "model_name": "",
                    "model_sku": "",
                    "model_quantity_purchased": int(line["quantity"]),
                    "model_original_price": float(item["original_price"]),
                    "model_discounted_price": float(item["original_price"]),
                    "wholesale": False,
                    "weight": float(item["weight"]),
                    "add_on_deal": False,
                    "main_item": False,
                    "add_on_deal_id": 0,
                    "promotion_type": "",
                    "promotion_id": 0,
                    "order_item_id": item["item_id"],
                    "promotion_group_id": 0,
                }
            )
        now = int(time.time())
        order_sn = time.strftime("%y%m%d", time.gmtime(now)) + "".join(
            secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8)
        )
        order = {
            "id": order_sn,
            "order_sn": order_sn,
            "shop_id": shop_id,
            "region": "VN",
            "currency": "VND",
            "cod": False,
            "order_status": self._status(status or "READY_TO_SHIP"),
            "message_to_seller": "",
            "create_time": now,
            "update_time": now,
            "days_to_ship": 2,
            "ship_by_date": now + 2 * 86400,
            "item_list": item_list,
            "total_amount": float(
                sum(line["model_discounted_price"] * line["model_quantity_purchased"] for line in item_list)
            ),
        }
        return self.store.put("order", order_sn, order, shop=shop_id)

    def set_order_status(self, order_id: str, status: str) -> dict:
        order = self.store.get("order", order_id)
        if order is None:
            raise SandboxError(f"no order {order_id}")
        order["order_status"] = self._status(status)
        order["update_time"] = int(time.time())
        return self.store.put("order", order_id, order, shop=order["shop_id"])

    def order_webhooks(self, order: dict) -> list[tuple[bytes, dict[str, str]]]:
        """An order status push (code 3, §1.10), signed over callback URL + "|" + raw body."""
        push = {
            "data": {
                "items": [],
                "ordersn": order["order_sn"],
                "status": order["order_status"],
                "completed_scenario": "",
                "update_time": order["update_time"],
            },
            "shop_id": int(order["shop_id"]),
            "code": 3,
            "timestamp": int(time.time()),
        }
        body = json.dumps(push, separators=(",", ":")).encode()
        signature = hmac.new(self.partner_key.encode(), self.webhook_url.encode() + b"|" + body, hashlib.sha256)
        return [(body, {"Content-Type": "application/json", "Authorization": signature.hexdigest()})]

    def get_order_list(self, request: Request) -> Reply:
        refusal, token = self._authenticate(request, shop=True)
        if refusal:
            return refusal
        query = request.query
        field = query.get("time_range_field")
        if field not in ("create_time", "update_time"):
            return _param("time_range_field should be create_time or update_time")
        try:
            time_from, time_to, page_size = int(query["time_from"]), int(query["time_to"]), int(query["page_size"])
        except (KeyError, ValueError):
            return _param("time_from, time_to and page_size are required int")
        if time_from >= time_to or time_to - time_from > ORDER_WINDOW:
            return _error(
                "order.order_list_invalid_time", "Start time must be earlier than end time and diff in 15days."
            )
        if not 1 <= page_size <= 100:
            return _param("page_size should be in [1, 100]")
        cursor = query.get("cursor") or "0"
        if not cursor.isdigit():
            return _param("cursor is invalid")
        wanted_status = query.get("order_status")
        if wanted_status and wanted_status not in ORDER_STATUSES:
            return _param("order_status is invalid")
        orders = [
            order
            for order in self.store.all("order", shop=str(token["shop_id"]))
            if time_from <= order[field] <= time_to and (not wanted_status or order["order_status"] == wanted_status)
        ]
        orders.sort(key=lambda order: (order[field], order["order_sn"]))
        offset = int(cursor)
        page = orders[offset : offset + page_size]
        more = offset + page_size < len(orders)
        with_status = "order_status" in (query.get("response_optional_fields") or "").split(",")
        order_list = [
            {"order_sn": order["order_sn"], **({"order_status": order["order_status"]} if with_status else {})}
            for order in page
        ]
        return _ok({"more": more, "next_cursor": str(offset + len(page)) if more else "", "order_list": order_list})

    def get_order_detail(self, request: Request) -> Reply:
        refusal, token = self._authenticate(request, shop=True)
        if refusal:
            return refusal
        order_sns = [sn.strip() for sn in (request.query.get("order_sn_list") or "").split(",") if sn.strip()]
        if not 1 <= len(order_sns) <= 50:
            return _param("order_sn_list length should be in [1, 50]")
        optional = {field.strip() for field in (request.query.get("response_optional_fields") or "").split(",")}
        default_fields = (
            "order_sn",
            "region",
            "currency",
            "cod",
            "order_status",
            "message_to_seller",
            "create_time",
            "update_time",
            "days_to_ship",
            "ship_by_date",
        )
        found = []
        for order_sn in order_sns:
            order = self.store.get("order", order_sn)
            if order is None or order["shop_id"] != str(token["shop_id"]):
                continue
            detail = {field: order[field] for field in default_fields}
            if "item_list" in optional:
                detail["item_list"] = order["item_list"]
            # total_amount "will only return after the buyer has completed payment".
            if "total_amount" in optional and order["order_status"] != "UNPAID":
                detail["total_amount"] = order["total_amount"]
            found.append(detail)
        if not found:
            return _error("error_not_found", "Wrong parameters, detail: order not found.")
        return _ok({"order_list": found})
