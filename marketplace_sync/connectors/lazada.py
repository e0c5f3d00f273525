"""Lazada Open Platform (LazOP), Vietnam venture.

Everything here follows /work/shared/docs/marketplaces.md §2 (cited as §2.x) and is documented,
with every choice made where that reference is uncertain, in docs/connectors/lazada.md.

How Lazada works, in short:

- One signed call per API path: system parameters (app_key, timestamp, sign_method, access_token)
  and business parameters travel together, in the query string for GETs and as form fields for
  POSTs, exactly as the official Python SDK sends them (§2.2). Complex inputs are a single string
  parameter (`payload`, `apiRequestBody`).
- The signature is HMAC-SHA256 over the API path followed by the sorted name+value pairs (§2.3).
- Answers are `{"code": "0", "data": …}`; failures `{"type", "code", "message", "request_id"}`
  (§2.5). Lazada reports failures inside HTTP 200, so the envelope's code is what we classify.
- A product is one item with one SKU (ours); its SellerSku is our SKU. New items go through
  Lazada's quality check ("Pending QC") before they are live (§2.7).
- Orders are polled with GetOrders and their lines read with GetMultipleOrderItems; Lazada returns
  one order-item row per unit bought, so rows are added up per SKU (§2.6). Pushes (webhooks) are
  signed with the app secret over app_key + raw body (§2.8).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import html
import io
import json
import time
import urllib.parse
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar

from django.utils.translation import gettext as _

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

# The clock used for request timestamps and webhook freshness; tests replace it.
clock = time.time

VIETNAM = datetime.timezone(datetime.timedelta(hours=7))

# --- Rules (sources: data/marketplaces/listing_rules_vn.csv rows "lazada", marketplaces.md §2.7) ---
NAME_MAX_CHARS = 255  # create-a-product guide
DESCRIPTION_MAX_CHARS = 25_000  # create-a-product guide (counted on the HTML we send)
MAX_IMAGES = 8  # "images per Images field (max)"; the 9th photo and beyond are not sent
IMAGE_MAX_BYTES = 3_145_728  # image-upload guide (3 MB); an older API page says 1 MB
IMAGE_MIN_SIDE, IMAGE_MAX_SIDE = 330, 5000  # image-upload guide
IMAGE_FORMATS = ("JPEG", "PNG")  # image-upload guide: JPG/PNG
MAX_PACKAGE_WEIGHT_KG = Decimal(40)  # CreateProduct error 4164 BIZ_CHECK_MAX_PACKAGE_WEIGHT
MAX_PACKAGE_SUM_CM = Decimal(300)  # CreateProduct error 4165 BIZ_CHECK_MAX_PACKAGE_DIMENISIONS
# "No Brand": the brand_id Lazada documents per country only in an image (create-update Q&A);
# 0 is our assumption for Vietnam (see docs). A category-specific brand_id in
# ListingPayload.attributes wins.
NO_BRAND_ID = "0"

# --- Error classification (§2.5, per-API error tables of LZD-API) ---
RATE_LIMIT_CODES = frozenset({"901", "4154", "SYS_REQUEST_TOO_FAST", "ApiCallLimit", "AppCallLimit"})
# "Internal Application Error", "Internal call exception", "IC service error", "IC service is
# exception", "Concurrent product edit is not allowed": all say "try again later".
TRANSIENT_CODES = frozenset({"1000", "513", "4135", "4159", "4147", "E0006", "ServiceTimeout", "ServiceUnavailable"})
TOKEN_EXPIRED_CODES = frozenset({"IllegalAccessToken"})
REVOKED_CODES = frozenset({"IllegalRefreshToken"})
# DeactivateProduct: "Product Status not online" (the item is not live, e.g. already inactive).
NOT_ONLINE_CODE = "E0004"

# --- Statuses ---
# GetProducts/GetProductItem `status` (§2.6): Active, InActive, Pending QC, Suspended, Deleted.
LISTING_STATUSES = {
    "active": ListingStatus.LIVE,
    "live": ListingStatus.LIVE,
    "pending qc": ListingStatus.IN_REVIEW,
    "pending": ListingStatus.IN_REVIEW,
    "inactive": ListingStatus.WITHDRAWN,
    "deleted": ListingStatus.WITHDRAWN,
    "suspended": ListingStatus.BANNED,
}
# `subStatus` ("product reject status"): Reject, Live Reject, Lock, Admin.
REJECTED_SUB_STATUSES = frozenset({"reject", "live reject", "live_reject", "rejected"})
BANNED_SUB_STATUSES = frozenset({"lock", "admin"})

# Order-item statuses (§2.6, lower case). Lazada's "pending" is a confirmed order waiting for
# the seller to pack it (paid online, or cash on delivery): a sale for us, like "topack".
# Only "unpaid" waits for the buyer's payment.
ORDER_STATUSES = {
    "unpaid": OrderStatus.PENDING,
    "pending": OrderStatus.PAID,
    "topack": OrderStatus.PAID,
    "toship": OrderStatus.PAID,
    "ready_to_ship": OrderStatus.PAID,
    "packed": OrderStatus.PAID,
    "repacked": OrderStatus.PAID,
    "shipped": OrderStatus.SHIPPED,
    "shipping": OrderStatus.SHIPPED,
    "delivered": OrderStatus.COMPLETED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "failed": OrderStatus.CANCELLED,
    "failed_delivery": OrderStatus.CANCELLED,
    "lost": OrderStatus.CANCELLED,
    "lost_by_3pl": OrderStatus.CANCELLED,
    "damaged_by_3pl": OrderStatus.CANCELLED,
    "package_scrapped": OrderStatus.CANCELLED,
    "returned": OrderStatus.RETURNED,
    "shipped_back": OrderStatus.RETURNED,
    "shipped_back_success": OrderStatus.RETURNED,
    "shipped_back_failed": OrderStatus.RETURNED,
}
# How far each canonical status is along the order's life: an order is as far as its least
# advanced live item (see _order_status).
_PROGRESS = {OrderStatus.PENDING: 0, OrderStatus.PAID: 1, OrderStatus.SHIPPED: 2, OrderStatus.COMPLETED: 3}

# Lazada retries an unacknowledged push every 30 minutes, up to 12 times (§2.8): a push older than
# that span (plus margin) is a replay, not a retry.
WEBHOOK_MAX_AGE = datetime.timedelta(hours=7)
WEBHOOK_MAX_SKEW = datetime.timedelta(minutes=10)


# --- Signing (pure) -----------------------------------------------------------------------------


def sign_request(app_secret: str, api_path: str, params: dict) -> str:
    """§2.3: UPPERCASE hex HMAC-SHA256(app_secret, api_path + name1value1name2value2…), names
    sorted in byte order, raw (not URL-encoded) values, `sign` itself left out. File parameters
    are never in `params` (they travel as multipart parts and are not signed)."""
    base = api_path + "".join(f"{name}{params[name]}" for name in sorted(params) if name != "sign")
    return hmac.new(app_secret.encode(), base.encode(), hashlib.sha256).hexdigest().upper()


def sign_push(app_key: str, app_secret: str, body: bytes) -> str:
    """§2.8: lowercase hex HMAC-SHA256(app_secret, app_key + raw body), sent in `Authorization`."""
    return hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()


# --- Small helpers ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _vnd(value: Any) -> int:
    """Lazada amounts ("106000.00", 106000.0) as whole VND."""
    try:
        return int(Decimal(_text(value).replace(",", "") or "0").quantize(Decimal(1), ROUND_HALF_UP))
    except InvalidOperation as error:
        raise PermanentError(f"Lazada sent an amount we cannot read: {value!r}", code="bad_amount") from error


def _cm(value: Decimal) -> str:
    """Package sides: cm with at most 2 decimals (§2.7), as a string."""
    return str(Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP))


def _kg(grams: int) -> str:
    """Package weight: kg with at most 2 decimals (§2.7). Rounded up to the next 10 g so that a
    parcel is never declared lighter than it is (and a 3 g sachet is not sent as 0.00 kg)."""
    return str((Decimal(grams) / 1000).quantize(Decimal("0.01"), ROUND_CEILING))


def _description_html(text: str) -> str:
    """Our descriptions are plain text; Lazada renders HTML (§2.7), so paragraphs become <p> and
    line breaks <br>, everything else escaped."""
    paragraphs = [part.strip() for part in text.replace("\r\n", "\n").split("\n\n") if part.strip()]
    return "".join("<p>" + "<br>".join(html.escape(line) for line in part.split("\n")) + "</p>" for part in paragraphs)


def _iso(moment: datetime.datetime) -> str:
    """ISO 8601 as GetOrders wants it: YYYY-MM-DDTHH:mm:ss±HH:MM, in Vietnam time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(VIETNAM).replace(microsecond=0).isoformat()


