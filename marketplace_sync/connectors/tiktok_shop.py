"""TikTok Shop Partner API, version 202309 (docs/connectors/tiktok_shop.md).

Section numbers (§) refer to /work/shared/docs/marketplaces.md §3 unless a stored TikTok page is
named. Three things shape this module:

- Every API call is signed over its query, path and (JSON) body (§3.3) and carries the seller's
  token in `x-tts-access-token`; shop-scoped calls also carry `shop_cipher` (§3.2), which Get
  Authorized Shops returns and which we keep in TokenGrant.extra["shop_cipher"].
- Products go to audit after every create or edit (§3.5): a create answers PENDING, the verdict
  arrives later (Get Product `status` + `audit_failed_reasons`).
- Orders come back from Get Order List with their line items, one line item per unit sold
  (the 202309 order has no quantity field), so lines are grouped back into quantities here.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import html
import io
import json
import re
import time
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import urlencode

from django.utils.translation import gettext as _
from PIL import Image

from .base import (
    AuthorizationRevoked,
    Connector,
    ListingPayload,
    ListingStatus,
    OrdersPage,
    OrderStatus,
    PermanentError,
    RateLimited,
    RemoteListing,
    RemoteOrder,
    RemoteOrderLine,
    Response,
    ShopCredentials,
    TokenExpired,
    TokenGrant,
    TransientError,
    WebhookEvent,
    WebhookRejected,
    parse_retry_after,
)

VERSION = "202309"

# --- Signing (§3.3, §3.7) ----------------------------------------------------------------------

# §3.3 step 1: these two never enter the signature, wherever they appear.
_UNSIGNED_PARAMS = ("sign", "access_token")


def sign_request(app_secret, path, query: dict, body: bytes = b"") -> str:
    """The `sign` query parameter of an API call (§3.3).

    Keys sorted, `key + value` concatenated, the path in front, the raw body behind (the caller
    passes b"" for multipart uploads, whose body is not signed), the app secret on both sides,
    then HMAC-SHA256 keyed with the app secret, lowercase hex."""
    params = "".join(f"{key}{query[key]}" for key in sorted(query) if key not in _UNSIGNED_PARAMS)
    secret = app_secret.encode()
    message = secret + path.encode() + params.encode() + (body or b"") + secret
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign_webhook(app_key, app_secret, body: bytes) -> str:
    """The `Authorization` header of a webhook: HMAC-SHA256(app_secret, app_key + raw body), hex.

    Third-party sourced (§3.7 [3P]): TikTok's guide only says the header carries a signature;
    the scheme comes from a community SDK and matches §7 row 12. See the docs file."""
    return hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()


def _clock() -> float:
    """Seconds since the epoch; the tests move it to produce a stale `timestamp`."""
    return time.time()


# --- Rules (numbers from data/marketplaces/listing_rules_vn.csv, the Create Product and Upload
# Product Image pages of the 202309 API; see the docs file) -----------------------------------

TITLE_MIN, TITLE_MAX = 25, 255  # "other regions", VN included
DESCRIPTION_MAX = 10_000  # HTML characters
MAX_MAIN_IMAGES = 9
IMAGE_MAX_BYTES = 10 * 1024 * 1024
MAIN_IMAGE_MIN_PX, MAIN_IMAGE_MAX_PX = 300, 4000
PRICE_MIN_VND, PRICE_MAX_VND = 1, 180_000_000  # local sellers (Product Pricing page)
STOCK_MIN, STOCK_MAX = 1, 99_999
SELLER_SKU_MAX = 50

# Error 12052931: the title must not hold HTML escapes, emojis, control characters or more than
# nine identical characters in a row, nor consist of symbols only.
_HTML_ESCAPE = re.compile(r"&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\U0001f1e6-\U0001f1ff]")
_REPEATED = re.compile(r"(.)\1{9,}")
# listing_rules_vn.csv "title content" (secondary source): no promotions, contact details, links
# or other platforms' names; the audit refuses them.
_TITLE_FORBIDDEN = re.compile(
    r"giảm giá|khuyến m[ãạ]i|\bsale\b|freeship|miễn phí vận chuyển|rẻ nhất|\bshopee\b|\blazada\b|\btiki\b|"
    r"\bsendo\b|https?://|\bwww\.|(?<!\d)(?:\+?84|0)(?:[ .-]?\d){9}(?!\d)",
    re.IGNORECASE,
)

# §3.5 / Get Product `status`. PENDING is the audit; FAILED the failed audit; the seller's own
# deactivation or deletion is a withdrawal, the platform's deactivation or freeze a ban. DRAFT
# (saved in Seller Center, never submitted) is not on sale either.
LISTING_STATUSES = {
    "PENDING": ListingStatus.IN_REVIEW,
    "ACTIVATE": ListingStatus.LIVE,
    "FAILED": ListingStatus.REJECTED,
    "DRAFT": ListingStatus.WITHDRAWN,
    "SELLER_DEACTIVATED": ListingStatus.WITHDRAWN,
    "DELETED": ListingStatus.WITHDRAWN,
    "PLATFORM_DEACTIVATED": ListingStatus.BANNED,
    "FREEZE": ListingStatus.BANNED,
}

# §3.5 order statuses; the order-status webhook writes CANCEL for CANCELLED (§3.7). ON_HOLD is
# the buyer's free-cancellation window: TikTok tells sellers not to ship yet, so it counts as
# not paid. The 202309 order has no return status (returns live in the Return & Refund API).
ORDER_STATUSES = {
    "UNPAID": OrderStatus.PENDING,
    "ON_HOLD": OrderStatus.PENDING,
    "AWAITING_SHIPMENT": OrderStatus.PAID,
    "AWAITING_COLLECTION": OrderStatus.PAID,
    "PARTIALLY_SHIPPING": OrderStatus.PAID,
    "IN_TRANSIT": OrderStatus.SHIPPED,
    "DELIVERED": OrderStatus.COMPLETED,
    "COMPLETED": OrderStatus.COMPLETED,
    "CANCELLED": OrderStatus.CANCELLED,
    "CANCEL": OrderStatus.CANCELLED,
}

# §3.6 and the stored "Common errors" page.
RATE_LIMIT_CODE = 36009002
EXPIRED_TOKEN_CODE = 105002
GATEWAY_VALIDATION_CODE = 36009004  # reused for many failures; the message tells which
TRANSIENT_CODES = {
    36009003,  # Internal error. Please try again.
    36009007,  # Request timeout.
    12001000,  # product api internal error
    12052881,  # identity internal error
}
# Get Product answers these for a product it will not show (FREEZE, DELETED or unknown).
PRODUCT_MISSING_CODES = {12019150, 12052032, 12052260}
STATUS_NOT_ALLOWED_CODE = 12052901


def _vnd(amount: Any) -> int:
    """A TikTok money string ("150000", "150000.00") as whole dong."""
    try:
        return int(Decimal(str(amount or "0")).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation as error:
        raise PermanentError(
            f"TikTok Shop sent an amount that is not a number: {amount!r}", code="bad_amount"
        ) from error


def _group(number: int) -> str:
    return f"{number:,}".replace(",", ".")


def _timestamp(value: Any) -> datetime.datetime | None:
    if not value:
        return None
    return datetime.datetime.fromtimestamp(int(value), tz=datetime.UTC)


def description_html(text: str) -> str:
    """Our plain-text description as the HTML TikTok wants (§3.5): a <p> per paragraph, <br>
    for single line breaks, everything escaped."""
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]
    # Quotes stay as they are: TikTok refuses HTML escapes it does not need (error 12052932).
    return "".join(
        "<p>" + "<br>".join(html.escape(line, quote=False) for line in part.splitlines()) + "</p>"
        for part in paragraphs
    )


def weight_kg(grams: int) -> str:
    """Grams as KILOGRAM with at most three decimals, the only weight unit VN accepts."""
    return f"{Decimal(grams) / Decimal(1000):.3f}".rstrip("0").rstrip(".")


def whole_cm(value: Decimal) -> str:
    """Package dimensions are "a positive whole number" of CENTIMETER: round up so that the
    parcel is never declared smaller than it is."""
    return str(int(Decimal(value).to_integral_value(rounding=ROUND_CEILING)))


def idempotency_key(sku: str) -> str:
    """The same SKU always sends the same key, so a create repeated after a lost answer is
    recognised by TikTok (max 128 characters)."""
    return "ocop-" + hashlib.sha256(sku.encode()).hexdigest()[:48]


def _audit_reason(product: Mapping[str, Any]) -> str:
    parts = []
    for failure in product.get("audit_failed_reasons") or []:
        text = "; ".join(failure.get("reasons") or [])
        suggestions = " ".join(failure.get("suggestions") or [])
        if suggestions:
            text = f"{text} ({suggestions})" if text else suggestions
        position = failure.get("position")
        parts.append(f"{position}: {text}" if position else text)
    return " | ".join(part for part in parts if part)


class TikTokShopConnector(Connector):
    """TikTok Shop for a VN local seller, through the 202309 Partner API."""

    channel = "tiktok_shop"
    # Get Order List documents no limit on the update-time window (§3.5).
    max_order_window: ClassVar[datetime.timedelta | None] = None
    order_page_size: ClassVar[int] = 50  # 1–100 (§3.5); config ORDER_PAGE_SIZE overrides it

    def __init__(self, config, transport=None):
        super().__init__(config, transport)
        self._ciphers: dict[str, str] = {}
        self._warehouses: dict[str, str] = {}

    # -- HTTP

    @property
    def _app_key(self) -> str:
        return self.config["APP_KEY"]

    @property
    def _app_secret(self) -> str:
        return self.config["APP_SECRET"]

    def _describe(self, response: Response) -> tuple[str, str, str]:
        body = response.body if isinstance(response.body, dict) else {}
        code = body.get("code")
        request_id = str(body.get("request_id") or "")
        if code in (0, None) and response.status_code < 400:
            return request_id, "", ""
        message = str(body.get("message") or (response.body if isinstance(response.body, str) else ""))
        return request_id, str(code if code is not None else response.status_code), message[:500]

    def _data(self, response: Response) -> dict:
        """The `data` of a successful answer; otherwise the error it stands for (§3.6)."""
        body = response.body if isinstance(response.body, dict) else None
        code = body.get("code") if body is not None else None
        request_id, error_code, message = self._describe(response)
        details = {"code": error_code, "http_status": response.status_code, "request_id": request_id}
        if response.status_code == 429 or code == RATE_LIMIT_CODE:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RateLimited(message or "TikTok Shop rate limit", retry_after=retry_after, **details)
        if body is None:
            if response.status_code >= 500:
                raise TransientError(f"TikTok Shop answered HTTP {response.status_code}", **details)
            raise PermanentError(f"TikTok Shop answered HTTP {response.status_code} without JSON", **details)
        if code == 0 and response.status_code < 400:
            return body.get("data") or {}
        if response.status_code >= 500 or code in TRANSIENT_CODES:
            raise TransientError(message or "TikTok Shop server error", **details)
        invalid_token = code == GATEWAY_VALIDATION_CODE and ("access_token" in message or "access-token" in message)
        if code == EXPIRED_TOKEN_CODE or invalid_token:
            # 105002 expired; 36009004 "...`x-tts-access-token` header is invalid." (Common errors)
            raise TokenExpired(message, **details)
        raise PermanentError(message or "TikTok Shop refused the request", **details)

    def _call(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        credentials: ShopCredentials | None = None,
        shop_scoped: bool = True,
        query: Mapping[str, Any] | None = None,
        payload: Any = None,
        files: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> dict:
        """One signed API call (§3.2, §3.3); returns `data`."""
        params = {"app_key": self._app_key, "timestamp": str(int(_clock()))}
        params.update({key: str(value) for key, value in (query or {}).items()})
        if credentials is not None and shop_scoped:
            params["shop_cipher"] = self._shop_cipher(credentials)
        body = self.dumps(payload) if payload is not None else None
        # Multipart bodies are not signed (§3.3 step 4).
        params["sign"] = sign_request(self._app_secret, path, params, b"" if files else (body or b""))
        headers = {}
        if files is None:
            headers["content-type"] = "application/json"
        if credentials is not None:
            headers["x-tts-access-token"] = credentials.access_token
        response = self._send(
            method,
            self.config["API_URL"].rstrip("/") + path,
            endpoint=endpoint,
            throttle_key=f"{self.channel}:{credentials.shop_id}" if credentials and credentials.shop_id else "",
            params=params,
            body=body,
            files=files,
            data=form,
            headers=headers,
        )
        return self._data(response)

    # -- Authorisation (§3.4)

    def authorization_url(self, *, redirect_uri: str, state: str) -> str:
        """The service authorization link. TikTok sends the seller back to the Redirect URL
        registered for the app in Partner Center, not to a URL in the link, so `redirect_uri`
        is not sent: it must equal the registered one (see the docs file)."""
        query = urlencode({"service_id": self.config["SERVICE_ID"], "state": state})
        return f"{self.config['AUTHORIZE_URL']}?{query}"

    def _token_call(self, path: str, params: dict, *, throttle_key: str = "") -> dict:
        # The token endpoints are not signed: the app secret travels in the query (§3.4).
        response = self._send(
            "GET",
            self.config["AUTH_API_URL"].rstrip("/") + path,
            endpoint=f"GET {path}",
            throttle_key=throttle_key,
            params={"app_key": self._app_key, "app_secret": self._app_secret, **params},
        )
        return self._data(response)

    def _grant(self, data: Mapping[str, Any], shop: Mapping[str, Any], extra: Mapping[str, str]) -> TokenGrant:
        refresh_expires = _timestamp(data.get("refresh_token_expire_in"))
        return TokenGrant(
            shop_id=str(shop["id"]),
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token", ""),
            shop_name=str(shop.get("name") or data.get("seller_name") or ""),
            access_expires_at=_timestamp(data.get("access_token_expire_in")),
            refresh_expires_at=refresh_expires,
            # "refresh_token_expire_in is equivalent to the authorization duration" (§3.4)
            authorization_expires_at=refresh_expires,
            extra=dict(extra),
        )

    def exchange_code(self, *, query: Mapping[str, str], redirect_uri: str) -> TokenGrant:
        code = query.get("code") or query.get("auth_code")
        if not code:
            raise PermanentError("TikTok Shop did not send an authorization code", code="no_code")
        data = self._token_call("/api/v2/token/get", {"auth_code": code, "grant_type": "authorized_code"})
        # The token answer names the seller, not the shop: Get Authorized Shops gives the shop's
        # id and the cipher that every shop API needs.
        token = ShopCredentials(shop_id="", access_token=data["access_token"])
        shops = (
            self._call(
                "GET",
                f"/authorization/{VERSION}/shops",
                endpoint=f"GET /authorization/{VERSION}/shops",
                credentials=token,
                shop_scoped=False,
            ).get("shops")
            or []
        )
        if not shops:
            raise PermanentError("TikTok Shop authorised no shop for this app", code="no_shop")
        shop = next((item for item in shops if item.get("region") == "VN"), shops[0])
        extra = {"shop_cipher": str(shop["cipher"]), "open_id": str(data.get("open_id") or "")}
        self._ciphers[str(shop["id"])] = extra["shop_cipher"]
        return self._grant(data, shop, extra)

    def refresh(self, credentials: ShopCredentials) -> TokenGrant:
        try:
            data = self._token_call(
                "/api/v2/token/refresh",
                {"refresh_token": credentials.refresh_token, "grant_type": "refresh_token"},
                throttle_key=f"{self.channel}:{credentials.shop_id}",
            )
        except (TransientError, AuthorizationRevoked):
            raise
        except PermanentError as error:
            # A refresh token TikTok no longer accepts means the seller must authorise again.
            raise AuthorizationRevoked(
                error.message, code=error.code, http_status=error.http_status, request_id=error.request_id
            ) from error
        shop = {"id": credentials.shop_id, "name": ""}
        return self._grant(data, shop, credentials.extra)

    def _shop_cipher(self, credentials: ShopCredentials) -> str:
        cipher = credentials.extra.get("shop_cipher") or self._ciphers.get(credentials.shop_id)
        if cipher:
            return cipher
        shops = (
            self._call(
                "GET",
                f"/authorization/{VERSION}/shops",
                endpoint=f"GET /authorization/{VERSION}/shops",
                credentials=credentials,
                shop_scoped=False,
            ).get("shops")
            or []
        )
        for shop in shops:
            self._ciphers[str(shop["id"])] = str(shop["cipher"])
        if credentials.shop_id not in self._ciphers:
            raise AuthorizationRevoked(
                f"Shop {credentials.shop_id} is no longer authorised for this app", code="shop_not_authorized"
            )
        return self._ciphers[credentials.shop_id]

    def _warehouse_id(self, credentials: ShopCredentials) -> str:
        """The shop's default sales warehouse (Get Warehouse List, logistics 202309): every SKU
        needs a warehouse for its stock."""
        chosen = credentials.extra.get("warehouse_id") or self._warehouses.get(credentials.shop_id)
        if chosen:
            return chosen
        warehouses = (
            self._call(
                "GET",
                f"/logistics/{VERSION}/warehouses",
                endpoint=f"GET /logistics/{VERSION}/warehouses",
                credentials=credentials,
            ).get("warehouses")
            or []
        )
        sales = [
            item
            for item in warehouses
            if item.get("type") == "SALES_WAREHOUSE" and item.get("effect_status", "ENABLED") == "ENABLED"
        ]
        if not sales:
            raise PermanentError(
                "The TikTok Shop shop has no enabled sales warehouse; add one in Seller Center", code="12052115"
            )
        chosen = str(next((item for item in sales if item.get("is_default")), sales[0])["id"])
        self._warehouses[credentials.shop_id] = chosen
        return chosen

    # -- Listings

    def check(self, payload: ListingPayload) -> list[str]:
        problems = []
        title = payload.title.strip()
        if not TITLE_MIN <= len(title) <= TITLE_MAX:
            problems.append(
                _("The product name must be %(min)d to %(max)d characters on TikTok Shop; it has %(count)d.")
                % {"min": TITLE_MIN, "max": TITLE_MAX, "count": len(title)}
            )
        if (
            _HTML_ESCAPE.search(title)
            or _CONTROL.search(title)
            or _EMOJI.search(title)
            or _REPEATED.search(title)
            or (title and not any(character.isalnum() for character in title))
        ):
            problems.append(
                _(
                    "The product name must not contain emojis, HTML codes such as &nbsp;, control characters or "
                    "more than 9 identical characters in a row, and must not be only symbols (TikTok Shop rule)."
                )
            )
        forbidden = sorted({match.group(0).strip().lower() for match in _TITLE_FORBIDDEN.finditer(title)})
        if forbidden:
            problems.append(
                _(
                    "Remove promotions, phone numbers, links and other marketplaces' names from the product name: "
                    "TikTok Shop rejects them at review (found: %(words)s)."
                )
                % {"words": ", ".join(forbidden)}
            )
        description = description_html(payload.description)
        if not description:
            problems.append(_("The description is required on TikTok Shop."))
        elif len(description) > DESCRIPTION_MAX:
            problems.append(
                _(
                    "The description is too long for TikTok Shop: at most %(max)d characters once formatted, "
                    "it has %(count)d."
                )
                % {"max": DESCRIPTION_MAX, "count": len(description)}
            )
        if not payload.category_id.strip():
            problems.append(_("Choose a TikTok Shop category for this product (a leaf category id)."))
        elif not payload.category_id.strip().isdigit():
            problems.append(
                _("The TikTok Shop category id must be a number; “%(category)s” is not.")
                % {"category": payload.category_id}
            )
        problems.extend(self._check_images(payload))
        if not PRICE_MIN_VND <= payload.price_vnd <= PRICE_MAX_VND:
            problems.append(
                _("The price must be between %(min)s and %(max)s VND on TikTok Shop; it is %(price)s VND.")
                % {"min": _group(PRICE_MIN_VND), "max": _group(PRICE_MAX_VND), "price": _group(payload.price_vnd)}
            )
        if not STOCK_MIN <= payload.stock <= STOCK_MAX:
            problems.append(
                _("The stock must be between %(min)d and %(max)d units to list on TikTok Shop; it is %(stock)d.")
                % {"min": STOCK_MIN, "max": STOCK_MAX, "stock": payload.stock}
            )
        if payload.weight_grams <= 0:
            problems.append(_("Enter the package weight: TikTok Shop requires it."))
        dimensions = (payload.length_cm, payload.width_cm, payload.height_cm)
        if any(value > 0 for value in dimensions) and not all(value > 0 for value in dimensions):
            problems.append(
                _(
                    "Enter all three package dimensions (length, width, height) or none: TikTok Shop needs "
                    "positive whole centimetres."
                )
            )
        if not 1 <= len(payload.sku) <= SELLER_SKU_MAX or re.search(r"\s", payload.sku):
            problems.append(
                _("The SKU must be 1 to %(max)d characters without spaces on TikTok Shop; “%(sku)s” is not.")
                % {"max": SELLER_SKU_MAX, "sku": payload.sku}
            )
        return problems

    def _check_images(self, payload: ListingPayload) -> list[str]:
        problems = []
        if not payload.images:
            return [_("Add at least one photo: TikTok Shop requires a main image.")]
        if len(payload.images) > MAX_MAIN_IMAGES:
            problems.append(
                _("TikTok Shop accepts at most %(max)d photos; this product has %(count)d.")
                % {"max": MAX_MAIN_IMAGES, "count": len(payload.images)}
            )
        for number, image in enumerate(payload.images, start=1):
            if len(image.content) > IMAGE_MAX_BYTES:
                problems.append(
                    _("Photo %(number)d is too large for TikTok Shop (%(size)s MB; at most %(max)d MB).")
                    % {
                        "number": number,
                        "size": f"{len(image.content) / 1024 / 1024:.1f}",
                        "max": IMAGE_MAX_BYTES // 1024 // 1024,
                    }
                )
                continue
            try:
                width, height = Image.open(io.BytesIO(image.content)).size
            except Exception:  # Pillow raises several kinds for bytes that are not an image
                problems.append(
                    _("Photo %(number)d cannot be read as an image (TikTok Shop accepts JPG, PNG, WEBP, HEIC and BMP).")
                    % {"number": number}
                )
                continue
            if not (
                MAIN_IMAGE_MIN_PX <= width <= MAIN_IMAGE_MAX_PX and MAIN_IMAGE_MIN_PX <= height <= MAIN_IMAGE_MAX_PX
            ):
                problems.append(
                    _(
                        "Photo %(number)d must be between %(min)d×%(min)d and %(max)d×%(max)d pixels on TikTok Shop; "
                        "it is %(width)d×%(height)d."
                    )
                    % {
                        "number": number,
                        "min": MAIN_IMAGE_MIN_PX,
                        "max": MAIN_IMAGE_MAX_PX,
                        "width": width,
                        "height": height,
                    }
                )
        return problems

    def _upload_images(self, credentials: ShopCredentials, payload: ListingPayload) -> list[dict]:
        """Upload Product Image (§3.5): TikTok only accepts images it hosts. Multipart form
        `data` + `use_case=MAIN_IMAGE`; no shop_cipher (the page lists none)."""
        uris = []
        for image in payload.images[:MAX_MAIN_IMAGES]:
            data = self._call(
                "POST",
                f"/product/{VERSION}/images/upload",
                endpoint=f"POST /product/{VERSION}/images/upload",
                credentials=credentials,
                shop_scoped=False,
                files={"data": (image.name or "image.jpg", image.content, "image/jpeg")},
                form={"use_case": "MAIN_IMAGE"},
            )
            uris.append({"uri": data["uri"]})
        return uris

    def _product_body(
        self,
        credentials: ShopCredentials,
        payload: ListingPayload,
        *,
        sku_id: str = "",
        inventory: list[dict] | None = None,
    ) -> dict:
        """Create/Edit Product body (§3.5) in TikTok's units: KILOGRAM, whole CENTIMETER, VND as
        a string amount, HTML description."""
        if inventory is None:
            inventory = [{"warehouse_id": self._warehouse_id(credentials), "quantity": payload.stock}]
        sku: dict[str, Any] = {
            "seller_sku": payload.sku,
            "price": {"amount": str(payload.price_vnd), "currency": "VND"},
            "inventory": inventory,
        }
        if sku_id:
            sku = {"id": sku_id, **sku}
        body: dict[str, Any] = {
            "save_mode": "LISTING",
            "title": payload.title.strip(),
            "description": description_html(payload.description),
            "category_id": payload.category_id.strip(),
            # Our ids come from the 3-level V1 tree (data/marketplaces/README.md).
            "category_version": "v1",
            "main_images": self._upload_images(credentials, payload),
            "skus": [sku],
            "package_weight": {"value": weight_kg(payload.weight_grams), "unit": "KILOGRAM"},
        }
        dimensions = (payload.length_cm, payload.width_cm, payload.height_cm)
        if all(value > 0 for value in dimensions):  # optional for VN
            body["package_dimensions"] = {
                "length": whole_cm(payload.length_cm),
                "width": whole_cm(payload.width_cm),
                "height": whole_cm(payload.height_cm),
                "unit": "CENTIMETER",
            }
        return body

    def _url(self, credentials: ShopCredentials | None, product_id: str) -> str:
        template = self.config.get("PRODUCT_URL", "")
        shop_id = credentials.shop_id if credentials else ""
        return template.format(shop_id=shop_id, item_id=product_id) if template else ""

    def _listing(
        self, credentials: ShopCredentials | None, product: Mapping[str, Any], *, sku: str = ""
    ) -> RemoteListing:
        raw = str(product.get("status") or "")
        if raw not in LISTING_STATUSES:
            raise PermanentError(f"TikTok Shop product status {raw!r} is unknown", code="unknown_status")
        skus = product.get("skus") or []
        chosen = next((item for item in skus if sku and item.get("seller_sku") == sku), skus[0] if skus else {})
        return RemoteListing(
            external_id=str(product["id"]),
            status=LISTING_STATUSES[raw],
            raw_status=raw,
            reason=_audit_reason(product),
            url=self._url(credentials, str(product["id"])),
            sku_id=str(chosen.get("id") or ""),
        )

    def _search(self, credentials: ShopCredentials, body: dict, *, max_pages: int = 5) -> list[dict]:
        products, token = [], ""
        for _page in range(max_pages):
            query = {"page_size": 100, **({"page_token": token} if token else {})}
            data = self._call(
                "POST",
                f"/product/{VERSION}/products/search",
                endpoint=f"POST /product/{VERSION}/products/search",
                credentials=credentials,
                query=query,
                payload=body,
            )
            products.extend(data.get("products") or [])
            token = data.get("next_page_token") or ""
            if not token:
                break
        return products

    def find_by_sku(self, credentials: ShopCredentials, sku: str) -> RemoteListing | None:
        """Search Products filtered by `seller_skus` (§3.5); deleted products do not count."""
        found = [
            product
            for product in self._search(credentials, {"seller_skus": [sku]})
            if product.get("status") != "DELETED"
            and any(item.get("seller_sku") == sku for item in product.get("skus") or [])
        ]
        if not found:
            return None
        product = max(found, key=lambda item: (int(item.get("create_time") or 0), str(item["id"])))
        if product.get("status") == "FREEZE":  # Get Product does not show frozen products
            return self._listing(credentials, product, sku=sku)
        return self.get_listing(credentials, str(product["id"]))

    def create_listing(self, credentials: ShopCredentials, payload: ListingPayload) -> RemoteListing:
        body = self._product_body(credentials, payload)
        body["idempotency_key"] = idempotency_key(payload.sku)
        data = self._call(
            "POST",
            f"/product/{VERSION}/products",
            endpoint=f"POST /product/{VERSION}/products",
            credentials=credentials,
            payload=body,
        )
        product_id = str(data["product_id"])
        skus = data.get("skus") or []
        sku = next((item for item in skus if item.get("seller_sku") == payload.sku), skus[0] if skus else {})
        warnings = "; ".join(str(item.get("message")) for item in data.get("warnings") or [] if item.get("message"))
        # A new product always starts in audit (§3.5).
        return RemoteListing(
            external_id=product_id,
            status=ListingStatus.IN_REVIEW,
            raw_status="PENDING",
            reason=warnings,
            url=self._url(credentials, product_id),
            sku_id=str(sku.get("id") or ""),
        )

    def _product(self, credentials: ShopCredentials, product_id: str) -> dict:
        return self._call(
            "GET",
            f"/product/{VERSION}/products/{product_id}",
            endpoint=f"GET /product/{VERSION}/products/{{product_id}}",
            credentials=credentials,
        )

    def get_listing(self, credentials: ShopCredentials, external_id: str) -> RemoteListing:
        try:
            return self._listing(credentials, self._product(credentials, external_id))
        except PermanentError as error:
            if (
                isinstance(error, TokenExpired)
                or not error.code.isdigit()
                or int(error.code) not in PRODUCT_MISSING_CODES
            ):
                raise
            # Get Product hides FREEZE and DELETED products: look for it among those.
            for status in ("FREEZE", "DELETED"):
                for product in self._search(credentials, {"status": status}):
                    if str(product.get("id")) == str(external_id):
                        return self._listing(credentials, product)
            raise

    def _sku_of(self, product: Mapping[str, Any], remote: RemoteListing) -> dict:
        skus = product.get("skus") or []
        sku = next((item for item in skus if remote.sku_id and str(item.get("id")) == remote.sku_id), None)
        if sku is None and skus:
            sku = skus[0]
        if sku is None:
            raise PermanentError(f"TikTok Shop product {remote.external_id} has no SKU", code="no_sku")
        return sku

    def update_listing(
        self, credentials: ShopCredentials, remote: RemoteListing, payload: ListingPayload
    ) -> RemoteListing:
        """Edit Product (PUT): every field is replaced, so the whole product is sent, with the
        existing SKU id (a missing id would delete the SKU). The edit goes to audit again; a live
        product stays live with its old content until the audit passes."""
        sku = self._sku_of(self._product(credentials, remote.external_id), remote)
        # The SKU keeps its warehouses (Edit may not move stock elsewhere); the stock goes to the first.
        inventory = self._inventory(sku, payload.stock) if sku.get("inventory") else None
        body = self._product_body(credentials, payload, sku_id=str(sku["id"]), inventory=inventory)
        self._call(
            "PUT",
            f"/product/{VERSION}/products/{remote.external_id}",
            endpoint=f"PUT /product/{VERSION}/products/{{product_id}}",
            credentials=credentials,
            payload=body,
        )
        return self.get_listing(credentials, remote.external_id)

    @staticmethod
    def _inventory(sku: Mapping[str, Any], stock: int) -> list[dict]:
        """All of the SKU's warehouses, as Update Inventory and Edit want them: our stock in the
        first, the others left as they are."""
        lines = sku["inventory"]
        return [{"warehouse_id": str(lines[0]["warehouse_id"]), "quantity": stock}] + [
            {"warehouse_id": str(line["warehouse_id"]), "quantity": int(line.get("quantity") or 0)}
            for line in lines[1:]
        ]

    @staticmethod
    def _raise_item_errors(data: Mapping[str, Any]) -> None:
        """Update Inventory and Deactivate Products answer code 0 with per-item `errors`."""
        errors = data.get("errors") or []
        if errors:
            first = errors[0]
            extra = (first.get("detail") or {}).get("extra_errors") or []
            message = str(first.get("message") or "")
            if extra:
                message += ": " + "; ".join(str(item.get("message")) for item in extra)
            raise PermanentError(message, code=str(extra[0].get("code") if extra else first.get("code")))

    def update_offer(self, credentials: ShopCredentials, remote: RemoteListing, *, price_vnd: int, stock: int) -> None:
        """Update Price and Update Inventory (§3.5), both by TikTok SKU id, for the product's own
        warehouses (all of them must be named; the stock goes to the first)."""
        sku = self._sku_of(self._product(credentials, remote.external_id), remote)
        sku_id = str(sku["id"])
        self._call(
            "POST",
            f"/product/{VERSION}/products/{remote.external_id}/prices/update",
            endpoint=f"POST /product/{VERSION}/products/{{product_id}}/prices/update",
            credentials=credentials,
            payload={"skus": [{"id": sku_id, "price": {"amount": str(price_vnd), "currency": "VND"}}]},
        )
        if not sku.get("inventory"):
            sku = {**sku, "inventory": [{"warehouse_id": self._warehouse_id(credentials)}]}
        lines = self._inventory(sku, stock)
        data = self._call(
            "POST",
            f"/product/{VERSION}/products/{remote.external_id}/inventory/update",
            endpoint=f"POST /product/{VERSION}/products/{{product_id}}/inventory/update",
            credentials=credentials,
            payload={"skus": [{"id": sku_id, "inventory": lines}]},
        )
        self._raise_item_errors(data)

    def withdraw_listing(self, credentials: ShopCredentials, remote: RemoteListing) -> RemoteListing:
        """Deactivate Products (§3.5): ACTIVATE → SELLER_DEACTIVATED. A product that is already
        off sale (deactivated, banned, deleted, failed) is reported as it is."""
        data = self._call(
            "POST",
            f"/product/{VERSION}/products/deactivate",
            endpoint=f"POST /product/{VERSION}/products/deactivate",
            credentials=credentials,
            payload={"product_ids": [remote.external_id]},
        )
        try:
            self._raise_item_errors(data)
        except PermanentError as error:
            if error.code != str(STATUS_NOT_ALLOWED_CODE):
                raise
            current = self.get_listing(credentials, remote.external_id)
            if current.status in (ListingStatus.LIVE, ListingStatus.IN_REVIEW):
                raise
            return current
        return self.get_listing(credentials, remote.external_id)

    # -- Orders

    def _order(self, order: Mapping[str, Any]) -> RemoteOrder:
        raw = str(order.get("status") or "")
        if raw not in ORDER_STATUSES:
            raise PermanentError(f"TikTok Shop order status {raw!r} is unknown", code="unknown_status")
        # One line item per unit sold: group them back by SKU and price.
        groups: dict[tuple[str, str, int], dict] = {}
        for item in order.get("line_items") or []:
            key = (str(item.get("sku_id") or ""), str(item.get("seller_sku") or ""), _vnd(item.get("sale_price")))
            group = groups.setdefault(
                key, {"id": str(item.get("id") or ""), "count": 0, "name": item.get("product_name")}
            )
            group["count"] += 1
        lines = tuple(
            RemoteOrderLine(
                external_line_id=group["id"],
                sku=seller_sku,
                quantity=group["count"],
                unit_price_vnd=price,
                name=str(group["name"] or ""),
            )
            for (_sku_id, seller_sku, price), group in groups.items()
        )
        created = _timestamp(order.get("create_time"))
        if created is None:
            raise PermanentError(f"TikTok Shop order {order.get('id')} has no create_time", code="bad_order")
        return RemoteOrder(
            external_id=str(order["id"]),
            status=ORDER_STATUSES[raw],
            raw_status=raw,
            created_at=created,
            updated_at=_timestamp(order.get("update_time")),
            total_vnd=_vnd((order.get("payment") or {}).get("total_amount")),
            lines=lines,
        )

    def _order_details(self, credentials: ShopCredentials, ids: list[str]) -> list[dict]:
        """Get Order Detail, up to 50 ids per call."""
        orders = []
        for start in range(0, len(ids), 50):
            data = self._call(
                "GET",
                f"/order/{VERSION}/orders",
                endpoint=f"GET /order/{VERSION}/orders",
                credentials=credentials,
                query={"ids": ",".join(ids[start : start + 50])},
            )
            orders.extend(data.get("orders") or [])
        return orders

    def fetch_orders(
        self,
        credentials: ShopCredentials,
        *,
        updated_from: datetime.datetime,
        updated_to: datetime.datetime,
        cursor: str | None = None,
    ) -> OrdersPage:
        """Get Order List (§3.5): update_time_ge/lt in the body, page_size/page_token in the query,
        oldest update first. Times are whole seconds: both bounds are floored so that windows
        that meet share no second."""
        query: dict[str, Any] = {
            "page_size": int(self.config.get("ORDER_PAGE_SIZE") or self.order_page_size),
            "sort_field": "update_time",
            "sort_order": "ASC",
        }
        if cursor:
            query["page_token"] = cursor
        data = self._call(
            "POST",
            f"/order/{VERSION}/orders/search",
            endpoint=f"POST /order/{VERSION}/orders/search",
            credentials=credentials,
            query=query,
            payload={
                "update_time_ge": int(updated_from.timestamp()),
                "update_time_lt": int(updated_to.timestamp()),
            },
        )
        orders = list(data.get("orders") or [])
        missing = [str(order["id"]) for order in orders if not order.get("line_items")]
        if missing:  # the list normally carries the lines; fetch details when it does not
            details = {str(order["id"]): order for order in self._order_details(credentials, missing)}
            orders = [details.get(str(order["id"]), order) for order in orders]
        return OrdersPage(
            orders=tuple(self._order(order) for order in orders),
            next_cursor=data.get("next_page_token") or None,
        )

    def get_order(self, credentials: ShopCredentials, external_id: str) -> RemoteOrder:
        for order in self._order_details(credentials, [external_id]):
            if str(order.get("id")) == str(external_id):
                return self._order(order)
        raise PermanentError(f"TikTok Shop has no order {external_id}", code="order_not_found")

    # -- Webhooks (§3.7)

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str], url: str) -> None:
        """The `Authorization` header against sign_webhook (scheme [3P]). The signature covers no
        timestamp and TikTok retries for up to 12 hours, so there is no staleness check; the
        engine de-duplicates on tts_notification_id."""
        provided = next((value for key, value in headers.items() if key.lower() == "authorization"), "")
        if not provided:
            raise WebhookRejected("TikTok Shop webhook without an Authorization header", code="no_signature")
        expected = sign_webhook(self._app_key, self._app_secret, body)
        if not hmac.compare_digest(expected.encode(), provided.strip().encode()):
            raise WebhookRejected("TikTok Shop webhook signature does not match", code="bad_signature")

    def parse_webhook(self, body: bytes) -> list[WebhookEvent]:
        try:
            message = json.loads(body)
        except ValueError as error:
            raise WebhookRejected("TikTok Shop webhook body is not JSON", code="bad_body") from error
        if not isinstance(message, dict):
            raise WebhookRejected("TikTok Shop webhook body is not an object", code="bad_body")
        try:
            kind_code = int(message.get("type") or 0)
        except (TypeError, ValueError) as error:
            raise WebhookRejected("TikTok Shop webhook without a numeric type", code="bad_body") from error
        data = message.get("data") or {}
        shop_id = str(message.get("shop_id") or "")
        kind, order_id, item_id, status = "other", "", "", ""
        if kind_code == 1:  # order status change
            kind, order_id, status = "order", str(data.get("order_id") or ""), str(data.get("order_status") or "")
        elif kind_code == 12:  # return status change: the order's return, not its status
            kind, order_id, status = "order", str(data.get("order_id") or ""), str(data.get("return_status") or "")
        elif kind_code == 5:  # product status change (audit passed/failed, platform change)
            kind, item_id, status = "listing", str(data.get("product_id") or ""), str(data.get("status") or "")
        elif kind_code == 6:  # seller deauthorization
            kind = "authorization"
        occurred = data.get("update_time") or message.get("timestamp")
        event_id = str(message.get("tts_notification_id") or "")
        if not event_id:  # never seen without one; a stable stand-in built from what identifies it
            event_id = f"{kind_code}:{shop_id}:{order_id or item_id}:{status}:{occurred or ''}"
        return [
            WebhookEvent(
                event_id=event_id,
                kind=kind,
                shop_id=shop_id,
                order_id=order_id,
                item_id=item_id,
                status=status,
                occurred_at=_timestamp(occurred),
                raw=message,
            )
        ]
