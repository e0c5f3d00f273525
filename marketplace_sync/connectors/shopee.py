"""Shopee Open Platform API v2 (marketplaces.md §1): shop authorisation, listings, orders, pushes.

Every call carries the common parameters in the query string, for GET and POST alike, signed with
HMAC-SHA256 over `partner_id + path + timestamp [+ access_token + shop_id]` (§1.2, §1.3); business
parameters go in the query for GET and in a JSON body for POST. Success is `error == ""`, never the
HTTP status (§1.5). The auth endpoints and get_shop_info answer at the top level, everything else
under `response`. Shopee pushes (webhooks) are signed over `callback_url + "|" + raw body` (§1.10).

What this module decides where the reference is uncertain is written down in
docs/connectors/shopee.md (brand "NoBrand", review rejection = BANNED + violation details, the
rate-limit codes, the authorisation expiry…).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import math
import re
import time
import unicodedata
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext

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

# --- Lifetimes (marketplaces.md §1.4; guide 20) ----------------------------------------------------

ACCESS_TOKEN_SECONDS = 4 * 3600  # used only when a token answer has no expire_in
REFRESH_TOKEN_SECONDS = 30 * 86400  # "Each refresh_token is valid for 30 days" (not returned by the API)
AUTHORIZATION_SECONDS = 365 * 86400  # "up to 365 days"; used only when get_shop_info has no expire_time

# --- Listing rules used by check() (marketplaces.md §1.7, §1.8; listing_rules_vn.csv) --------------
# Shopee publishes no fixed VN numbers; these are the sample values of v2.product.get_item_limit
# (§1.7) that the sandbox enforces too. The live numbers come per category from get_item_limit.

NAME_LENGTH = (5, 100)
DESCRIPTION_LENGTH = (10, 2000)
DESCRIPTION_MAX_HASHTAGS = 18  # error_desc_hash_tag_over_limit
IMAGE_COUNT = (1, 9)
IMAGE_MAX_BYTES = 10 * 1024 * 1024  # listing_rules_vn.csv: "product image file size (max) 10 MB"
PRICE_VND = (6, 10_000_000)  # price_limit sample 5.5–10,000,000; VN prices are whole numbers
STOCK = (0, 10_000_000)  # stock_limit max sample

# --- Status mappings -------------------------------------------------------------------------------

# §1.9 item statuses. A BANNED item is REJECTED or BANNED depending on its violation (see _listing).
ITEM_STATUS = {
    "NORMAL": ListingStatus.LIVE,
    "REVIEWING": ListingStatus.IN_REVIEW,
    "BANNED": ListingStatus.BANNED,
    "UNLIST": ListingStatus.WITHDRAWN,
    "SELLER_DELETE": ListingStatus.WITHDRAWN,
    "SHOPEE_DELETE": ListingStatus.WITHDRAWN,
}
# Violation types (get_item_violation_info) that mean "the item itself may not be sold": BANNED.
# Every other type (Spam, Insufficient Information, Inappropriate Image, … Listing Improvement) is a
# listing that failed Shopee's content review and can be fixed: REJECTED.
BANNING_VIOLATIONS = {"Prohibited Listing", "Counterfeit and IP Infringement"}
# Statuses find_by_sku looks through (a deleted item is not one to adopt).
FIND_STATUSES = ("NORMAL", "UNLIST", "REVIEWING", "BANNED")

# §1.9 order statuses (V2.0 Data Definition).
ORDER_STATUS = {
    "UNPAID": OrderStatus.PENDING,
    "PENDING": OrderStatus.PENDING,
    "INVOICE_PENDING": OrderStatus.PENDING,
    "READY_TO_SHIP": OrderStatus.PAID,
    "PROCESSED": OrderStatus.PAID,
    "RETRY_SHIP": OrderStatus.PAID,
    "SHIPPED": OrderStatus.SHIPPED,
    "TO_CONFIRM_RECEIVE": OrderStatus.SHIPPED,
    "COMPLETED": OrderStatus.COMPLETED,
    "IN_CANCEL": OrderStatus.CANCELLED,
    "CANCELLED": OrderStatus.CANCELLED,
    "TO_RETURN": OrderStatus.RETURNED,
}

# --- Error codes (§1.5, §1.11; the choices are explained in docs/connectors/shopee.md) -------------

RATE_LIMIT_CODES = {"error_rate_limit", "error_too_many_request", "error_limit"}
TRANSIENT_CODES = {"error_server", "error_inner", "error_system_busy", "error_network", "error_busy", "error_timeout"}
# Widely reported answer for an expired access token (with Shopee's own typo); the documented one
# is error_auth "Invalid access_token.".
TOKEN_CODES = {"invalid_acceess_token", "invalid_access_token", "error_access_token"}

PUSH_ORDER_STATUS = 3  # §1.10 push codes
PUSH_KINDS = {1: "authorization", 2: "authorization", 12: "authorization", 3: "order", 4: "order", 6: "listing"}

ORDER_DETAIL_BATCH = 50  # get_order_detail takes 1–50 order_sn
ITEM_INFO_BATCH = 50  # get_item_base_info takes 1–50 item ids


def _clock() -> float:
    """Seconds since the epoch; a function so that tests can move this module's clock."""
    return time.time()