def _parse_time(value: Any) -> datetime.datetime | None:
    """Lazada writes times as ISO 8601 ("2018-02-09T22:44:30+08:00"), as
    "2014-10-11 19:31:50 +0800", or as epoch milliseconds (products)."""
    text = _text(value).strip()
    if not text or text == "null":
        return None
    if text.isdigit():
        number = int(text)
        return datetime.datetime.fromtimestamp(number / 1000 if number > 10**11 else number, tz=datetime.UTC)
    for form in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S%z"):
        try:
            return datetime.datetime.strptime(text, form)
        except ValueError:
            pass
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=VIETNAM)


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def _order_status(item_statuses: list[str]) -> tuple[OrderStatus, str]:
    """One status for an order whose items (one per unit) each have their own (§2.6).

    - every item cancelled/failed/lost → CANCELLED;
    - otherwise cancelled items are ignored; if every remaining item is returned → RETURNED;
    - otherwise returned items are ignored too and the order is as far as its least advanced
      item (an order is SHIPPED only when all its live items have shipped).
    Returns (status, the raw status of the item that decided it).
    """
    known = [(status, ORDER_STATUSES.get(status.lower())) for status in item_statuses if status]
    unknown = [status for status, mapped in known if mapped is None]
    if unknown:
        raise PermanentError(f"Lazada order status we do not know: {unknown[0]}", code="unknown_status")
    if not known:
        raise PermanentError("Lazada order without any item status", code="unknown_status")
    live = [(raw, mapped) for raw, mapped in known if mapped is not OrderStatus.CANCELLED]
    if not live:
        return OrderStatus.CANCELLED, known[0][0]
    kept = [(raw, mapped) for raw, mapped in live if mapped is not OrderStatus.RETURNED]
    if not kept:
        return OrderStatus.RETURNED, live[0][0]
    raw, mapped = min(kept, key=lambda pair: _PROGRESS[pair[1]])
    return mapped, raw


