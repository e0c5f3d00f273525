"""Lazada Open Platform (Vietnam venture) sandbox.

An independent implementation of the parts of LazOP that OCOP Connect uses, following
/work/shared/docs/marketplaces.md §2 and the official API pages it cites. It imports nothing from
the connectors: its signing code is written from the documentation, so a connector that misreads
the documentation fails here instead of agreeing with itself.

URL layout (config/settings/base.py `sandbox_marketplaces`):

    {sandbox}/rest/<api path>            the API gateway (https://api.lazada.vn/rest)
    {sandbox}/auth/rest/auth/token/*     the token API (https://auth.lazada.com/rest)
    {sandbox}/oauth/authorize            the seller's consent page (https://auth.lazada.com/oauth/authorize)

Like the real gateway (as far as public clients show), LazOP answers HTTP 200 and the envelope's
`code` says what happened; only an injected backend failure is an HTTP 500. What this sandbox
validates, and which rules it invents for its quality check, is listed in
docs/connectors/lazada.md.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import hmac
import html
import io
import json
import re
import secrets
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .base import Reply, Request, Sandbox, SandboxError, html_reply, json_reply

DATA = Path(__file__).resolve().parents[2] / "data" / "marketplaces"
VN = datetime.timezone(datetime.timedelta(hours=7))

TIMESTAMP_WINDOW_S = 7200  # §2.2
ACCESS_TTL_S = 7 * 86400  # §2.4, app in "Test" status
REFRESH_TTL_S = 30 * 86400

IMAGE_MAX_BYTES = 3 * 1024 * 1024  # image-upload guide (the API page's 1 MB is the older figure)
IMAGE_SIDES = (330, 5000)
MAX_IMAGES = 8
NAME_MAX = 255
DESCRIPTION_MAX = 25_000
MAX_WEIGHT_KG = Decimal(40)
MAX_SIDES_SUM_CM = Decimal(300)
MAX_SKUS_PER_CALL = 50

PRODUCT_FILTERS = ("all", "live", "inactive", "deleted", "pending", "rejected", "sold-out")
ORDER_STATUSES = (
    *("unpaid", "pending", "packed", "repacked", "topack", "toship", "ready_to_ship", "shipping", "shipped"),
    *("delivered", "canceled", "failed", "failed_delivery", "lost", "lost_by_3pl", "damaged_by_3pl", "returned"),
    *("shipped_back", "shipped_back_success", "shipped_back_failed"),
)

# Sandbox quality check (Lazada's QC runs within ~24 h; its rules are not published): the
# wording follows Lazada's rejectReason{violationDetail, suggestion}.
PROMOTION_WORDS = re.compile(r"giảm giá|khuyến mãi|khuyến mại|flash ?sale|free ?ship|\bsale\b", re.IGNORECASE)
PHONE_NUMBER = re.compile(r"(?:\+?84|0)(?:[\s.\-]?\d){8,10}")
DESCRIPTION_MIN_TEXT = 30


def lazop_sign(secret: str, api_path: str, params: dict[str, str], *, method: str = "sha256", skip_empty=False) -> str:
    """The gateway's signature: API path, then every parameter but `sign` as name+value in byte
    order of the names, HMAC with the app secret, upper-case hex. `sign_method=hmac` is the legacy
    HMAC-MD5 variant."""
    text = api_path
    for name in sorted(params, key=lambda key: key.encode()):
        value = params[name]
        if name == "sign" or (skip_empty and (name == "" or value == "")):
            continue
        text += name + value
    digest = hashlib.md5 if method == "hmac" else hashlib.sha256
    return hmac.new(secret.encode("utf-8"), text.encode("utf-8"), digest).hexdigest().upper()


def push_signature(app_key: str, app_secret: str, body: bytes) -> str:
    return hmac.new(app_secret.encode("utf-8"), app_key.encode("utf-8") + body, hashlib.sha256).hexdigest()


def _known_leaf_categories() -> tuple[set[str], set[str]]:
    """(leaf ids, non-leaf ids) this sandbox knows: the Lazada column of ocop_category_map.csv and
    every node of lazada_categories_ph-region.csv (leaf = "Y")."""
    leaves, parents = set(), set()
    with open(DATA / "lazada_categories_ph-region.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            (leaves if row["leaf"] == "Y" else parents).add(row["category_id"])
    with open(DATA / "ocop_category_map.csv", encoding="utf-8") as handle:
        leaves.update(row["lazada_category_id"] for row in csv.DictReader(handle) if row["lazada_category_id"])
    return leaves, parents


def _xml_value(element):
    children = list(element)
    if not children:
        return (element.text or "").strip()
    result: dict = {}
    for child in children:
        value = _xml_value(child)
        if child.tag in result:
            if not isinstance(result[child.tag], list):
                result[child.tag] = [result[child.tag]]
            result[child.tag].append(value)
        else:
            result[child.tag] = value
    return result


def parse_document(text: str):
    """A `payload`/`apiRequestBody` string: JSON ({"Request": …}) or XML (<Request>…)."""
    text = (text or "").strip()
    if text.startswith("<"):
        root = ElementTree.fromstring(text)
        return {root.tag: _xml_value(root)}
    return json.loads(text)


def as_list(value) -> list:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _number(value) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _two_decimals(number: Decimal) -> bool:
    return number.as_tuple().exponent >= -2


def _iso(moment: float) -> str:
    return datetime.datetime.fromtimestamp(int(moment), tz=VN).isoformat()


def _spaced(moment: float) -> str:
    return datetime.datetime.fromtimestamp(int(moment), tz=VN).strftime("%Y-%m-%d %H:%M:%S %z")


def _parse_iso(text: str) -> float | None:
    try:
        parsed = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=VN)
    return parsed.timestamp()


def missing(name: str) -> LazopError:
    return LazopError(
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request is not supplied',
    )


class LazopError(Exception):
    """Answer with the LazOP error envelope."""

    def __init__(self, code: str, message: str, *, kind: str = "ISV", detail: list | None = None):
        super().__init__(message)
        self.code, self.message, self.kind, self.detail = code, message, kind, detail or []


class LazadaSandbox(Sandbox):
    name = "lazada"
    title = "Lazada"
    code_ttl = 1800  # "The authorization code is valid for half an hour and can only be used once"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.leaf_categories, self.parent_categories = _known_leaf_categories()

    # -- routing

    def routes(self):
        return [
            ("*", r"/oauth/authorize", self.authorize),
            ("*", r"/auth/rest(?P<api>/auth/token/(?:create|refresh))", self.token_api),
            ("*", r"/rest(?P<api>/.+)", self.gateway),
        ]

    def seller_apis(self):
        return {
            "/image/upload": self.upload_image,
            "/product/create": self.create_product,
            "/product/update": self.update_product,
            "/product/price_quantity/update": self.update_price_quantity,
            "/product/deactivate": self.deactivate_product,
            "/products/get": self.get_products,
            "/product/item/get": self.get_product_item,
            "/orders/get": self.get_orders,
            "/orders/items/get": self.get_multiple_order_items,
            "/order/get": self.get_order,
            "/order/items/get": self.get_order_items,
        }

    def shop_of(self, request: Request) -> str | None:
        if not request.path.startswith("/rest/"):
            return None
        token = {**request.query, **request.form}.get("access_token", "")
        record = self.store.get("access_token", token) if token else None
        return str(record["shop_id"]) if record else None

    # -- envelopes (§2.5)

    @staticmethod
    def request_id() -> str:
        return "2101" + secrets.token_hex(11)

    def ok(self, data=None, **top) -> Reply:
        body = {"code": "0", **({"data": data} if data is not None else {}), **top, "request_id": self.request_id()}
        return json_reply(body)

    def failure(self, code: str, message: str, *, kind: str = "ISV", detail: list | None = None) -> Reply:
        body = {"type": kind, "code": code, "message": message, "request_id": self.request_id()}
        if detail:
            body["detail"] = detail
        return json_reply(body)

    def error_reply(self, kind: str, request: Request) -> Reply:
        if kind == "rate_limited":
            # API-level QPS limiting: "please retry in the next second".
            return self.failure("901", "Limit service request speed in server side temporarily.", kind="ISP")
        if kind == "server_error":
            # A backend failure: the only answer here that is not HTTP 200 (see the docs).
            reply = self.failure("6", "E006: Unexpected internal error", kind="ISP")
            reply.status = 500
            return reply
        return self.failure("InvalidApiPath", "The specified API path is invalid", kind="ISV")

    # -- the gateway's checks

    def _params(self, request: Request) -> dict[str, str]:
        params = dict(request.query)
        params.update(request.form)
        return params

    def _verify(self, request: Request, api_path: str, *, seller: bool) -> tuple[dict, dict | None]:
        params = self._params(request)
        required = ["app_key", "timestamp", "sign_method", "sign"] + (["access_token"] if seller else [])
        for name in required:
            if not params.get(name):
                raise missing(name)
        if params["app_key"] != self.credentials["APP_KEY"]:
            raise LazopError("InvalidAppKey", "Specified app key is invalid")
        stamp = params["timestamp"]
        moment = int(stamp) / 1000 if stamp.isdigit() else _parse_iso(stamp.replace("Z", "+00:00"))
        if moment is None or abs(time.time() - moment) > TIMESTAMP_WINDOW_S:
            raise LazopError("InvalidTimestamp", "Invalid timestamp: it must be within 7200 seconds of UTC time")
        method = params["sign_method"].lower()
        if method not in ("sha256", "hmac"):
            raise LazopError("IncompleteSignature", "The request signature does not conform to lazop standards")
        secret = self.credentials["APP_SECRET"]
        # The Java SDK skips empty values, the Python SDK signs them: both are accepted.
        candidates = {
            lazop_sign(secret, api_path, params, method=method),
            lazop_sign(secret, api_path, params, method=method, skip_empty=True),
        }
        if not any(hmac.compare_digest(params["sign"], candidate) for candidate in candidates):
            raise LazopError("IncompleteSignature", "The request signature does not conform to lazop standards")
        token = None
        if seller:
            state, token = self.access_token_state(params["access_token"])
            if state != "ok":
                raise LazopError("IllegalAccessToken", "The specified access token is invalid or expired")
        return params, token

    def gateway(self, request: Request, api: str) -> Reply:
        handler = self.seller_apis().get(api)
        if handler is None:
            return self.error_reply("not_found", request)
        try:
            params, token = self._verify(request, api, seller=True)
            return handler(request, params, str(token["shop_id"]))
        except LazopError as error:
            return self.failure(error.code, error.message, kind=error.kind, detail=error.detail)

    # -- authorisation (§2.4)

    def authorize(self, request: Request) -> Reply:
        params = {**request.query, **request.form}
        if params.get("client_id") != self.credentials["APP_KEY"]:
            return html_reply("<!doctype html><meta charset=utf-8><p>Invalid client_id.</p>", 400)
        if params.get("response_type") != "code" or not params.get("redirect_uri"):
            return html_reply("<!doctype html><meta charset=utf-8><p>Invalid authorization request.</p>", 400)

        def redirect_to(shop_id: str, code: str) -> str:
            back = {"code": code}
            if params.get("state"):
                back["state"] = params["state"]
            uri = params["redirect_uri"]
            return uri + ("&" if "?" in uri else "?") + urllib.parse.urlencode(back)

        return self.authorization_page(request, redirect_to=redirect_to)

    def _token_body(self, shop_id: str, tokens: dict, *, list_field: str) -> dict:
        now = time.time()
        info = [
            {"country": "vn", "seller_id": shop_id, "user_id": str(int(shop_id) + 900000), "short_code": f"VN{shop_id}"}
        ]
        return {
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "expires_in": int(tokens["access_expires_at"] - now),
            "refresh_expires_in": int(tokens["refresh_expires_at"] - now),
            "country": "vn",
            "account_platform": "seller_center",
            "account": f"seller{shop_id}@sandbox.lazada.vn",
            "account_id": "",
            list_field: info,
        }

    def token_api(self, request: Request, api: str) -> Reply:
        try:
            params, _token = self._verify(request, api, seller=False)
            if api == "/auth/token/create":
                if not params.get("code"):
                    raise missing("code")
                record = self.redeem_code(params["code"])
                if record is None:
                    raise LazopError("InvalidCode", "Invalid authorization code", kind="ISP")
                shop_id = str(record["shop_id"])
                tokens = self.issue_tokens(shop_id, access_ttl=ACCESS_TTL_S, refresh_ttl=REFRESH_TTL_S)
                body = self._token_body(shop_id, tokens, list_field="country_user_info")
            else:
                if not params.get("refresh_token"):
                    raise missing("refresh_token")
                record = self.use_refresh_token(params["refresh_token"], single_use=False)
                if record is None:
                    raise LazopError("IllegalRefreshToken", "The specified refresh token is invalid or expired")
                shop_id = str(record["shop_id"])
                # The access token's lifetime is reset, the refresh token's is not (§2.4).
                tokens = self.issue_tokens(
                    shop_id, access_ttl=ACCESS_TTL_S, refresh_ttl=record["expires_at"] - time.time()
                )
                body = self._token_body(shop_id, tokens, list_field="country_user_info_list")
            return json_reply({**body, "code": "0", "request_id": self.request_id()})
        except LazopError as error:
            return self.failure(error.code, error.message, kind=error.kind)

    # -- images

    def upload_image(self, request: Request, params: dict, shop_id: str) -> Reply:
        from PIL import Image, UnidentifiedImageError

        parts = request.files.get("image") or []
        if not parts:
            raise missing("image")
        content = parts[0].content
        if len(content) > IMAGE_MAX_BYTES:
            raise LazopError("303", "E303: Image Too Large: the image must not exceed 3MB")
        try:
            with Image.open(io.BytesIO(content)) as picture:
                kind, (width, height) = picture.format, picture.size
        except (UnidentifiedImageError, OSError):
            raise LazopError("300", "E300: Upload image failed: the file is not an image") from None
        if kind not in ("JPEG", "PNG"):
            raise LazopError("300", "E300: Upload image failed: only JPG and PNG images are supported")
        low, high = IMAGE_SIDES
        if min(width, height) < low or max(width, height) > high:
            raise LazopError(
                "300", f"E300: Upload image failed: each side must be {low}-{high} px, got {width}x{height}"
            )
        digest = hashlib.md5(content).hexdigest()
        url = f"https://vn-live.slatic.net/p/{digest}.{'png' if kind == 'PNG' else 'jpg'}"
        self.store.put(
            "image",
            url,
            {"url": url, "hash_code": digest, "shop_id": shop_id, "width": width, "height": height},
            shop=shop_id,
        )
        return self.ok({"image": {"url": url, "hash_code": digest}})

    # -- products (§2.6, §2.7)

    def _document(self, params: dict, name: str) -> dict:
        if not params.get(name):
            raise missing(name)
        try:
            document = parse_document(params[name])
        except (ValueError, ElementTree.ParseError):
            raise LazopError("5", "E005: Invalid Request Format") from None
        product = (document.get("Request") or {}).get("Product") if isinstance(document, dict) else None
        if not isinstance(product, dict):
            raise LazopError("5", "E005: Invalid Request Format")
        return product

    def _validate_product(self, product: dict, shop_id: str, *, item: dict | None = None) -> tuple[list, dict]:
        """CreateProduct/UpdateProduct rules. Returns (errors as (code, field, message), clean values)."""
        errors: list[tuple[str, str, str]] = []
        clean: dict = {}
        creating = item is None

        category = str(product.get("PrimaryCategory", "")).strip()
        if category or creating:
            if not category:
                errors.append(("1", "PrimaryCategory", "E001: Parameter PrimaryCategory is mandatory"))
            elif category in self.parent_categories:
                errors.append(("4134", "PrimaryCategory", "Please select the last level category."))
            elif category not in self.leaf_categories:
                errors.append(("201", "PrimaryCategory", f"E201: {category} Invalid CategoryId"))
            clean["primary_category"] = category

        if "Images" in product or creating:
            images = product.get("Images")
            urls = [str(url) for url in as_list(images.get("Image") if isinstance(images, dict) else None) if url]
            if not urls:
                errors.append(("4139", "Images", "BIZ_CHECK_MAIN_IMAGE_REQUIRE: Main image is require"))
            elif len(urls) > MAX_IMAGES:
                errors.append(("4169", "Images", "CHK_IMAGE_MAX_ITEMS: Upload a maximum of 8 pictures"))
            for url in urls:
                record = self.store.get("image", url)
                if record is None or str(record["shop_id"]) != shop_id:
                    errors.append(
                        ("4138", "Images", f"BIZ_CHECK_EXIST_OUTER_IMAGE: The image exists in the outer link: {url}")
                    )
            if len(set(urls)) != len(urls):
                errors.append(("4158", "Images", "Main image has duplicate. Please remove to continue"))
            clean["images"] = urls

        attributes = product.get("Attributes")
        if attributes is not None or creating:
            attributes = attributes if isinstance(attributes, dict) else {}
            name = str(attributes.get("name") or "").strip()
            description = str(attributes.get("description") or "")
            brand = str(attributes.get("brand_id") or "").strip()
            if not name:
                errors.append(("4108", "name", "CHK_BASIC_REQUIRED: name is mandatory"))
            elif len(name) > NAME_MAX:
                errors.append(
                    (
                        "4120",
                        "name",
                        f"CHK_CATPROP_CPV_MAX_LEGNTH: name must be at most {NAME_MAX} characters, got {len(name)}",
                    )
                )
            if len(description) > DESCRIPTION_MAX:
                errors.append(
                    (
                        "4120",
                        "description",
                        "CHK_CATPROP_CPV_MAX_LEGNTH: description must be at most "
                        f"{DESCRIPTION_MAX} characters, got {len(description)}",
                    )
                )
            if not brand and not str(attributes.get("brand") or "").strip():
                errors.append(("4108", "brand_id", "CHK_BASIC_REQUIRED: brand_id is mandatory"))
            elif brand and not brand.isdigit():
                errors.append(
                    ("4142", "brand_id", "THD_BRAND_ID_IS_NOT_VALID_IN_CATEGORY: The brand is invalid in the category")
                )
            clean["attributes"] = {key: str(value) for key, value in attributes.items()}

        skus_node = product.get("Skus")
        skus = as_list(skus_node.get("Sku") if isinstance(skus_node, dict) else None)
        if creating and not skus:
            errors.append(("4108", "Skus", "CHK_BASIC_REQUIRED: at least one Sku is mandatory"))
        if len(skus) > 1:
            # OCOP products are single-SKU; several SKUs need saleProp variations (4144), not modelled.
            errors.append(
                ("4144", "Skus", "BIZ_CHECK_SKU_NOT_CONTAIN_SALEPROP: The sku does not contain the saleProp tag")
            )
        if skus:
            errors.extend(self._validate_sku(skus[0] if isinstance(skus[0], dict) else {}, shop_id, item, clean))
        return errors, clean

    def _validate_sku(self, sku: dict, shop_id: str, item: dict | None, clean: dict) -> list:
        errors = []
        seller_sku = str(sku.get("SellerSku") or "").strip()
        if item is not None:
            sku_id = str(sku.get("SkuId") or "").strip()
            if sku_id and sku_id != item["sku_id"]:
                errors.append(("4136", "SkuId", f"SELLER_SKU_NOT_FOUND: seller sku not found: {sku_id}"))
            if not sku_id and seller_sku != item["seller_sku"]:
                errors.append(
                    (
                        "4193",
                        "SellerSku",
                        "The SellerSku parameter is no longer supported. "
                        "Please update your parameter to use SkuId and try again",
                    )
                )
        if not seller_sku:
            errors.append(("4108", "SellerSku", "CHK_BASIC_REQUIRED: SellerSku is mandatory"))
        else:
            for other in self.store.all("item", shop=shop_id):
                if (
                    other["seller_sku"] == seller_sku
                    and other.get("status") != "Deleted"
                    and (item is None or other["item_id"] != item["item_id"])
                ):
                    errors.append(
                        ("4105", "SellerSku", f"BIZ_CHECK_SELLER_SKU_DUPLICATE: SellerSku repeat: {seller_sku}")
                    )
                    break
            clean["seller_sku"] = seller_sku
        price = _number(sku.get("price"))
        if price is None:
            errors.append(("4108", "price", "CHK_BASIC_REQUIRED: price is mandatory"))
        elif price <= 0:
            errors.append(("4118", "price", "BIZ_CHECK_PRICE_IS_ZERO: Price is not 0 check"))
        elif price != price.to_integral_value():
            errors.append(("4104", "price", "BIZ_CHECK_PRICE_PRECISION_INVALID: VND prices have no decimals"))
        else:
            clean["price"] = str(int(price))
        if "quantity" in sku:
            quantity = _number(sku.get("quantity"))
            if quantity is None or quantity < 0 or quantity != quantity.to_integral_value():
                errors.append(("4152", "quantity", "THD_INVENTORY_ERR_INV_PARAM_ILLEGAL: illegal parameter quantity"))
            else:
                clean["quantity"] = int(quantity)
        sides = {}
        for field in ("package_length", "package_width", "package_height", "package_weight"):
            value = _number(sku.get(field))
            if value is None:
                errors.append(("4108", field, f"CHK_BASIC_REQUIRED: {field} is mandatory"))
            elif value <= 0 or not _two_decimals(value):
                errors.append(
                    (
                        "4149",
                        field,
                        f"BIZ_CHECK_PACKAGE_DECIMAL_INVALID: {field} must be a positive number with at most 2 decimals",
                    )
                )
            else:
                sides[field] = value
                clean[field] = str(value)
        if sides.get("package_weight", 0) > MAX_WEIGHT_KG:
            errors.append(
                (
                    "4164",
                    "package_weight",
                    "BIZ_CHECK_MAX_PACKAGE_WEIGHT: The package weight exceeds 40kg, please make change or contact "
                    "your category manager to apply DBS permission.",
                )
            )
        total = sum(sides.get(field, 0) for field in ("package_length", "package_width", "package_height"))
        if total > MAX_SIDES_SUM_CM:
            errors.append(
                (
                    "4165",
                    "package_length",
                    "BIZ_CHECK_MAX_PACKAGE_DIMENISIONS: The Package dimension(Length+Width+Height) exceeds 300cm, "
                    "please make change or contact your category manager to apply DBS permission.",
                )
            )
        return errors

    @staticmethod
    def _refuse(errors: list) -> None:
        code, _field, message = errors[0]
        detail = [{"field": field, "message": text} for _code, field, text in errors]
        raise LazopError(code, message, detail=detail)

    def create_product(self, request: Request, params: dict, shop_id: str) -> Reply:
        product = self._document(params, "payload")
        errors, clean = self._validate_product(product, shop_id)
        if errors:
            self._refuse(errors)
        item_id = str(self.store.next_id("lazada_item", start=2300000001))
        sku_id = str(self.store.next_id("lazada_sku", start=13800000001))
        now = time.time()
        item = {
            "item_id": item_id,
            "shop_id": shop_id,
            "status": "Pending QC",
            "subStatus": "",
            "rejectReason": [],
            "sku_id": sku_id,
            "shop_sku": f"{item_id}_VNAMZ-{sku_id}",
            "sku_status": "inactive",
            "quantity": 0,
            "created_time": now,
            "updated_time": now,
            **clean,
        }
        self.save_item(self.new_item_review(item))
        reply = self.ok(
            {
                "item_id": item_id,
                "sku_list": [{"seller_sku": item["seller_sku"], "shop_sku": item["shop_sku"], "sku_id": sku_id}],
                "item_status": "Pending QC",
            }
        )
        # The "timed out after Lazada created it" fault: the item exists, the answer comes late.
        reply.delay_after = self.timeout_reply_delay()
        return reply

    def _own_item(
        self, item_id: str, shop_id: str, *, code: str = "208", message: str = "E208: Item not exist"
    ) -> dict:
        self.finish_reviews()
        item = self.store.get("item", str(item_id).strip()) if str(item_id).strip() else None
        if item is None or str(item["shop_id"]) != shop_id or item.get("status") == "Deleted":
            raise LazopError(code, message)
        return item

    def update_product(self, request: Request, params: dict, shop_id: str) -> Reply:
        product = self._document(params, "payload")
        if not str(product.get("ItemId") or "").strip():
            raise LazopError("1", "E001: Parameter ItemId is mandatory")
        item = self._own_item(
            product["ItemId"], shop_id, code="4137", message="ITEM_NOT_FOUND: IC commodity query less than"
        )
        errors, clean = self._validate_product(product, shop_id, item=item)
        if errors:
            self._refuse(errors)
        item.update(clean, updated_time=time.time())
        if item["subStatus"] == "Reject":  # a corrected item goes back to quality check
            item.update(status="Pending QC", subStatus="", rejectReason=[])
            item.update(review_state="reviewing", review_ends_at=time.time() + self.review_seconds)
        self.save_item(item)
        return self.ok({})

    def update_price_quantity(self, request: Request, params: dict, shop_id: str) -> Reply:
        product = self._document(params, "payload")
        skus_node = product.get("Skus")
        skus = as_list(skus_node.get("Sku") if isinstance(skus_node, dict) else None)
        if not skus:
            raise LazopError("30", "E030: Empty Request")
        if len(skus) > MAX_SKUS_PER_CALL:
            raise LazopError(
                "4171",
                "The updated SKU quantity exceeds the maximum number 50, "
                "please do not update more than 50 SKUs at once",
            )
        updates = []
        for sku in skus:
            sku = sku if isinstance(sku, dict) else {}
            item = None
            if str(sku.get("ItemId") or "").strip():
                item = self._own_item(
                    sku["ItemId"], shop_id, code="4137", message="ITEM_NOT_FOUND: IC commodity query less than"
                )
                if str(sku.get("SkuId") or "").strip() not in ("", item["sku_id"]):
                    raise LazopError("4136", "SELLER_SKU_NOT_FOUND: seller sku not found")
            else:
                wanted = (str(sku.get("SkuId") or ""), str(sku.get("SellerSku") or ""))
                candidates = self.store.all("item", shop=shop_id)
                item = next(
                    (one for one in candidates if one["sku_id"] == wanted[0] or one["seller_sku"] == wanted[1]), None
                )
                if item is None:
                    raise LazopError("4136", "SELLER_SKU_NOT_FOUND: seller sku not found")
            change = {}
            if "Price" in sku:
                price = _number(sku["Price"])
                if price is None or price <= 0:
                    raise LazopError("4118", "BIZ_CHECK_PRICE_IS_ZERO: Price is not 0 check")
                if price != price.to_integral_value():
                    raise LazopError("4104", "BIZ_CHECK_PRICE_PRECISION_INVALID: VND prices have no decimals")
                change["price"] = str(int(price))
            if "Quantity" in sku:
                quantity = _number(sku["Quantity"])
                if quantity is None or quantity < 0 or quantity != quantity.to_integral_value():
                    raise LazopError("4152", "THD_INVENTORY_ERR_INV_PARAM_ILLEGAL: illegal parameter Quantity")
                change["quantity"] = int(quantity)
            if not change:
                raise LazopError(
                    "501",
                    "E501: Update product failed",
                    detail=[{"field": "Sku", "message": "neither Price nor Quantity given"}],
                )
            updates.append((item, change))
        for item, change in updates:
            item.update(change, updated_time=time.time())
            self.save_item(item)
        return self.ok({})

    def deactivate_product(self, request: Request, params: dict, shop_id: str) -> Reply:
        product = self._document(params, "apiRequestBody")
        item_id = str(product.get("ItemId") or "").strip()
        if not item_id:
            raise LazopError("E0001", "Parameter ItemId is mandatory")
        item = self._own_item(item_id, shop_id, code="E0002", message="Product:item id not exist")
        if item["status"] != "Active":
            raise LazopError("E0004", "Product Status not online")
        item.update(status="InActive", sku_status="inactive", updated_time=time.time())
        self.save_item(item)
        return self.ok({})

    def _product_view(self, item: dict) -> dict:
        sku = {
            "Status": item.get("sku_status", "inactive"),
            "quantity": item.get("quantity", 0),
            "Available": item.get("quantity", 0),
            "SellerSku": item["seller_sku"],
            "ShopSku": item["shop_sku"],
            "SkuId": int(item["sku_id"]),
            "Url": f"https://www.lazada.vn/-i{item['item_id']}-s{item['sku_id']}.html",
            "price": float(item["price"]),
            "special_price": 0.0,
            "package_length": item.get("package_length"),
            "package_width": item.get("package_width"),
            "package_height": item.get("package_height"),
            "package_weight": item.get("package_weight"),
            "Images": [],
        }
        return {
            "item_id": int(item["item_id"]),
            "primary_category": int(item["primary_category"]),
            "attributes": item.get("attributes", {}),
            "skus": [sku],
            "images": item.get("images", []),
            "marketImages": [],
            "status": item["status"],
            "subStatus": item.get("subStatus") or "",
            "rejectReason": item.get("rejectReason") or [],
            "suspendedSkus": [],
            "trialProduct": False,
            "created_time": str(int(item["created_time"] * 1000)),
            "updated_time": str(int(item["updated_time"] * 1000)),
        }

    @staticmethod
    def _matches(item: dict, wanted: str) -> bool:
        status, sub = item["status"], item.get("subStatus") or ""
        return {
            "all": status != "Deleted",
            "live": status == "Active",
            "inactive": status == "InActive" and sub != "Reject",
            "deleted": status == "Deleted",
            "pending": status == "Pending QC",
            "rejected": sub == "Reject",
            "sold-out": status == "Active" and int(item.get("quantity", 0)) == 0,
        }[wanted]

    def get_products(self, request: Request, params: dict, shop_id: str) -> Reply:
        self.finish_reviews()
        wanted = params.get("filter", "")
        if wanted not in PRODUCT_FILTERS:
            raise LazopError("36", "E036: Invalid status filter")
        try:
            limit = int(params.get("limit", "10"))
            offset = int(params.get("offset", "0"))
        except ValueError:
            raise LazopError("19", "E019: Invalid Limit") from None
        if not 1 <= limit <= 50:
            raise LazopError("19", f'E019: "{limit}" Invalid Limit')
        if not 0 <= offset <= 10000:
            raise LazopError("14", f'E014: "{offset}" Invalid Offset')
        sellers = None
        if params.get("sku_seller_list"):
            try:
                sellers = json.loads(params["sku_seller_list"])
            except ValueError:
                sellers = None
            if not isinstance(sellers, list) or len(sellers) > 100:
                raise LazopError("70", "E070: You have corrupt data in your sku seller list.")
            sellers = {str(value) for value in sellers}
        bounds = {}
        for name in ("create_after", "create_before", "update_after", "update_before"):
            if params.get(name):
                moment = _parse_iso(params[name])
                if moment is None:
                    raise LazopError("17", f'E017: "{params[name]}" Invalid Date Format')
                bounds[name] = int(moment)
        items = []
        for item in self.store.all("item", shop=shop_id):
            if not self._matches(item, wanted) or (sellers is not None and item["seller_sku"] not in sellers):
                continue
            created, updated = int(item["created_time"]), int(item["updated_time"])
            if created < bounds.get("create_after", created) or created > bounds.get("create_before", created):
                continue
            if updated < bounds.get("update_after", updated) or updated > bounds.get("update_before", updated):
                continue
            items.append(item)
        page = items[offset : offset + limit]
        return self.ok({"total_products": len(items), "products": [self._product_view(item) for item in page]})

    def get_product_item(self, request: Request, params: dict, shop_id: str) -> Reply:
        if not params.get("item_id"):
            raise LazopError("200", "E200: Empty SellerSku")
        return self.ok(self._product_view(self._own_item(params["item_id"], shop_id)))

    # -- review (Lazada QC)

    def review_outcome(self, item: dict) -> tuple[bool, str]:
        attributes = item.get("attributes", {})
        name = attributes.get("name", "")
        text = re.sub(r"<[^>]+>", " ", attributes.get("description", ""))
        text = " ".join(html.unescape(text).split())
        if PROMOTION_WORDS.search(name):
            item["_qc_suggestion"] = (
                "Remove promotional words (sale, giảm giá, khuyến mãi, freeship…) from the product name."
            )
            return False, "Wrong Product Name:Promotional wording is not allowed in the product name"
        if PHONE_NUMBER.search(name) or PHONE_NUMBER.search(text):
            item["_qc_suggestion"] = "Remove phone numbers and other contact details from the name and description."
            return False, "Prohibited Content:Contact information is not allowed"
        if len(text) < DESCRIPTION_MIN_TEXT:
            item["_qc_suggestion"] = f"Describe the product in at least {DESCRIPTION_MIN_TEXT} characters."
            return False, "Wrong Description:The description is too short"
        return True, ""

    def on_review_finished(self, item: dict) -> None:
        if item["review_state"] == "approved":
            item.update(status="Active", subStatus="", rejectReason=[], sku_status="active")
        else:
            item.update(
                status="InActive",
                subStatus="Reject",
                sku_status="inactive",
                rejectReason=[{"suggestion": item.pop("_qc_suggestion", ""), "violationDetail": item["review_reason"]}],
            )
        item["updated_time"] = time.time()

    # -- orders (§2.6)

    def create_order(self, shop_id: str, lines: list[dict], status: str) -> dict:
        status = status or "pending"
        if status not in ORDER_STATUSES:
            raise SandboxError(f"unknown Lazada order status {status}")
        self.finish_reviews()
        now = time.time()
        order_id = str(self.store.next_id("lazada_order", start=491253082180001))
        rows = []
        for line in lines:
            item = next((one for one in self.store.all("item", shop=shop_id) if one["seller_sku"] == line["sku"]), None)
            if item is None:
                raise SandboxError(f"no Lazada item with SellerSku {line['sku']} in shop {shop_id}")
            for _unit in range(int(line["quantity"])):  # one order-item row per unit, as Lazada does
                rows.append(
                    {
                        "order_item_id": str(self.store.next_id("lazada_order_item", start=491253082280001)),
                        "sku": item["seller_sku"],
                        "shop_sku": item["shop_sku"],
                        "sku_id": item["sku_id"],
                        "product_id": item["item_id"],
                        "name": item.get("attributes", {}).get("name", ""),
                        "item_price": item["price"],
                        "status": status,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        order = {
            "id": order_id,
            "order_id": order_id,
            "shop_id": str(shop_id),
            "created_at": now,
            "updated_at": now,
            "items": rows,
        }
        self.store.put("order", order_id, order, shop=str(shop_id))
        return order

    def set_order_status(self, order_id: str, status: str) -> dict:
        if status not in ORDER_STATUSES:
            raise SandboxError(f"unknown Lazada order status {status}")
        order = self.store.get("order", order_id)
        if order is None:
            raise SandboxError(f"no Lazada order {order_id}")
        now = time.time()
        for row in order["items"]:
            row.update(status=status, updated_at=now)
        order["updated_at"] = now
        return self.store.put("order", order_id, order, shop=order["shop_id"])

    def order_webhooks(self, order: dict) -> list[tuple[bytes, dict[str, str]]]:
        """One trade-order push (message_type 0) per order line, signed as §2.8 says."""
        deliveries = []
        for row in order["items"]:
            message = {
                "seller_id": order["shop_id"],
                "message_type": 0,
                "data": {
                    "order_status": row["status"],
                    "trade_order_id": order["order_id"],
                    "trade_order_line_id": row["order_item_id"],
                    "status_update_time": int(row["updated_at"]),
                },
                "timestamp": int(time.time() * 1000),
                "site": "lazada_vn",
            }
            body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
            signature = push_signature(self.credentials["APP_KEY"], self.credentials["APP_SECRET"], body)
            deliveries.append((body, {"Content-Type": "application/json", "Authorization": signature}))
        return deliveries

    def _order_view(self, order: dict) -> dict:
        statuses = list(dict.fromkeys(row["status"] for row in order["items"]))
        total = sum(Decimal(row["item_price"]) for row in order["items"])
        return {
            "order_id": order["order_id"],
            "order_number": order["order_id"],
            "created_at": _iso(order["created_at"]),
            "updated_at": _iso(order["updated_at"]),
            "price": f"{total:.2f}",
            "shipping_fee": "0.00",
            "voucher": "0.00",
            "payment_method": "COD",
            "statuses": statuses,
            "items_count": len(order["items"]),
            "warehouse_code": "dropshipping",
            "customer_first_name": "Khách sandbox",
            "address_shipping": {"country": "Vietnam", "city": "Hà Nội", "first_name": "Khách sandbox"},
        }

    @staticmethod
    def _item_view(order: dict, row: dict) -> dict:
        return {
            "order_item_id": int(row["order_item_id"]),
            "order_id": int(order["order_id"]),
            "name": row["name"],
            "sku": row["sku"],
            "shop_sku": row["shop_sku"],
            "sku_id": row["sku_id"],
            "product_id": row["product_id"],
            "item_price": float(row["item_price"]),
            "paid_price": float(row["item_price"]),
            "currency": "VND",
            "status": row["status"],
            "shipping_type": "Dropshipping",
            "reason": "",
            "return_status": "",
            "tracking_code": "",
            "created_at": _spaced(row["created_at"]),
            "updated_at": _spaced(row["updated_at"]),
        }

    def get_orders(self, request: Request, params: dict, shop_id: str) -> Reply:
        if not params.get("update_after") and not params.get("created_after"):
            raise missing("update_after")
        bounds = {}
        for name in ("created_after", "created_before", "update_after", "update_before"):
            if params.get(name):
                moment = _parse_iso(params[name])
                if moment is None:
                    raise LazopError("17", f'E017: "{params[name]}" Invalid Date Format')
                bounds[name] = int(moment)
        sort_by = params.get("sort_by", "created_at")
        if sort_by not in ("created_at", "updated_at"):
            raise LazopError("75", "E075: Invalid sort filter.")
        direction = params.get("sort_direction", "DESC").upper()
        if direction not in ("ASC", "DESC"):
            raise LazopError("74", "E074: Invalid sort direction.")
        try:
            offset, limit = int(params.get("offset", "0")), int(params.get("limit", "100"))
        except ValueError:
            raise LazopError("19", "E019: Invalid Limit") from None
        if not 1 <= limit <= 100:
            raise LazopError("19", f'E019: "{limit}" Invalid Limit')
        if offset < 0:
            raise LazopError("14", f'E014: "{offset}" Invalid Offset')
        wanted = params.get("status")
        if wanted and wanted not in ORDER_STATUSES:
            raise LazopError("36", "E036: Invalid status filter")
        orders = []
        for order in self.store.all("order", shop=shop_id):
            created, updated = int(order["created_at"]), int(order["updated_at"])
            if created < bounds.get("created_after", created) or created > bounds.get("created_before", created):
                continue
            if updated < bounds.get("update_after", updated) or updated > bounds.get("update_before", updated):
                continue
            if wanted and wanted not in {row["status"] for row in order["items"]}:
                continue
            orders.append(order)
        key = "updated_at" if sort_by == "updated_at" else "created_at"
        orders.sort(key=lambda one: (int(one[key]), int(one["order_id"])), reverse=direction == "DESC")
        page = orders[offset : offset + limit]
        return self.ok(
            {"count": len(page), "countTotal": len(orders), "orders": [self._order_view(one) for one in page]}
        )

    def get_multiple_order_items(self, request: Request, params: dict, shop_id: str) -> Reply:
        text = params.get("order_ids", "").strip()
        if not text:
            raise missing("order_ids")
        try:
            ids = json.loads(text)
        except ValueError:
            ids = None
        if not isinstance(ids, list) or not ids:
            raise LazopError("56", "E056: Invalid OrdersIdList format. Must use array format [1,2]")
        if len(ids) > 50:
            raise LazopError("38", "E038: Too many orders were requested")
        result = []
        for order_id in ids:
            order = self.store.get("order", str(order_id))
            if order is None or order["shop_id"] != shop_id:
                raise LazopError("37", "E037: One or more order id in the list are incorrect")
            result.append(
                {
                    "order_id": int(order["order_id"]),
                    "order_number": order["order_id"],
                    "order_items": [self._item_view(order, row) for row in order["items"]],
                }
            )
        return self.ok(result)

    def _own_order(self, params: dict, shop_id: str) -> dict:
        order_id = str(params.get("order_id") or "").strip()
        order = self.store.get("order", order_id) if order_id else None
        if order is None or order["shop_id"] != shop_id:
            raise LazopError("16", f'E016: "{order_id}" Invalid Order ID')
        return order

    def get_order(self, request: Request, params: dict, shop_id: str) -> Reply:
        return self.ok(self._order_view(self._own_order(params, shop_id)))

    def get_order_items(self, request: Request, params: dict, shop_id: str) -> Reply:
        order = self._own_order(params, shop_id)
        return self.ok([self._item_view(order, row) for row in order["items"]])