# --- Signing (pure functions) ------------------------------------------------------------------------


def sign_request(partner_id, partner_key, path, timestamp, access_token=None, shop_id=None) -> str:
    """The `sign` query parameter (§1.3): lowercase hex HMAC-SHA256, keyed with the partner key
    as text (not hex-decoded), over partner_id + path + timestamp for public APIs, followed by
    access_token + shop_id for shop APIs. The body and the query string are not signed."""
    if (access_token is None) != (shop_id is None):
        raise ValueError("A shop API signature needs both access_token and shop_id.")
    base = f"{partner_id}{path}{timestamp}"
    if access_token is not None:
        base += f"{access_token}{shop_id}"
    return hmac.new(str(partner_key).encode(), base.encode(), hashlib.sha256).hexdigest()


def sign_push(partner_key, url, body: bytes) -> str:
    """The `Authorization` header of a push (§1.10): lowercase hex HMAC-SHA256 keyed with the
    partner key over callback URL + "|" + the raw body bytes (never re-serialised JSON)."""
    return hmac.new(str(partner_key).encode(), str(url).encode() + b"|" + body, hashlib.sha256).hexdigest()


# --- Small helpers -----------------------------------------------------------------------------------


def _utc(timestamp: Any) -> datetime.datetime | None:
    if timestamp in (None, "", 0):
        return None
    return datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.UTC)


def _vnd(amount: int) -> str:
    """12.345.000 — how Vietnamese readers write money."""
    return f"{amount:,}".replace(",", ".")


def _nfc(text: str) -> str:
    # Vietnamese typed on some keyboards arrives decomposed (a + combining marks): count and send
    # the composed form so that lengths match what the seller sees.
    return unicodedata.normalize("NFC", text)


def _chunks(values: list, size: int) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _image_kind(content: bytes) -> str:
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return ""