# --- The connector --------------------------------------------------------------------------------


class LazadaConnector(Connector):
    channel = "lazada"
    # Lazada documents no window limit for GetOrders (§2.6); the engine may use any window.
    max_order_window: ClassVar[datetime.timedelta | None] = None
    orders_page_limit: ClassVar[int] = 100  # GetOrders `limit` ≤ 100 (§2.6)
    items_batch_limit: ClassVar[int] = 50  # GetMultipleOrderItems `order_ids` ≤ 50 (§2.6)

    def __init__(self, config, transport=None):
        super().__init__(config, transport)
        self.orders_page_size = min(int(config.get("ORDERS_PAGE_SIZE", self.orders_page_limit)), self.orders_page_limit)

    # -- HTTP

    def _describe(self, response: Response) -> tuple[str, str, str]:
        body = response.body
        if not isinstance(body, dict):
            return "", (f"http_{response.status_code}" if response.status_code >= 400 else ""), ""
        code = _text(body.get("code"))
        if code in ("", "0"):
            return _text(body.get("request_id")), "", ""
        return _text(body.get("request_id")), code, _text(body.get("message"))

    def _call(
        self,
        method: str,
        api_path: str,
        params: Mapping[str, Any] | None = None,
        *,
        credentials: ShopCredentials | None = None,
        auth_api: bool = False,
        files: Any = None,
    ) -> dict:
        """Sign and send one API call; return the envelope on success, raise otherwise."""
        signed = {
            "app_key": self.config["APP_KEY"],
            "timestamp": str(int(clock() * 1000)),
            "sign_method": "sha256",
        }
        if credentials is not None:
            signed["access_token"] = credentials.access_token
        # Empty values are never sent: LazOP's Java signer skips them, the Python one does not (§2.3).
        signed.update({name: _text(value) for name, value in (params or {}).items() if _text(value) != ""})
        signed["sign"] = sign_request(self.config["APP_SECRET"], api_path, signed)
        base = self.config["AUTH_API_URL"] if auth_api else self.config["API_URL"]
        url = base.rstrip("/") + api_path
        throttle_key = f"{self.channel}:{credentials.shop_id}" if credentials is not None else ""
        if method == "GET":
            response = self._send("GET", url, endpoint=api_path, throttle_key=throttle_key, params=signed)
        else:
            response = self._send("POST", url, endpoint=api_path, throttle_key=throttle_key, data=signed, files=files)
        return self._check(response)

    def _check(self, response: Response) -> dict:
        """Classify Lazada's answer (§2.5): rate limit, transient, token, revoked or permanent."""
        body = response.body
        status = response.status_code
        request_id, code, message = self._describe(response)
        if isinstance(body, dict) and isinstance(body.get("detail"), list):
            details = [_text(item.get("message") or item) for item in body["detail"] if item]
            if details:
                message = f"{message} ({'; '.join(details)})" if message else "; ".join(details)
        common = {"http_status": status, "request_id": request_id}
        if status == 429 or code in RATE_LIMIT_CODES:
            # Lazada's own advice for 901 is "retry in the next second".
            retry_after = parse_retry_after(response.headers.get("Retry-After")) or 1.0
            raise RateLimited(
                message or "Lazada: too many requests", code=code or "429", retry_after=retry_after, **common
            )
        if not isinstance(body, dict):
            if status >= 500:
                raise TransientError(f"Lazada answered HTTP {status}", code=f"http_{status}", **common)
            raise PermanentError(f"Lazada answered HTTP {status} without JSON", code=f"http_{status}", **common)
        if not code and status < 400:
            return body
        if status >= 500 or code in TRANSIENT_CODES or (code == "6" and "internal" in message.lower()):
            raise TransientError(message or f"Lazada answered HTTP {status}", code=code or f"http_{status}", **common)
        if code in TOKEN_EXPIRED_CODES:
            raise TokenExpired(message, code=code, **common)
        if code in REVOKED_CODES:
            raise AuthorizationRevoked(message, code=code, **common)
        raise PermanentError(message or f"Lazada answered HTTP {status}", code=code or f"http_{status}", **common)

    # -- Authorisation (§2.4)

    def authorization_url(self, *, redirect_uri: str, state: str) -> str:
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "force_auth": "true",
                "redirect_uri": redirect_uri,
                "client_id": self.config["APP_KEY"],
                "state": state,
            }
        )
        return f"{self.config['AUTHORIZE_URL']}?{query}"

    def exchange_code(self, *, query: Mapping[str, str], redirect_uri: str) -> TokenGrant:
        code = query.get("code", "")
        if not code:
            raise PermanentError("Lazada did not send an authorisation code back", code="InvalidCode")
        body = self._call("POST", "/auth/token/create", {"code": code}, auth_api=True)
        return self._grant(body)

    def refresh(self, credentials: ShopCredentials) -> TokenGrant:
        if not credentials.refresh_token:
            raise AuthorizationRevoked(
                "No Lazada refresh token: the shop must connect again", code="IllegalRefreshToken"
            )
        body = self._call("POST", "/auth/token/refresh", {"refresh_token": credentials.refresh_token}, auth_api=True)
        grant = self._grant(body)
        if not grant.shop_id:  # some refresh answers carry no seller list; the shop did not change
            grant = dataclasses.replace(grant, shop_id=credentials.shop_id)
        return grant

    def _grant(self, body: dict) -> TokenGrant:
        """A token answer (fields at top level, §2.4). The seller of the Vietnamese venture is our
        shop: shop_id = seller_id."""
        country = _text(body.get("country")).lower()
        infos = body.get("country_user_info") or body.get("country_user_info_list") or []
        if isinstance(infos, dict):  # the refresh page shows {"vn": {...}} as well as a list
            infos = [{"country": key, **value} for key, value in infos.items() if isinstance(value, dict)]
        chosen = next((info for info in infos if _text(info.get("country")).lower() == "vn"), None)
        if chosen is None:
            chosen = next((info for info in infos if _text(info.get("country")).lower() == country), None)
        if chosen is None and infos:
            chosen = infos[0]
        chosen = chosen or {}
        now = datetime.datetime.fromtimestamp(clock(), tz=datetime.UTC)
        access_expires = now + datetime.timedelta(seconds=int(body.get("expires_in") or 0))
        refresh_seconds = int(body.get("refresh_expires_in") or 0)
        refresh_expires = now + datetime.timedelta(seconds=refresh_seconds) if refresh_seconds else None
        seller_id = _text(chosen.get("seller_id"))
        extra = {
            "seller_id": seller_id,
            "account": _text(body.get("account")),
            "user_id": _text(chosen.get("user_id")),
            "short_code": _text(chosen.get("short_code")),
            "country": country,
        }
        return TokenGrant(
            shop_id=seller_id,
            access_token=_text(body.get("access_token")),
            refresh_token=_text(body.get("refresh_token")),
            access_expires_at=access_expires,
            refresh_expires_at=refresh_expires,
            authorization_expires_at=refresh_expires,  # after that the seller must authorise again
            extra={key: value for key, value in extra.items() if value},
        )

    # -- Listings

    def check(self, payload: ListingPayload) -> list[str]:
        problems: list[str] = []
        title = payload.title.strip()
        if not title:
            problems.append(_("Lazada needs a product name. Please give the product a name."))
        elif len(title) > NAME_MAX_CHARS:
            problems.append(
                _(
                    "Lazada accepts product names of at most %(max)d characters; this one has %(count)d. "
                    "Please shorten it."
                )
                % {"max": NAME_MAX_CHARS, "count": len(title)}
            )
        description = _description_html(payload.description)
        if len(description) > DESCRIPTION_MAX_CHARS:
            problems.append(
                _(
                    "Lazada accepts descriptions of at most %(max)d characters (formatting included); this one has "
                    "%(count)d. Please shorten it."
                )
                % {"max": DESCRIPTION_MAX_CHARS, "count": len(description)}
            )
        if not payload.category_id.strip():
            problems.append(_("Choose the Lazada category for this product before listing it."))
        if not payload.sku.strip():
            problems.append(_("The product has no SKU code; Lazada needs one to identify it."))
        if payload.price_vnd <= 0:
            problems.append(_("Lazada needs a price above 0 ₫. Please enter the selling price."))
        if payload.stock < 0:
            problems.append(_("The stock cannot be negative. Please enter how many you have (0 or more)."))
        problems.extend(self._check_package(payload))
        problems.extend(self._check_images(payload))
        return problems

    def _check_package(self, payload: ListingPayload) -> list[str]:
        problems = []
        if payload.weight_grams <= 0:
            problems.append(_("Lazada needs the package weight. Please enter the weight in grams."))
        elif Decimal(_kg(payload.weight_grams)) > MAX_PACKAGE_WEIGHT_KG:
            problems.append(
                _(
                    "Lazada does not accept packages over %(max)s kg without special permission; this one weighs "
                    "%(weight)s kg."
                )
                % {"max": MAX_PACKAGE_WEIGHT_KG, "weight": _kg(payload.weight_grams)}
            )
        sides = {"length": payload.length_cm, "width": payload.width_cm, "height": payload.height_cm}
        if any(Decimal(_cm(value)) <= 0 for value in sides.values()):
            problems.append(
                _("Lazada needs the package length, width and height in centimetres. Please enter all three.")
            )
        elif sum(Decimal(_cm(value)) for value in sides.values()) > MAX_PACKAGE_SUM_CM:
            problems.append(
                _(
                    "Lazada does not accept packages whose length + width + height exceed %(max)s cm without special "
                    "permission; this one measures %(total)s cm."
                )
                % {"max": MAX_PACKAGE_SUM_CM, "total": sum(Decimal(_cm(value)) for value in sides.values())}
            )
        return problems

    def _check_images(self, payload: ListingPayload) -> list[str]:
        from PIL import Image, UnidentifiedImageError

        if not payload.images:
            return [_("Lazada needs at least one product photo. Please add a photo.")]
        problems = []
        for number, image in enumerate(payload.images[:MAX_IMAGES], start=1):
            if len(image.content) > IMAGE_MAX_BYTES:
                problems.append(
                    _(
                        "Photo %(number)d is %(size)s MB; Lazada accepts photos of at most 3 MB. "
                        "Please use a smaller photo."
                    )
                    % {"number": number, "size": f"{len(image.content) / 1_048_576:.1f}"}
                )
            try:
                with Image.open(io.BytesIO(image.content)) as picture:
                    width, height = picture.size
                    kind = picture.format
            except (UnidentifiedImageError, OSError):
                problems.append(
                    _("Photo %(number)d cannot be read as a picture. Please upload it again.") % {"number": number}
                )
                continue
            if kind not in IMAGE_FORMATS:
                problems.append(_("Photo %(number)d must be a JPG or PNG file for Lazada.") % {"number": number})
            if min(width, height) < IMAGE_MIN_SIDE or max(width, height) > IMAGE_MAX_SIDE:
                problems.append(
                    _(
                        "Photo %(number)d is %(width)d×%(height)d pixels; Lazada needs each side between %(min)d and "
                        "%(max)d pixels."
                    )
                    % {"number": number, "width": width, "height": height, "min": IMAGE_MIN_SIDE, "max": IMAGE_MAX_SIDE}
                )
        return problems

    def _upload_images(self, credentials: ShopCredentials, payload: ListingPayload) -> list[str]:
        """UploadImage (§2.6): multipart file parameter `image`, not signed; Lazada answers with the
        URL that CreateProduct must use (§2.7: only Lazada-hosted images)."""
        urls, seen = [], set()
        for image in payload.images[:MAX_IMAGES]:
            digest = hashlib.sha256(image.content).digest()
            if digest in seen:  # the same photo twice is refused as a duplicate main image (4158)
                continue
            seen.add(digest)
            body = self._call(
                "POST",
                "/image/upload",
                credentials=credentials,
                files={"image": (image.name or "image.jpg", image.content, "image/jpeg")},
            )
            url = _text(((body.get("data") or {}).get("image") or {}).get("url"))
            if not url:
                raise PermanentError("Lazada accepted an image but returned no URL", code="no_image_url")
            urls.append(url)
        return urls

    def _product(self, payload: ListingPayload, images: list[str], *, item_id: str = "", sku_id: str = "") -> str:
        """The CreateProduct/UpdateProduct `payload` (§2.7), every value a string as in Lazada's
        examples. Units: cm with 2 decimals, kg with 2 decimals, whole VND."""
        attributes = {name: _text(value) for name, value in payload.attributes.items()}
        attributes.update(name=payload.title.strip(), description=_description_html(payload.description))
        attributes.setdefault("brand_id", NO_BRAND_ID)
        sku = {
            "SellerSku": payload.sku,
            "quantity": str(payload.stock),
            "price": str(payload.price_vnd),
            "package_length": _cm(payload.length_cm),
            "package_width": _cm(payload.width_cm),
            "package_height": _cm(payload.height_cm),
            "package_weight": _kg(payload.weight_grams),
        }
        if sku_id:
            sku = {"SkuId": sku_id, **sku}
        product = {
            "PrimaryCategory": payload.category_id.strip(),
            "Images": {"Image": images},
            "Attributes": attributes,
            "Skus": {"Sku": [sku]},
        }
        if item_id:
            product = {"ItemId": item_id, **product}
        return self.dumps({"Request": {"Product": product}}).decode()

    def _listing(self, credentials: ShopCredentials, product: dict, sku: str = "") -> RemoteListing:
        """GetProducts / GetProductItem product → RemoteListing. Rejection is in `subStatus`
        (Reject, Live Reject) with `rejectReason[]{violationDetail, suggestion}`; platform locks and
        suspensions (Lock, Admin, Suspended) are BANNED (§2.6; see docs)."""
        item_id = _text(product.get("item_id") or product.get("itemId"))
        raw = _text(product.get("status"))
        subs = {part.strip().lower() for part in _text(product.get("subStatus")).split(",") if part.strip()}
        skus = product.get("skus") or []
        chosen = next((entry for entry in skus if sku and _text(entry.get("SellerSku")) == sku), None)
        chosen = chosen or (skus[0] if skus else {})
        reasons = []
        for entry in product.get("rejectReason") or []:
            if isinstance(entry, dict):
                detail, suggestion = _text(entry.get("violationDetail")), _text(entry.get("suggestion"))
                reasons.append(f"{detail} — {suggestion}" if detail and suggestion else detail or suggestion)
            elif entry:
                reasons.append(_text(entry))
        for entry in product.get("suspendedSkus") or []:
            if isinstance(entry, dict) and entry.get("rejectReason"):
                reasons.append(_text(entry["rejectReason"]))
        if subs & REJECTED_SUB_STATUSES:
            status = ListingStatus.REJECTED
        elif subs & BANNED_SUB_STATUSES:
            status = ListingStatus.BANNED
        else:
            # An unknown status is shown as "in review" with the raw value kept: never live by guess.
            status = LISTING_STATUSES.get(raw.lower(), ListingStatus.IN_REVIEW)
        raw_status = raw + (f" ({product.get('subStatus')})" if subs else "")
        return RemoteListing(
            external_id=item_id,
            status=status,
            raw_status=raw_status,
            reason="; ".join(reason for reason in reasons if reason),
            url=self.config.get("PRODUCT_URL", "").format(shop_id=credentials.shop_id, item_id=item_id),
            sku_id=_text(chosen.get("SkuId") or chosen.get("sku_id")),
        )

    def find_by_sku(self, credentials: ShopCredentials, sku: str) -> RemoteListing | None:
        """GetProducts with `sku_seller_list` (a JSON array, whole-word match, §2.6). Deleted items
        are not adopted; an inactive (withdrawn) one is — it is still ours."""
        body = self._call(
            "GET",
            "/products/get",
            {"filter": "all", "sku_seller_list": json.dumps([sku], ensure_ascii=False), "limit": "50", "offset": "0"},
            credentials=credentials,
        )
        for product in (body.get("data") or {}).get("products") or []:
            if _text(product.get("status")).lower() == "deleted":
                continue
            if any(_text(entry.get("SellerSku")) == sku for entry in product.get("skus") or []):
                return self._listing(credentials, product, sku)
        return None

    def create_listing(self, credentials: ShopCredentials, payload: ListingPayload) -> RemoteListing:
        images = self._upload_images(credentials, payload)
        body = self._call(
            "POST", "/product/create", {"payload": self._product(payload, images)}, credentials=credentials
        )
        data = body.get("data") or {}
        item_id = _text(data.get("item_id"))
        if not item_id:
            raise PermanentError("Lazada created the product but returned no item_id", code="no_item_id")
        skus = data.get("sku_list") or []
        sku = next((entry for entry in skus if _text(entry.get("seller_sku")) == payload.sku), skus[0] if skus else {})
        raw = _text(data.get("item_status")) or "Pending QC"
        return RemoteListing(
            external_id=item_id,
            status=LISTING_STATUSES.get(raw.lower(), ListingStatus.IN_REVIEW),
            raw_status=raw,
            url=self.config.get("PRODUCT_URL", "").format(shop_id=credentials.shop_id, item_id=item_id),
            sku_id=_text(sku.get("sku_id")),
        )

    def update_listing(
        self, credentials: ShopCredentials, remote: RemoteListing, payload: ListingPayload
    ) -> RemoteListing:
        """UpdateProduct: the whole product again, keyed by ItemId + SkuId (§2.6; SellerSku is no
        longer accepted as a key, error 4193)."""
        sku_id = remote.sku_id or self.get_listing(credentials, remote.external_id).sku_id
        images = self._upload_images(credentials, payload)
        product = self._product(payload, images, item_id=remote.external_id, sku_id=sku_id)
        self._call("POST", "/product/update", {"payload": product}, credentials=credentials)
        return self.get_listing(credentials, remote.external_id)

    def update_offer(self, credentials: ShopCredentials, remote: RemoteListing, *, price_vnd: int, stock: int) -> None:
        """UpdatePriceQuantity (§2.6): ItemId/SkuId (+ SellerSku) with Price and Quantity."""
        sku_id, seller_sku = remote.sku_id, ""
        if not sku_id:
            product = self._get_product(credentials, remote.external_id)
            first = (product.get("skus") or [{}])[0]
            sku_id, seller_sku = _text(first.get("SkuId")), _text(first.get("SellerSku"))
        entry = {"ItemId": remote.external_id, "SkuId": sku_id}
        if seller_sku:
            entry["SellerSku"] = seller_sku
        entry.update(Price=str(price_vnd), Quantity=str(stock))
        payload = self.dumps({"Request": {"Product": {"Skus": {"Sku": [entry]}}}}).decode()
        self._call("POST", "/product/price_quantity/update", {"payload": payload}, credentials=credentials)

    def withdraw_listing(self, credentials: ShopCredentials, remote: RemoteListing) -> RemoteListing:
        """DeactivateProduct with `apiRequestBody` (ItemId mandatory, Skus optional: the whole item
        goes inactive). Lazada refuses to deactivate what is not online (E0004): if the item is
        already withdrawn or rejected, that is the outcome we wanted."""
        body = f"<Request><Product><ItemId>{html.escape(remote.external_id)}</ItemId></Product></Request>"
        try:
            self._call("POST", "/product/deactivate", {"apiRequestBody": body}, credentials=credentials)
        except PermanentError as error:
            if error.code != NOT_ONLINE_CODE:
                raise
            current = self.get_listing(credentials, remote.external_id)
            if current.status in (ListingStatus.WITHDRAWN, ListingStatus.REJECTED):
                return current
            raise
        return self.get_listing(credentials, remote.external_id)

    def _get_product(self, credentials: ShopCredentials, external_id: str) -> dict:
        body = self._call("GET", "/product/item/get", {"item_id": external_id}, credentials=credentials)
        product = body.get("data")
        if not isinstance(product, dict):
            raise PermanentError(f"Lazada returned no product for item {external_id}", code="208")
        return product

    def get_listing(self, credentials: ShopCredentials, external_id: str) -> RemoteListing:
        return self._listing(credentials, self._get_product(credentials, external_id))

    # -- Orders (§2.6)

    def fetch_orders(
        self,
        credentials: ShopCredentials,
        *,
        updated_from: datetime.datetime,
        updated_to: datetime.datetime,
        cursor: str | None = None,
    ) -> OrdersPage:
        """GetOrders by update time, oldest first, `offset` as the cursor; then the lines of the
        page's orders with GetMultipleOrderItems. Lazada's bounds are inclusive and to the second:
        we ask for [floor(from), ceil(to)] and keep orders whose updated_at is in [from, to)."""
        offset = int(cursor or 0)
        start = updated_from.replace(microsecond=0)
        end = (
            updated_to
            if updated_to.microsecond == 0
            else updated_to.replace(microsecond=0) + datetime.timedelta(seconds=1)
        )
        body = self._call(
            "GET",
            "/orders/get",
            {
                "update_after": _iso(start),
                "update_before": _iso(end),
                "sort_by": "updated_at",
                "sort_direction": "ASC",
                "offset": str(offset),
                "limit": str(self.orders_page_size),
            },
            credentials=credentials,
        )
        data = body.get("data") or {}
        orders = data.get("orders") or []
        kept = []
        for order in orders:
            updated = _parse_time(order.get("updated_at")) or _parse_time(order.get("created_at"))
            if updated is not None and self._aware(updated_from) <= updated < self._aware(updated_to):
                kept.append(order)
        items = self._items_of(credentials, [_text(order.get("order_id")) for order in kept])
        remote = tuple(self._order(order, items.get(_text(order.get("order_id")), [])) for order in kept)
        seen = offset + len(orders)
        total = data.get("countTotal")
        more = seen < int(total) if _text(total).isdigit() else len(orders) >= self.orders_page_size
        return OrdersPage(orders=remote, next_cursor=str(seen) if more and orders else None)

    @staticmethod
    def _aware(moment: datetime.datetime) -> datetime.datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)

    def _items_of(self, credentials: ShopCredentials, order_ids: list[str]) -> dict[str, list[dict]]:
        """GetMultipleOrderItems, ≤ 50 orders per call, `order_ids` as `[id1,id2]` (E056)."""
        found: dict[str, list[dict]] = {}
        for start in range(0, len(order_ids), self.items_batch_limit):
            batch = order_ids[start : start + self.items_batch_limit]
            listed = "[" + ",".join(batch) + "]" if all(part.isdigit() for part in batch) else json.dumps(batch)
            body = self._call("GET", "/orders/items/get", {"order_ids": listed}, credentials=credentials)
            for entry in body.get("data") or []:
                found[_text(entry.get("order_id"))] = list(entry.get("order_items") or [])
        return found

    def _order(self, order: dict, items: list[dict]) -> RemoteOrder:
        """Lazada order + its item rows → RemoteOrder. Each row is one unit: rows are added up per
        SellerSku (quantity = rows, unit price = their item_price summed / quantity); the line id
        is the lowest order_item_id of the SKU's rows."""
        order_id = _text(order.get("order_id"))
        if not items:
            raise PermanentError(f"Lazada order {order_id} came without items", code="no_items")
        statuses = [_text(item.get("status")) for item in items]
        status, _raw = _order_status(statuses)
        grouped: dict[str, dict] = {}
        for item in items:
            sku = _text(item.get("sku"))
            line = grouped.setdefault(
                sku, {"ids": [], "quantity": 0, "amount": Decimal(0), "name": _text(item.get("name"))}
            )
            line["ids"].append(_text(item.get("order_item_id")))
            line["quantity"] += 1
            line["amount"] += Decimal(_vnd(item.get("item_price")))
        lines = tuple(
            RemoteOrderLine(
                external_line_id=min(line["ids"], key=lambda value: (len(value), value)),
                sku=sku,
                quantity=line["quantity"],
                unit_price_vnd=int((line["amount"] / line["quantity"]).quantize(Decimal(1), ROUND_HALF_UP)),
                name=line["name"],
            )
            for sku, line in grouped.items()
        )
        raw_statuses = [_text(value) for value in order.get("statuses") or []] or list(dict.fromkeys(statuses))
        price = order.get("price")
        total = _vnd(price) if _text(price) else sum(line.unit_price_vnd * line.quantity for line in lines)
        created = _parse_time(order.get("created_at"))
        if created is None:
            raise PermanentError(f"Lazada order {order_id} has no creation time", code="no_created_at")
        return RemoteOrder(
            external_id=order_id,
            status=status,
            raw_status=",".join(raw_statuses),
            created_at=created,
            updated_at=_parse_time(order.get("updated_at")),
            total_vnd=total,
            lines=lines,
        )

    def get_order(self, credentials: ShopCredentials, external_id: str) -> RemoteOrder:
        order = self._call("GET", "/order/get", {"order_id": external_id}, credentials=credentials).get("data")
        items = self._call("GET", "/order/items/get", {"order_id": external_id}, credentials=credentials).get("data")
        if not isinstance(order, dict):
            raise PermanentError(f"Lazada returned no order {external_id}", code="no_order")
        return self._order(order, list(items or []))

    # -- Pushes (§2.8)

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str], url: str) -> None:
        """`Authorization` must be sign_push(app_key, app_secret, raw body) (the URL is not part of
        Lazada's scheme). A push whose own timestamp is older than Lazada's retry span is refused."""
        given = _header(headers, "Authorization").strip().lower()
        if not given:
            raise WebhookRejected("Lazada push without Authorization signature", code="no_signature")
        expected = sign_push(self.config["APP_KEY"], self.config["APP_SECRET"], body)
        if not hmac.compare_digest(expected, given):
            raise WebhookRejected("Lazada push signature does not match", code="bad_signature")
        try:
            stamp = json.loads(body).get("timestamp")
        except (ValueError, AttributeError) as error:
            raise WebhookRejected("Lazada push is not a JSON object", code="bad_body") from error
        if stamp is not None and _text(stamp).isdigit():
            number = int(stamp)
            sent = datetime.datetime.fromtimestamp(number / 1000 if number > 10**11 else number, tz=datetime.UTC)
            now = datetime.datetime.fromtimestamp(clock(), tz=datetime.UTC)
            if now - sent > WEBHOOK_MAX_AGE or sent - now > WEBHOOK_MAX_SKEW:
                raise WebhookRejected("Lazada push timestamp is out of range", code="stale")

    def parse_webhook(self, body: bytes) -> list[WebhookEvent]:
        """message_type 0 (trade order) → an "order" event whose id is
        seller_id:trade_order_id:trade_order_line_id:order_status:status_update_time (Lazada sends no
        notification id; these fields identify one status change of one order line). Other types
        keep a digest of their data in the id."""
        try:
            message = json.loads(body)
        except ValueError as error:
            raise WebhookRejected("Lazada push is not JSON", code="bad_body") from error
        if not isinstance(message, dict):
            raise WebhookRejected("Lazada push is not a JSON object", code="bad_body")
        seller_id = _text(message.get("seller_id"))
        data = message.get("data") if isinstance(message.get("data"), dict) else {}
        kind_code = _text(message.get("message_type"))
        if kind_code == "0":
            order_id = _text(data.get("trade_order_id"))
            status = _text(data.get("order_status"))
            updated = _text(data.get("status_update_time"))
            return [
                WebhookEvent(
                    event_id=f"{seller_id}:{order_id}:{_text(data.get('trade_order_line_id'))}:{status}:{updated}",
                    kind="order",
                    shop_id=seller_id,
                    order_id=order_id,
                    status=status,
                    occurred_at=_parse_time(updated),
                    raw=message,
                )
            ]
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
        kind = {"8": "authorization", "10": "order"}.get(kind_code, "other")
        return [
            WebhookEvent(
                event_id=f"{seller_id}:{kind_code}:{_text(message.get('timestamp'))}:{digest}",
                kind=kind,
                shop_id=seller_id,
                order_id=_text(data.get("trade_order_id")),
                status=_text(data.get("order_status") or data.get("reverse_status")),
                occurred_at=_parse_time(message.get("timestamp")),
                raw=message,
            )
        ]