class ShopeeConnector(Connector):
    """Shopee Open Platform API v2 for local (non cross-border) Vietnamese shops."""

    channel = "shopee"
    # get_order_list: "time_to - time_from" at most 15 days (§1.9).
    max_order_window: ClassVar[datetime.timedelta | None] = datetime.timedelta(days=15)
    order_page_size = 100  # get_order_list page_size is 1–100; config ORDER_PAGE_SIZE overrides

    # -- configuration

    @property
    def _base_url(self) -> str:
        return str(self.config["API_URL"]).rstrip("/")

    @property
    def _partner_id(self) -> int:
        return int(self.config["PARTNER_ID"])

    @property
    def _partner_key(self) -> str:
        return str(self.config["PARTNER_KEY"])

    def _product_url(self, shop_id: str, item_id: str) -> str:
        template = self.config.get("PRODUCT_URL", "")
        return template.format(shop_id=shop_id, item_id=item_id) if template else ""

    # -- HTTP

    def _describe(self, response: Response) -> tuple[str, str, str]:
        body = response.body
        if isinstance(body, dict):
            return str(body.get("request_id") or ""), str(body.get("error") or ""), str(body.get("message") or "")
        return "", "", ""

    def _call(
        self,
        method: str,
        path: str,
        *,
        credentials: ShopCredentials | None = None,
        shop_key: str = "",
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        files: Any = None,
        data: Any = None,
        refreshing: bool = False,
    ) -> dict:
        """One signed call; returns the parsed body once `error` is empty, raises otherwise."""
        timestamp = int(_clock())
        query: dict[str, Any] = {"partner_id": self._partner_id, "timestamp": timestamp}
        if credentials is not None:
            query["access_token"] = credentials.access_token
            query["shop_id"] = credentials.shop_id
            query["sign"] = sign_request(
                self._partner_id, self._partner_key, path, timestamp, credentials.access_token, credentials.shop_id
            )
            shop_key = credentials.shop_id
        else:
            query["sign"] = sign_request(self._partner_id, self._partner_key, path, timestamp)
        if params:
            query.update(params)
        headers, body = None, None
        if json_body is not None:
            headers = {"Content-Type": "application/json"}
            body = self.dumps(json_body)
        response = self._send(
            method,
            self._base_url + path,
            endpoint=path,
            throttle_key=f"shopee:{shop_key}" if shop_key else "",
            params=query,
            body=body,
            files=files,
            data=data,
            headers=headers,
        )
        return self._check(response, refreshing=refreshing)

    def _check(self, response: Response, *, refreshing: bool = False) -> dict:
        """Turn Shopee's answer into data or the right error (§1.5, brief's classification)."""
        body = response.body if isinstance(response.body, dict) else {}
        request_id, code, message = self._describe(response)
        status = response.status_code
        if not code and status < 400 and isinstance(response.body, dict):
            return body
        code = code or f"http_{status}"
        message = message or (response.body if isinstance(response.body, str) else "")[:300] or f"HTTP {status}"
        bare = code.rsplit(".", 1)[-1]  # "product.error_param" -> "error_param"
        details = {"code": code, "http_status": status, "request_id": request_id}
        lowered = message.lower()
        if status == 429 or bare in RATE_LIMIT_CODES or ".rate_limit." in code or "too many request" in lowered:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RateLimited(message, retry_after=retry_after, **details)
        if status >= 500 or bare in TRANSIENT_CODES:
            raise TransientError(message, **details)
        if refreshing and (bare == "error_auth" or "refresh_token" in lowered):
            # The refresh token is unknown, used or expired, or the shop withdrew its authorisation.
            raise AuthorizationRevoked(message, **details)
        if bare in TOKEN_CODES or (bare == "error_auth" and "access_token" in lowered):
            raise TokenExpired(message, **details)
        if bare == "error_auth" and "shopid" in lowered:
            # "Invalid partner_id or shopid.": the shop is no longer authorised for this app.
            raise AuthorizationRevoked(message, **details)
        raise PermanentError(message, **details)

    # -- Authorisation (§1.4)

    def authorization_url(self, *, redirect_uri: str, state: str) -> str:
        """The signed `/api/v2/shop/auth_partner` link (guide 20), valid 5 minutes. Shopee has no
        state parameter, so the state rides in our own redirect URL and comes back with it."""
        path = "/api/v2/shop/auth_partner"
        timestamp = int(_clock())
        parts = urllib.parse.urlsplit(redirect_uri)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if state and ("state", state) not in query:  # the caller may have put it there already
            query.append(("state", state))
        redirect = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        params = {
            "partner_id": self._partner_id,
            "timestamp": timestamp,
            "sign": sign_request(self._partner_id, self._partner_key, path, timestamp),
            "redirect": redirect,
        }
        return f"{self._base_url}{path}?{urllib.parse.urlencode(params)}"

    def exchange_code(self, *, query: Mapping[str, str], redirect_uri: str) -> TokenGrant:
        """`redirect?code=…&shop_id=…` → GetAccessToken (POST /api/v2/auth/token/get), then
        get_shop_info for the shop's name and the end of its authorisation (`expire_time`)."""
        code, shop_id = query.get("code", ""), query.get("shop_id", "")
        if not code:
            raise PermanentError("Shopee sent no authorisation code back.", code="missing_code")
        if not shop_id:
            # A main-account authorisation (main_account_id=…) covers several shops; OCOP shops
            # authorise one shop account each.
            raise PermanentError(
                "Shopee authorised a main account, not a shop: log in with the shop account.",
                code="main_account_unsupported",
            )
        now = _clock()
        answer = self._call(
            "POST",
            "/api/v2/auth/token/get",
            shop_key=shop_id,
            json_body={"code": code, "partner_id": self._partner_id, "shop_id": int(shop_id)},
        )
        grant = self._grant(str(shop_id), answer, now)
        info = self._call(
            "GET",
            "/api/v2/shop/get_shop_info",
            credentials=ShopCredentials(shop_id=grant.shop_id, access_token=grant.access_token),
        )
        expires = _utc(info.get("expire_time")) or _utc(now + AUTHORIZATION_SECONDS)
        return TokenGrant(
            shop_id=grant.shop_id,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            shop_name=str(info.get("shop_name") or ""),
            access_expires_at=grant.access_expires_at,
            refresh_expires_at=grant.refresh_expires_at,
            authorization_expires_at=expires,
            extra={"region": str(info.get("region") or "")},
        )

    def refresh(self, credentials: ShopCredentials) -> TokenGrant:
        """RefreshAccessToken (POST /api/v2/auth/access_token/get). The refresh token is single
        use: the grant carries the new one, which must replace the old at once. Only this one call
        is made, so that nothing after it can lose the new token; the shop name and authorisation
        expiry are left empty (unchanged) here."""
        now = _clock()
        answer = self._call(
            "POST",
            "/api/v2/auth/access_token/get",
            shop_key=credentials.shop_id,
            json_body={
                "refresh_token": credentials.refresh_token,
                "partner_id": self._partner_id,
                "shop_id": int(credentials.shop_id),
            },
            refreshing=True,
        )
        return self._grant(credentials.shop_id, answer, now)

    def _grant(self, shop_id: str, answer: dict, now: float) -> TokenGrant:
        access, refresh = answer.get("access_token"), answer.get("refresh_token")
        if not access or not refresh:
            raise PermanentError(
                "Shopee answered without tokens.", code="missing_token", request_id=answer.get("request_id", "")
            )
        expire_in = int(answer.get("expire_in") or ACCESS_TOKEN_SECONDS)
        return TokenGrant(
            shop_id=str(answer.get("shop_id") or shop_id),
            access_token=str(access),
            refresh_token=str(refresh),
            access_expires_at=_utc(now + expire_in),
            refresh_expires_at=_utc(now + REFRESH_TOKEN_SECONDS),
        )

    # -- Listings

    def check(self, payload: ListingPayload) -> list[str]:
        problems = []
        title, description = _nfc(payload.title.strip()), _nfc(payload.description.strip())
        if not NAME_LENGTH[0] <= len(title) <= NAME_LENGTH[1]:
            problems.append(
                gettext("A product name on Shopee needs %(min)s to %(max)s characters; this one has %(count)s.")
                % {"min": NAME_LENGTH[0], "max": NAME_LENGTH[1], "count": len(title)}
            )
        if not DESCRIPTION_LENGTH[0] <= len(description) <= DESCRIPTION_LENGTH[1]:
            problems.append(
                gettext("A product description on Shopee needs %(min)s to %(max)s characters; this one has %(count)s.")
                % {"min": DESCRIPTION_LENGTH[0], "max": DESCRIPTION_LENGTH[1], "count": len(description)}
            )
        hashtags = len(re.findall(r"#\w+", description))
        if hashtags > DESCRIPTION_MAX_HASHTAGS:
            problems.append(
                gettext(
                    "Shopee allows at most %(max)s hashtags (#…) in a description; this one has %(count)s. "
                    "Please remove some."
                )
                % {"max": DESCRIPTION_MAX_HASHTAGS, "count": hashtags}
            )
        if not payload.category_id.strip():
            problems.append(gettext("Choose a Shopee category for this product before listing it."))
        elif not payload.category_id.strip().isdigit():
            problems.append(
                gettext("“%(category)s” is not a Shopee category number. Please choose the Shopee category again.")
                % {"category": payload.category_id}
            )
        if not IMAGE_COUNT[0] <= len(payload.images) <= IMAGE_COUNT[1]:
            problems.append(
                gettext("Shopee needs %(min)s to %(max)s product photos; this product has %(count)s.")
                % {"min": IMAGE_COUNT[0], "max": IMAGE_COUNT[1], "count": len(payload.images)}
            )
        for image in payload.images:
            if len(image.content) > IMAGE_MAX_BYTES:
                problems.append(
                    gettext(
                        "The photo %(name)s is larger than %(max_mb)s MB, the most Shopee accepts. "
                        "Please use a smaller photo."
                    )
                    % {"name": image.name, "max_mb": IMAGE_MAX_BYTES // (1024 * 1024)}
                )
            if not _image_kind(image.content):
                problems.append(
                    gettext(
                        "The photo %(name)s is not a JPEG or PNG file, the only kinds Shopee accepts. "
                        "Please upload it again."
                    )
                    % {"name": image.name}
                )
        if not PRICE_VND[0] <= payload.price_vnd <= PRICE_VND[1]:
            problems.append(
                gettext(
                    "On Shopee the price must be between %(min)s and %(max)s đồng; this product costs %(price)s đồng."
                )
                % {"min": _vnd(PRICE_VND[0]), "max": _vnd(PRICE_VND[1]), "price": _vnd(payload.price_vnd)}
            )
        if not STOCK[0] <= payload.stock <= STOCK[1]:
            problems.append(
                gettext("Shopee accepts a stock between %(min)s and %(max)s; this product has %(stock)s.")
                % {"min": _vnd(STOCK[0]), "max": _vnd(STOCK[1]), "stock": _vnd(payload.stock)}
            )
        if payload.weight_grams <= 0:
            problems.append(gettext("Enter the packed weight of this product: Shopee needs it to work out shipping."))
        if min(payload.length_cm, payload.width_cm, payload.height_cm) <= 0:
            problems.append(
                gettext("Enter the package length, width and height: Shopee needs all three to work out shipping.")
            )
        return problems

    def _item_body(self, credentials: ShopCredentials, payload: ListingPayload, *, image_ids: list[str]) -> dict:
        """Our units → add_item/update_item fields (§1.7): weight in kg (float), package
        dimensions in whole cm rounded up (int), integer VND price, uploaded image ids."""
        body: dict[str, Any] = {
            "item_name": _nfc(payload.title.strip()),
            "description": _nfc(payload.description.strip()),
            "item_sku": payload.sku,
            "category_id": int(payload.category_id),
            "weight": payload.weight_grams / 1000,
            "dimension": {
                "package_length": max(1, math.ceil(payload.length_cm)),
                "package_width": max(1, math.ceil(payload.width_cm)),
                "package_height": max(1, math.ceil(payload.height_cm)),
            },
            "image": {"image_id_list": image_ids},
            # Brand ids come from get_brand_list per category; an OCOP cooperative's own brand is
            # rarely registered there, so every item is sent as "no brand" (see the docs file).
            "brand": {"brand_id": 0, "original_brand_name": "NoBrand"},
            "condition": "NEW",
        }
        attributes = [
            {"attribute_id": int(key), "attribute_value_list": [{"value_id": 0, "original_value_name": str(value)}]}
            for key, value in payload.attributes.items()
            if str(key).isdigit()
        ]
        if attributes:
            body["attribute_list"] = attributes
        return body

    def _upload_images(self, credentials: ShopCredentials, payload: ListingPayload) -> list[str]:
        """media_space.upload_image (§1.8), one multipart call per photo, scene "normal"."""
        ids = []
        for image in payload.images:
            kind = _image_kind(image.content) or "image/jpeg"
            answer = self._call(
                "POST",
                "/api/v2/media_space/upload_image",
                shop_key=credentials.shop_id,
                files={"image": (image.name, image.content, kind)},
                data={"scene": "normal"},
            )
            info = (answer.get("response") or {}).get("image_info") or {}
            if not info.get("image_id"):
                raise PermanentError("Shopee kept no image id for a photo.", code="missing_image_id")
            ids.append(str(info["image_id"]))
        return ids

    def _logistic_info(self, credentials: ShopCredentials, weight_kg: float) -> list[dict]:
        """add_item needs the shop's shipping channels (§1.6 get_channel_list): the enabled checkout
        channels (mask_channel_id 0) whose fee needs no extra input (SIZE_SELECTION needs a size,
        CUSTOM_PRICE a fee), preferring those whose weight limit fits the parcel."""
        answer = self._call("GET", "/api/v2/logistics/get_channel_list", credentials=credentials)
        channels = (answer.get("response") or {}).get("logistics_channel_list") or []
        usable = [
            channel
            for channel in channels
            if channel.get("enabled")
            and not channel.get("mask_channel_id")
            and channel.get("fee_type") not in ("SIZE_SELECTION", "CUSTOM_PRICE")
        ]

        def fits(channel: dict) -> bool:
            limit = channel.get("weight_limit") or {}
            top, bottom = limit.get("item_max_weight") or 0, limit.get("item_min_weight") or 0
            return (not top or weight_kg <= top) and (not bottom or weight_kg >= bottom)

        chosen = [channel for channel in usable if fits(channel)] or usable
        if not chosen:
            raise PermanentError(
                "No shipping channel is enabled for this Shopee shop: enable one in Seller Centre.",
                code="no_logistics_channel",
            )
        return [{"logistic_id": int(channel["logistics_channel_id"]), "enabled": True} for channel in chosen]

    def create_listing(self, credentials: ShopCredentials, payload: ListingPayload) -> RemoteListing:
        logistic_info = self._logistic_info(credentials, payload.weight_grams / 1000)
        body = self._item_body(credentials, payload, image_ids=self._upload_images(credentials, payload))
        body.update(
            {
                "original_price": int(payload.price_vnd),
                "seller_stock": [{"stock": int(payload.stock)}],
                "logistic_info": logistic_info,
            }
        )
        answer = self._call("POST", "/api/v2/product/add_item", credentials=credentials, json_body=body)
        item = answer.get("response") or {}
        if not item.get("item_id"):
            raise PermanentError("Shopee created no item id.", code="missing_item_id")
        return self._listing(credentials, item, fetch_violation=False)

    def update_listing(
        self, credentials: ShopCredentials, remote: RemoteListing, payload: ListingPayload
    ) -> RemoteListing:
        """update_item for the content (new photos are uploaded again: their ids are not kept),
        then price and stock, and a re-list when the item had been unlisted."""
        body = self._item_body(credentials, payload, image_ids=self._upload_images(credentials, payload))
        body["item_id"] = int(remote.external_id)
        self._call("POST", "/api/v2/product/update_item", credentials=credentials, json_body=body)
        self.update_offer(credentials, remote, price_vnd=payload.price_vnd, stock=payload.stock)
        if remote.raw_status == "UNLIST":
            self._unlist(credentials, remote.external_id, unlist=False)
        return self.get_listing(credentials, remote.external_id)

    def update_offer(self, credentials: ShopCredentials, remote: RemoteListing, *, price_vnd: int, stock: int) -> None:
        """update_price and update_stock; model_id 0 = an item without variations (§1.6)."""
        item_id = int(remote.external_id)
        answer = self._call(
            "POST",
            "/api/v2/product/update_price",
            credentials=credentials,
            json_body={"item_id": item_id, "price_list": [{"model_id": 0, "original_price": int(price_vnd)}]},
        )
        self._raise_failures(answer, "update_price")
        answer = self._call(
            "POST",
            "/api/v2/product/update_stock",
            credentials=credentials,
            json_body={"item_id": item_id, "stock_list": [{"model_id": 0, "seller_stock": [{"stock": int(stock)}]}]},
        )
        self._raise_failures(answer, "update_stock")

    @staticmethod
    def _raise_failures(answer: dict, endpoint: str) -> None:
        # Batch calls succeed as a whole and list the parts that failed (§1.5 "warning").
        failures = (answer.get("response") or {}).get("failure_list") or []
        if failures:
            reason = "; ".join(str(failure.get("failed_reason") or failure) for failure in failures)
            raise PermanentError(reason, code=f"{endpoint}_failed", request_id=str(answer.get("request_id") or ""))

    def _unlist(self, credentials: ShopCredentials, item_id: str, *, unlist: bool) -> None:
        answer = self._call(
            "POST",
            "/api/v2/product/unlist_item",
            credentials=credentials,
            json_body={"item_list": [{"item_id": int(item_id), "unlist": unlist}]},
        )
        self._raise_failures(answer, "unlist_item")

    def withdraw_listing(self, credentials: ShopCredentials, remote: RemoteListing) -> RemoteListing:
        """unlist_item (reversible), not delete_item: the seller can list it again."""
        self._unlist(credentials, remote.external_id, unlist=True)
        return self.get_listing(credentials, remote.external_id)

    def _base_info(self, credentials: ShopCredentials, item_ids: list[str]) -> list[dict]:
        answer = self._call(
            "GET",
            "/api/v2/product/get_item_base_info",
            credentials=credentials,
            params={"item_id_list": ",".join(str(item_id) for item_id in item_ids)},
        )
        return (answer.get("response") or {}).get("item_list") or []

    def get_listing(self, credentials: ShopCredentials, external_id: str) -> RemoteListing:
        items = [
            item for item in self._base_info(credentials, [external_id]) if str(item.get("item_id")) == str(external_id)
        ]
        if not items:
            raise PermanentError(f"Shopee has no item {external_id}.", code="error_item_not_found")
        return self._listing(credentials, items[0])

    def _listing(self, credentials: ShopCredentials, item: dict, *, fetch_violation: bool = True) -> RemoteListing:
        """RemoteListing from an item; for a BANNED item, get_item_violation_info says why, and
        whether it is a ban or a review the seller can answer by fixing the listing."""
        item_id = str(item["item_id"])
        raw = str(item.get("item_status") or "")
        status, reason = ITEM_STATUS.get(raw, ListingStatus.IN_REVIEW), ""
        if raw == "BANNED" and fetch_violation:
            answer = self._call(
                "GET",
                "/api/v2/product/get_item_violation_info",
                credentials=credentials,
                params={"item_id_list": item_id},
            )
            entries = [
                entry
                for entry in (answer.get("response") or {}).get("item_list") or []
                if str(entry.get("item_id")) == item_id
            ]
            details = (entries[0].get("item_status_details") or []) if entries else []
            reason = "; ".join(
                " — ".join(
                    part
                    for part in (
                        f"{detail.get('violation_type', '')}: {detail.get('violation_reason', '')}".strip(": "),
                        str(detail.get("suggestion") or ""),
                    )
                    if part
                )
                for detail in details
            )
            types = {detail.get("violation_type") for detail in details}
            status = ListingStatus.REJECTED if details and not types & BANNING_VIOLATIONS else ListingStatus.BANNED
        return RemoteListing(
            external_id=item_id,
            status=status,
            raw_status=raw,
            reason=reason,
            url=self._product_url(credentials.shop_id, item_id),
        )

    def find_by_sku(self, credentials: ShopCredentials, sku: str) -> RemoteListing | None:
        """get_item_list has no SKU filter (§1.6), so this pages through the shop's items in the
        statuses that matter and reads their item_sku with get_item_base_info: one list call per
        100 items plus one info call per 50. The cost is acceptable for cooperative shops (tens to
        hundreds of items) and it is only paid when a create's answer was lost or on adoption."""
        offset = 0
        while True:
            params: dict[str, Any] = {"offset": offset, "page_size": 100, "item_status": list(FIND_STATUSES)}
            answer = self._call("GET", "/api/v2/product/get_item_list", credentials=credentials, params=params)
            page = answer.get("response") or {}
            item_ids = [str(entry["item_id"]) for entry in page.get("item") or []]
            for batch in _chunks(item_ids, ITEM_INFO_BATCH):
                for item in self._base_info(credentials, batch):
                    if str(item.get("item_sku") or "") == sku:
                        return self._listing(credentials, item)
            if not page.get("has_next_page") or not item_ids:
                return None
            # never step back or stand still, whatever next_offset says
            offset = max(int(page.get("next_offset") or 0), offset + len(item_ids))

    # -- Orders (§1.9)

    def fetch_orders(
        self,
        credentials: ShopCredentials,
        *,
        updated_from: datetime.datetime,
        updated_to: datetime.datetime,
        cursor: str | None = None,
    ) -> OrdersPage:
        """get_order_list by update_time, then get_order_detail for lines and totals. Shopee's
        window is whole seconds, both ends included: [ceil(from), ceil(to) - 1] is exactly our
        half-open [from, to) for orders updated on whole seconds."""
        time_from = math.ceil(updated_from.timestamp())
        time_to = math.ceil(updated_to.timestamp()) - 1
        if time_to < time_from:
            return OrdersPage(orders=(), next_cursor=None)
        params: dict[str, Any] = {
            "time_range_field": "update_time",
            "time_from": time_from,
            "time_to": time_to,
            "page_size": int(self.config.get("ORDER_PAGE_SIZE", self.order_page_size)),
            "response_optional_fields": "order_status",
        }
        if cursor:
            params["cursor"] = cursor
        answer = self._call("GET", "/api/v2/order/get_order_list", credentials=credentials, params=params)
        page = answer.get("response") or {}
        order_sns = [str(entry["order_sn"]) for entry in page.get("order_list") or []]
        orders = self._order_details(credentials, order_sns)
        next_cursor = str(page.get("next_cursor") or "") if page.get("more") else ""
        return OrdersPage(orders=tuple(orders), next_cursor=next_cursor or None)

    def get_order(self, credentials: ShopCredentials, external_id: str) -> RemoteOrder:
        orders = self._order_details(credentials, [external_id])
        if not orders:
            raise PermanentError(f"Shopee has no order {external_id}.", code="error_not_found")
        return orders[0]

    def _order_details(self, credentials: ShopCredentials, order_sns: list[str]) -> list[RemoteOrder]:
        orders = []
        for batch in _chunks(order_sns, ORDER_DETAIL_BATCH):
            answer = self._call(
                "GET",
                "/api/v2/order/get_order_detail",
                credentials=credentials,
                params={"order_sn_list": ",".join(batch), "response_optional_fields": "item_list,total_amount"},
            )
            by_sn = {
                str(order.get("order_sn")): order for order in (answer.get("response") or {}).get("order_list") or []
            }
            orders.extend(self._order(by_sn[order_sn]) for order_sn in batch if order_sn in by_sn)
        return orders

    @staticmethod
    def _order(order: dict) -> RemoteOrder:
        lines = []
        for line in order.get("item_list") or []:
            # What the buyer paid per unit: the discounted price (0 inside bundle deals, where the
            # original price is the better figure we have).
            price = line.get("model_discounted_price") or line.get("model_original_price") or 0
            lines.append(
                RemoteOrderLine(
                    external_line_id=f"{line.get('order_item_id') or line.get('item_id')}:{line.get('model_id') or 0}",
                    sku=str(line.get("model_sku") or line.get("item_sku") or ""),
                    quantity=int(line.get("model_quantity_purchased") or 0),
                    unit_price_vnd=round(float(price)),
                    name=str(line.get("item_name") or ""),
                )
            )
        raw = str(order.get("order_status") or "")
        total = order.get("total_amount")
        # total_amount only exists once the buyer has paid; before that the lines are the total.
        total_vnd = (
            round(float(total)) if total is not None else sum(line.quantity * line.unit_price_vnd for line in lines)
        )
        return RemoteOrder(
            external_id=str(order["order_sn"]),
            status=ORDER_STATUS.get(raw, OrderStatus.PENDING),
            raw_status=raw,
            created_at=_utc(order.get("create_time")) or _utc(_clock()),
            updated_at=_utc(order.get("update_time")),
            total_vnd=total_vnd,
            lines=tuple(lines),
        )

    # -- Pushes (§1.10)

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str], url: str) -> None:
        """`Authorization` must equal sign_push(partner_key, url, raw body), compared in constant
        time. `url` is the callback URL exactly as configured with Shopee. Pushes carry no signed
        timestamp and Shopee retries for hours, so no staleness check applies."""
        received = next((value for key, value in headers.items() if key.lower() == "authorization"), "")
        if not received:
            raise WebhookRejected("The Shopee push has no Authorization header.", code="missing_signature")
        expected = sign_push(self._partner_key, url, body)
        if not hmac.compare_digest(expected.encode(), received.strip().lower().encode()):
            raise WebhookRejected("The Shopee push signature does not match.", code="bad_signature")

    def parse_webhook(self, body: bytes) -> list[WebhookEvent]:
        """One event per push. Shopee sends no push id: an order status push is identified by
        shop + order_sn + status + update_time (a repeat of the same change is the same event);
        other pushes by shop + code + timestamp + a digest of the body."""
        try:
            push = json.loads(body.decode())
        except (UnicodeDecodeError, ValueError) as error:
            raise WebhookRejected("The Shopee push is not JSON.", code="bad_body") from error
        if not isinstance(push, dict):
            raise WebhookRejected("The Shopee push is not a JSON object.", code="bad_body")
        code = int(push.get("code") or 0)
        shop_id = str(push.get("shop_id") or "")
        data = push.get("data") if isinstance(push.get("data"), dict) else {}
        kind = PUSH_KINDS.get(code, "other")
        if code == PUSH_ORDER_STATUS:
            order_sn, status, update_time = (
                str(data.get("ordersn") or ""),
                str(data.get("status") or ""),
                data.get("update_time"),
            )
            return [
                WebhookEvent(
                    event_id=f"{shop_id}:{order_sn}:{status}:{update_time}",
                    kind=kind,
                    shop_id=shop_id,
                    order_id=order_sn,
                    status=status,
                    occurred_at=_utc(update_time) or _utc(push.get("timestamp")),
                    raw=push,
                )
            ]
        digest = hashlib.sha256(body).hexdigest()[:16]
        return [
            WebhookEvent(
                event_id=f"{shop_id}:{code}:{push.get('timestamp')}:{digest}",
                kind=kind,
                shop_id=shop_id,
                order_id=str(data.get("ordersn") or ""),
                item_id=str(data.get("item_id") or ""),
                status=str(data.get("status") or ""),
                occurred_at=_utc(push.get("timestamp")),
                raw=push,
            )
        ]
