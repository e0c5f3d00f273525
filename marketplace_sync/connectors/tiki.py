"""Tiki Seller Open API (Vietnam) connector — marketplaces.md §4, docs/connectors/tiki.md.

Tiki differs from the other three marketplaces in three ways that shape this module:

- No request signing (§4 "No request signing/HMAC — bearer token only"): every call carries
  `Authorization: Bearer <token>` from Tiki's OAuth 2.0 server, so there is no signing function.
- New products are *product requests* that Tiki reviews (queuing → processing →
  md_waiting_approve → bot_waiting_approve → awaiting_approve → approved | rejected). Tiki
  answers a create with a `track_id` only; the `request_id` appears once processing is done and
  the product id once the request is approved. `RemoteListing.external_id` therefore travels
  through three forms (see `TRACK_PREFIX`/`REQUEST_PREFIX` below and the docs file).
- No webhooks: Tiki puts notifications on an *event queue* that the app pulls
  (`pull_events` / `ack_events`); `verify_webhook` refuses any push.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import io
import json
import urllib.parse
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
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

# Tiki writes its timestamps as "YYYY-MM-DD HH:MM:SS" without a zone; they are Vietnam time
# (§4 order filters; docs/connectors/tiki.md "Time zone" — an inference, Tiki does not say).
TIKI_TZ = datetime.timezone(datetime.timedelta(hours=7), "ICT")
TIKI_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# §4 / open.tiki.vn authorization-code-flow page: example scopes; "offline" is what makes the
# token endpoint return a refresh token.
SCOPES = "offline product order inventory"

# The order events of Tiki's event-type page; one queue per shop subscribes to both.
ORDER_EVENT_TYPES = ("ORDER_CREATED_SUCCESSFULLY", "ORDER_STATUS_UPDATED")

# external_id forms before a product exists (docs/connectors/tiki.md "Ids"):
# "trk-<track_id>" right after create (Tiki answered only the track id), "req-<request_id>" once
# the request id is known and until this connector has handled the approved product; the bare
# product id afterwards.
TRACK_PREFIX = "trk-"
REQUEST_PREFIX = "req-"

# Request states while Tiki still reviews (§4; the older spellings *_awaiting_approve and
# "drafted" appear in the v1 reference and are accepted too).
WAITING_STATES = frozenset(
    {
        "queuing",
        "processing",
        "drafted",
        "md_waiting_approve",
        "md_awaiting_approve",
        "bot_waiting_approve",
        "bot_awaiting_approve",
        "awaiting_approve",
    }
)

# §4 order statuses → ours. PENDING = not (yet) accepted/paid; queueing is Tiki's "accepted"
# state but the brief maps it to PENDING (docs: "Order statuses").
ORDER_STATUS_MAP: dict[str, OrderStatus] = {
    "waiting_payment": OrderStatus.PENDING,
    "queueing": OrderStatus.PENDING,
    "payment_review": OrderStatus.PENDING,
    "holded": OrderStatus.PENDING,
    "processing": OrderStatus.PAID,
    "paid": OrderStatus.PAID,
    "packaging": OrderStatus.PAID,
    "finished_packing": OrderStatus.PAID,
    "ready_to_ship": OrderStatus.PAID,
    "picking": OrderStatus.PAID,
    "handover_to_partner": OrderStatus.PAID,
    "shipping": OrderStatus.SHIPPED,
    "successful_delivery": OrderStatus.COMPLETED,
    "delivered": OrderStatus.COMPLETED,
    "complete": OrderStatus.COMPLETED,
    "canceled": OrderStatus.CANCELLED,
    "closed": OrderStatus.CANCELLED,
    "returned": OrderStatus.RETURNED,
}

# listing_rules_vn.csv (tiki rows): name 3–255 characters; images at least 500 × 500, 1:1.
TITLE_MIN, TITLE_MAX = 3, 255
IMAGE_MIN_PX = 500
SQUARE_TOLERANCE = 0.02  # a photo cropped to 1:1 may be a pixel or two off

# Seller packs, Tiki carries ("dropship" in Tiki's inventory types): what an OCOP cooperative does.
INVENTORY_TYPE = "dropship"


def tiki_time(moment: datetime.datetime) -> str:
    """A datetime as Tiki's filters want it: Vietnam time, to the second (naive = UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(TIKI_TZ).strftime(TIKI_TIME_FORMAT)


def parse_tiki_time(value: Any) -> datetime.datetime | None:
    if not value:
        return None
    text = str(value).strip()
    try:
        return datetime.datetime.strptime(text, TIKI_TIME_FORMAT).replace(tzinfo=TIKI_TZ)
    except ValueError:
        pass
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=TIKI_TZ)


def whole_vnd(value: Any) -> int:
    """Tiki writes money as numbers that may carry ".00"; VND has no minor unit."""
    try:
        return int(Decimal(str(value or 0)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        return 0


def map_order_status(raw: str) -> OrderStatus:
    # An unknown status is most safely "not paid yet": nothing ships on it.
    return ORDER_STATUS_MAP.get(raw, OrderStatus.PENDING)


def map_request_state(state: str) -> ListingStatus:
    if state == "rejected":
        return ListingStatus.REJECTED
    if state in ("deleted",):
        return ListingStatus.WITHDRAWN
    # approved without a product yet, or any waiting state
    return ListingStatus.IN_REVIEW


def _rejection_reason(value: Any) -> str:
    """Tiki's reasons come as text, a list, or a JSON string ({"message", "errors": [{msg}]})."""
    if not value:
        return ""
    if isinstance(value, list):
        return "; ".join(filter(None, (_rejection_reason(item) for item in value)))
    if isinstance(value, dict):
        return str(value.get("message") or value.get("msg") or value.get("description") or json.dumps(value))
    text = str(value)
    if text.lstrip().startswith("{"):
        try:
            return _rejection_reason(json.loads(text))
        except ValueError:
            return text
    return text


class TikiConnector(Connector):
    channel = "tiki"
    # Tiki publishes no window limit for the order list; 30 days keeps each call to what its own
    # quick filter (filter_date_by=last30days) offers (docs: "Orders").
    max_order_window: ClassVar[datetime.timedelta | None] = datetime.timedelta(days=30)
    # limit > 100 is refused (third-party clients note 50 as what works); config ORDER_PAGE_SIZE.
    order_page_size: ClassVar[int] = 50
    # How many pages of the latest product requests find_by_sku reads to tell an approved but
    # never activated product from one the seller switched off.
    request_scan_pages: ClassVar[int] = 3

    def __init__(self, config, transport=None):
        super().__init__(config, transport)
        self._app_token: tuple[str, datetime.datetime] | None = None

    # -- HTTP ---------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.config["API_URL"].rstrip("/") + path

    def _describe(self, response: Response) -> tuple[str, str, str]:
        """Tiki's answers: API errors are {"errors": [...], "meta": {"id"}}, OAuth errors are
        {"error", "error_description"}; neither has a numeric code, so the HTTP status is the code."""
        body = response.body if isinstance(response.body, dict) else {}
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        request_id = str(meta.get("id") or response.headers.get("X-Request-Id", "") or "")
        if response.status_code < 400:
            return request_id, "", ""
        if body.get("error"):
            return request_id, str(body["error"]), str(body.get("error_description") or body["error"])
        errors = body.get("errors")
        if isinstance(errors, list):
            message = "; ".join(str(error) for error in errors)
        else:
            message = str(body.get("message") or errors or response.body or "")
        return request_id, str(response.status_code), message

    def _raise_for(self, response: Response, *, refreshing: bool = False) -> Any:
        """Classify a Tiki answer (§4 errors: 400/404/422 validation, 401 token, 429 rate, 5xx)."""
        if response.status_code < 400:
            return response.body
        request_id, code, message = self._describe(response)
        status = response.status_code
        kwargs = {"code": code, "http_status": status, "request_id": request_id}
        if status == 429:
            raise RateLimited(message, retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs)
        if status >= 500:
            raise TransientError(message, **kwargs)
        if code in ("invalid_grant", "access_denied") and refreshing:
            # The refresh token is expired, used or revoked: the shop must connect again.
            raise AuthorizationRevoked(message, **kwargs)
        if status == 401 and code not in ("invalid_client", "unauthorized_client"):
            raise TokenExpired(message, **kwargs)
        raise PermanentError(message, **kwargs)

    def _call(
        self,
        method: str,
        path: str,
        *,
        token: str,
        endpoint: str,
        throttle_key: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        body = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            body = self.dumps(json_body)
        response = self._send(
            method,
            self._url(path),
            endpoint=endpoint,
            throttle_key=throttle_key,
            params=params,
            body=body,
            headers=headers,
        )
        return self._raise_for(response)

    def _shop_call(self, credentials: ShopCredentials, method: str, path: str, *, endpoint: str, **kwargs) -> Any:
        return self._call(
            method,
            path,
            token=credentials.access_token,
            endpoint=endpoint,
            throttle_key=f"tiki:{credentials.shop_id}",
            **kwargs,
        )

    # -- OAuth 2.0 (§4 Identity) -------------------------------------------------------------

    def _basic(self) -> str:
        pair = f"{self.config['CLIENT_ID']}:{self.config['CLIENT_SECRET']}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def _token(self, form: dict[str, str], *, endpoint: str, refreshing: bool = False) -> dict:
        """POST the token endpoint: form-encoded, client authenticated by HTTP Basic (§4)."""
        response = self._send(
            "POST",
            self.config["TOKEN_URL"],
            endpoint=endpoint,
            data={**form, "client_id": self.config["CLIENT_ID"]},
            headers={"Authorization": self._basic(), "Accept": "application/json"},
        )
        body = self._raise_for(response, refreshing=refreshing)
        if not isinstance(body, dict) or not body.get("access_token"):
            raise PermanentError("Tiki's token endpoint answered without an access token", code="no_token")
        return body

    def authorization_url(self, *, redirect_uri: str, state: str) -> str:
        # Tiki refuses a state shorter than 8 characters (authorization-code-flow page).
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.config["CLIENT_ID"],
                "redirect_uri": redirect_uri,
                "scope": SCOPES,
                "state": state,
            },
            quote_via=urllib.parse.quote,
        )
        return f"{self.config['AUTHORIZE_URL']}?{query}"

    def exchange_code(self, *, query: Mapping[str, str], redirect_uri: str) -> TokenGrant:
        if query.get("error"):
            raise PermanentError(str(query.get("error_description") or query["error"]), code=str(query["error"]))
        code = query.get("code", "")
        if not code:
            raise PermanentError("Tiki sent no authorisation code back", code="missing_code")
        body = self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            endpoint="oauth2.token.authorization_code",
        )
        access = body["access_token"]
        # The shop is the seller behind the token (§4: GET /integration/v2/sellers/me).
        seller = self._call(
            "GET", "/integration/v2/sellers/me", token=access, endpoint="sellers.me", throttle_key="tiki:connect"
        )
        shop_id = str(seller.get("id", ""))
        if not shop_id:
            raise PermanentError("Tiki did not say which seller authorised us", code="no_seller")
        credentials = ShopCredentials(shop_id=shop_id, access_token=access, refresh_token=body.get("refresh_token", ""))
        warehouse_id = self._lookup_warehouse(credentials)
        queue_code = self._setup_queue(credentials)
        return TokenGrant(
            shop_id=shop_id,
            access_token=access,
            refresh_token=body.get("refresh_token", ""),
            shop_name=str(seller.get("name", "")),
            access_expires_at=self._expires(body),
            extra={"queue_code": queue_code, "warehouse_id": warehouse_id},
        )

    def refresh(self, credentials: ShopCredentials) -> TokenGrant:
        body = self._token(
            {"grant_type": "refresh_token", "refresh_token": credentials.refresh_token},
            endpoint="oauth2.token.refresh_token",
            refreshing=True,
        )
        return TokenGrant(
            shop_id=credentials.shop_id,
            access_token=body["access_token"],
            # Tiki issues a new refresh token with each refresh; keep the old one if it did not.
            refresh_token=body.get("refresh_token") or credentials.refresh_token,
            access_expires_at=self._expires(body),
            extra=dict(credentials.extra),
        )

    @staticmethod
    def _expires(body: Mapping[str, Any]) -> datetime.datetime | None:
        try:
            seconds = int(body.get("expires_in"))
        except (TypeError, ValueError):
            return None
        return datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)

    def _application_token(self, *, renew: bool = False) -> str:
        """The app's own token (client_credentials): Tiki's event queues belong to the app, not
        to a seller, and must be created and pulled with it (event-queue guide, public app)."""
        now = datetime.datetime.now(datetime.UTC)
        if not renew and self._app_token and self._app_token[1] > now:
            return self._app_token[0]
        body = self._token({"grant_type": "client_credentials"}, endpoint="oauth2.token.client_credentials")
        expires = self._expires(body) or now + datetime.timedelta(minutes=5)
        self._app_token = (body["access_token"], expires - datetime.timedelta(seconds=30))
        return body["access_token"]

    def _app_call(self, method: str, path: str, *, endpoint: str, **kwargs) -> Any:
        try:
            return self._call(
                method, path, token=self._application_token(), endpoint=endpoint, throttle_key="tiki:app", **kwargs
            )
        except TokenExpired:
            # Our own token, not the seller's: get a fresh one and try once more.
            return self._call(
                method,
                path,
                token=self._application_token(renew=True),
                endpoint=endpoint,
                throttle_key="tiki:app",
                **kwargs,
            )

    # -- Shop facts ---------------------------------------------------------------------------

    def _lookup_warehouse(self, credentials: ShopCredentials) -> str:
        """The seller's own warehouse whose quantity we set (GET /integration/v2/sellers/me/warehouses)."""
        body = self._shop_call(
            credentials,
            "GET",
            "/integration/v2/sellers/me/warehouses",
            endpoint="sellers.me.warehouses",
            params={"status": 1, "type": 1, "limit": 50, "page": 1},
        )
        rows = body.get("data", []) if isinstance(body, dict) else body or []
        if not rows:
            raise PermanentError(
                "The Tiki shop has no active warehouse: add one in Tiki Seller Center", code="no_warehouse"
            )
        primary = next((row for row in rows if row.get("is_primary")), rows[0])
        return str(primary["id"])

    def _warehouse_id(self, credentials: ShopCredentials) -> int:
        value = credentials.extra.get("warehouse_id") or self._lookup_warehouse(credentials)
        return int(value)

    # -- check() ------------------------------------------------------------------------------

    def check(self, payload: ListingPayload) -> list[str]:
        problems: list[str] = []
        count = len(payload.title.strip())
        if not TITLE_MIN <= count <= TITLE_MAX:
            problems.append(
                gettext("Product names on Tiki need %(min)d to %(max)d characters; this one has %(count)d.")
                % {"min": TITLE_MIN, "max": TITLE_MAX, "count": count}
            )
        if not payload.description.strip():
            problems.append(gettext("Tiki needs a product description."))
        if not payload.category_id:
            problems.append(gettext("Choose a Tiki category for this product."))
        elif not str(payload.category_id).isdigit():
            problems.append(
                gettext("The Tiki category id must be a number; “%(value)s” is not.") % {"value": payload.category_id}
            )
        if payload.price_vnd <= 0:
            problems.append(gettext("Tiki needs a price above 0 VND."))
        if payload.stock < 0:
            problems.append(gettext("The stock cannot be negative."))
        if payload.weight_grams <= 0:
            problems.append(gettext("Enter the packed weight: Tiki needs it to work out the shipping fee."))
        if min(payload.length_cm, payload.width_cm, payload.height_cm) <= 0:
            problems.append(
                gettext("Enter the packed length, width and height: Tiki needs them to work out the shipping fee.")
            )
        if not payload.images:
            problems.append(gettext("Tiki needs at least one product photo."))
        for image in payload.images:
            problems.extend(self._image_problems(image))
        return problems

    @staticmethod
    def _image_problems(image) -> list[str]:
        from PIL import Image, UnidentifiedImageError

        problems = []
        if not image.url.startswith(("https://", "http://")):
            problems.append(
                gettext("Photo %(name)s has no public address yet: Tiki fetches photos from their web address.")
                % {"name": image.name}
            )
        try:
            width, height = Image.open(io.BytesIO(image.content)).size
        except (UnidentifiedImageError, OSError):
            return [*problems, gettext("Photo %(name)s could not be read as an image.") % {"name": image.name}]
        if width < IMAGE_MIN_PX or height < IMAGE_MIN_PX:
            problems.append(
                gettext("Photo %(name)s is %(width)d×%(height)d pixels; Tiki needs at least %(min)d×%(min)d.")
                % {"name": image.name, "width": width, "height": height, "min": IMAGE_MIN_PX}
            )
        if abs(width - height) > SQUARE_TOLERANCE * max(width, height):
            problems.append(
                gettext("Photo %(name)s must be square (1:1) on Tiki; it is %(width)d×%(height)d pixels.")
                % {"name": image.name, "width": width, "height": height}
            )
        return problems

    # -- Listings -------------------------------------------------------------------------------

    def _attributes(self, payload: ListingPayload) -> dict[str, Any]:
        """Tiki's product attributes: packed weight in kg, packed dimensions in cm (§4 create body;
        attribute codes from Tiki's own examples and third-party clients, docs "Create body")."""
        attributes: dict[str, Any] = {
            "brand": payload.brand.strip() or "OEM",
            "origin": "Việt Nam",
            "bulky": 0,
            "product_weight_kg": float(Decimal(payload.weight_grams) / 1000),
            "product_length": float(payload.length_cm),
            "product_width": float(payload.width_cm),
            "product_height": float(payload.height_cm),
        }
        attributes.update({str(key): value for key, value in payload.attributes.items()})
        return attributes

    def _request_body(self, payload: ListingPayload, warehouse_id: int) -> dict[str, Any]:
        urls = [image.url for image in payload.images]
        return {
            "category_id": int(payload.category_id),
            "name": payload.title.strip(),
            "description": payload.description,
            "market_price": payload.price_vnd,
            "attributes": self._attributes(payload),
            "image": urls[0] if urls else "",
            "images": urls[1:],
            "option_attributes": [],
            "variants": [
                {
                    "sku": payload.sku,  # becomes the product's original_sku
                    "price": payload.price_vnd,
                    "market_price": payload.price_vnd,
                    "inventory_type": INVENTORY_TYPE,
                    "seller_warehouse": str(warehouse_id),
                    "warehouse_stocks": [{"warehouseId": warehouse_id, "qtyAvailable": payload.stock}],
                    "image": urls[0] if urls else "",
                }
            ],
            "certificate_files": [],
            # The connector activates the product itself after approval (docs "Activation").
            "meta_data": {"is_auto_turn_on": False},
        }

    def _listing_url(self, credentials: ShopCredentials, product_id: str) -> str:
        return self.config.get("PRODUCT_URL", "").format(shop_id=credentials.shop_id, item_id=product_id)

    def _product_listing(self, credentials: ShopCredentials, product_id: str, active: bool) -> RemoteListing:
        return RemoteListing(
            external_id=product_id,
            status=ListingStatus.LIVE if active else ListingStatus.WITHDRAWN,
            raw_status="active" if active else "inactive",
            url=self._listing_url(credentials, product_id),
            sku_id=product_id,
        )

    def _update_sku(self, credentials: ShopCredentials, body: dict[str, Any]) -> None:
        """PUT /integration/v2/products/updateSku: price, active, warehouse quantities; Tiki
        approves these at once (§4)."""
        self._shop_call(
            credentials, "PUT", "/integration/v2/products/updateSku", endpoint="products.updateSku", json_body=body
        )

    def create_listing(self, credentials: ShopCredentials, payload: ListingPayload) -> RemoteListing:
        body = self._shop_call(
            credentials,
            "POST",
            "/integration/v2.1/requests",
            endpoint="requests.create",
            json_body=self._request_body(payload, self._warehouse_id(credentials)),
        )
        track_id = str(body.get("track_id", ""))
        if not track_id:
            raise PermanentError("Tiki accepted the product request without a track id", code="no_track_id")
        state = str(body.get("state") or "queuing")
        return RemoteListing(external_id=TRACK_PREFIX + track_id, status=map_request_state(state), raw_status=state)

    def _resolve(self, credentials: ShopCredentials, external_id: str, *, activate: bool) -> RemoteListing:
        """Where a listing stands, whatever form its id is in. Resolving a request id to an
        approved, inactive product activates it when `activate` (Tiki creates approved products
        inactive; docs "Activation"); a bare product id is never activated here, so a product the
        seller or we switched off stays off."""
        if external_id.startswith(TRACK_PREFIX):
            track_id = external_id[len(TRACK_PREFIX) :]
            track = self._shop_call(credentials, "GET", f"/integration/v2/tracking/{track_id}", endpoint="tracking.get")
            state = str(track.get("state", ""))
            request_id = str(track.get("request_id") or "")
            if not request_id:
                return RemoteListing(
                    external_id=external_id,
                    status=map_request_state(state),
                    raw_status=state,
                    reason=_rejection_reason(track.get("reason")),
                )
            external_id = REQUEST_PREFIX + request_id
        if external_id.startswith(REQUEST_PREFIX):
            request_id = external_id[len(REQUEST_PREFIX) :]
            detail = self._shop_call(
                credentials, "GET", f"/integration/v2/requests/{request_id}", endpoint="requests.get"
            )
            state = str(detail.get("state", ""))
            products = detail.get("products") or []
            if state != "approved" or not products:
                return RemoteListing(
                    external_id=external_id,
                    status=map_request_state(state),
                    raw_status=state,
                    reason=_rejection_reason(detail.get("reasons")),
                )
            product = products[0]  # one request per SKU: one variant, one product
            product_id = str(product["product_id"])
            active = bool(int(product.get("active") or 0))
            if not active and activate:
                self._update_sku(credentials, {"product_id": int(product_id), "active": 1})
                active = True
            return self._product_listing(credentials, product_id, active)
        product = self._get_product(credentials, external_id)
        return self._product_listing(credentials, external_id, bool(int(product.get("active") or 0)))

    def _get_product(self, credentials: ShopCredentials, product_id: str) -> dict:
        body = self._shop_call(credentials, "GET", f"/integration/v2/products/{product_id}", endpoint="products.get")
        if isinstance(body, dict) and isinstance(body.get("data"), list):  # the v1 shape
            if not body["data"]:
                raise PermanentError(f"Tiki has no product {product_id}", code="404", http_status=404)
            return body["data"][0]
        return body

    def get_listing(self, credentials: ShopCredentials, external_id: str) -> RemoteListing:
        return self._resolve(credentials, external_id, activate=True)

    def _product_of(self, credentials: ShopCredentials, remote: RemoteListing, *, activate: bool) -> RemoteListing:
        """The product behind a listing, or an error saying why there is none yet."""
        current = self._resolve(credentials, remote.external_id, activate=activate)
        if current.external_id.startswith((TRACK_PREFIX, REQUEST_PREFIX)):
            if current.status == ListingStatus.IN_REVIEW:
                # Tiki is still reviewing: there is no product to change yet; try again later.
                raise TransientError("Tiki is still reviewing this product request", code="in_review", retry_after=600)
            raise PermanentError(
                f"Tiki has no product for this request ({current.raw_status}): {current.reason}".rstrip(": "),
                code=current.raw_status or "no_product",
            )
        return current

    def find_by_sku(self, credentials: ShopCredentials, sku: str) -> RemoteListing | None:
        """Products by original_sku (GET /integration/v2/products/findBy, the only lookup by SKU
        Tiki offers). A request still in review is not visible by SKU (docs "find_by_sku")."""
        body = self._shop_call(
            credentials,
            "GET",
            "/integration/v2/products/findBy",
            endpoint="products.findBy",
            params={"original_sku": sku},
        )
        rows = body.get("data", []) if isinstance(body, dict) else body or []
        rows = [row for row in rows if str(row.get("original_sku", sku)) == sku]
        if not rows:
            return None
        product = rows[0]
        product_id = str(product.get("product_id") or product.get("id"))
        if int(product.get("active") or 0):
            return self._product_listing(credentials, product_id, True)
        # Inactive: if it came from one of our recent requests it was approved and never
        # activated (a create whose answer was lost): hand back the request id, so that the next
        # get_listing/update activates it.
        request_id = self._request_of_product(credentials, product_id)
        if request_id:
            return RemoteListing(
                external_id=REQUEST_PREFIX + request_id,
                status=ListingStatus.WITHDRAWN,
                raw_status="approved",
                url=self._listing_url(credentials, product_id),
                sku_id=product_id,
            )
        return self._product_listing(credentials, product_id, False)

    def _request_of_product(self, credentials: ShopCredentials, product_id: str) -> str:
        for page in range(1, self.request_scan_pages + 1):
            body = self._shop_call(
                credentials,
                "GET",
                "/integration/v2/requests",
                endpoint="requests.list",
                params={"include": "products", "limit": 50, "page": page, "state": "approved"},
            )
            for request in body.get("data", []):
                if any(str(item.get("product_id")) == product_id for item in request.get("products") or []):
                    return str(request["request_id"])
            paging = body.get("paging") or {}
            if int(paging.get("current_page") or page) >= int(paging.get("last_page") or page):
                break
        return ""

    def update_listing(
        self, credentials: ShopCredentials, remote: RemoteListing, payload: ListingPayload
    ) -> RemoteListing:
        current = self._resolve(credentials, remote.external_id, activate=True)
        if current.status == ListingStatus.REJECTED:
            # A rejected request cannot be edited: Tiki wants a new request (§4).
            return self.create_listing(credentials, payload)
        if current.external_id.startswith((TRACK_PREFIX, REQUEST_PREFIX)):
            current = self._product_of(credentials, current, activate=True)
        product_id = int(current.external_id)
        # Description, attributes and photos change through an update request Tiki reviews; the
        # name cannot be changed through the API (docs "update_listing").
        urls = [image.url for image in payload.images]
        info: dict[str, Any] = {
            "product_id": product_id,
            "description": payload.description,
            "attributes": self._attributes(payload),
        }
        if urls:
            info["image"], info["images"] = urls[0], urls[1:]
        self._shop_call(
            credentials,
            "POST",
            "/integration/v2.1/requests/updateProductInfo",
            endpoint="requests.updateProductInfo",
            json_body=info,
        )
        self._set_offer(credentials, product_id, price_vnd=payload.price_vnd, stock=payload.stock)
        return self._resolve(credentials, str(product_id), activate=False)

    def _set_offer(self, credentials: ShopCredentials, product_id: int, *, price_vnd: int, stock: int) -> None:
        warehouse_id = self._warehouse_id(credentials)
        self._update_sku(
            credentials,
            {
                "product_id": product_id,
                "price": price_vnd,
                "seller_warehouse": str(warehouse_id),
                "warehouse_quantities": [{"warehouse_id": warehouse_id, "qty_available": stock}],
            },
        )

    def update_offer(self, credentials: ShopCredentials, remote: RemoteListing, *, price_vnd: int, stock: int) -> None:
        current = self._product_of(credentials, remote, activate=True)
        self._set_offer(credentials, int(current.external_id), price_vnd=price_vnd, stock=stock)

    def withdraw_listing(self, credentials: ShopCredentials, remote: RemoteListing) -> RemoteListing:
        current = self._resolve(credentials, remote.external_id, activate=False)
        if current.status == ListingStatus.REJECTED:
            return current  # never on sale
        if current.external_id.startswith(REQUEST_PREFIX) and current.status == ListingStatus.IN_REVIEW:
            # Still in review: delete the request so that it never becomes a product.
            request_id = current.external_id[len(REQUEST_PREFIX) :]
            self._shop_call(credentials, "DELETE", f"/integration/v2/requests/{request_id}", endpoint="requests.delete")
            return dataclasses.replace(current, status=ListingStatus.WITHDRAWN, raw_status="deleted")
        current = self._product_of(credentials, current, activate=False)
        self._update_sku(credentials, {"product_id": int(current.external_id), "active": 0})
        return self._product_listing(credentials, current.external_id, False)

    # -- Orders ---------------------------------------------------------------------------------

    def _page_size(self) -> int:
        return int(self.config.get("ORDER_PAGE_SIZE") or self.order_page_size)

    def fetch_orders(
        self,
        credentials: ShopCredentials,
        *,
        updated_from: datetime.datetime,
        updated_to: datetime.datetime,
        cursor: str | None = None,
    ) -> OrdersPage:
        """GET /integration/v2/orders filtered by updated_at (updated_from_date/updated_to_date,
        both inclusive, to the second): [from, to) is sent as [from, to − 1 µs] floored to the
        second, so an order on a window edge may come twice, never not at all."""
        page = int(cursor or 1)
        limit = self._page_size()
        body = self._shop_call(
            credentials,
            "GET",
            "/integration/v2/orders",
            endpoint="orders.list",
            params={
                "page": page,
                "limit": limit,
                "updated_from_date": tiki_time(updated_from),
                "updated_to_date": tiki_time(updated_to - datetime.timedelta(microseconds=1)),
                "order_by": "updated_at|asc",
            },
        )
        rows = body.get("data", []) if isinstance(body, dict) else []
        orders = []
        for row in rows:
            if "items" not in row:  # the list may leave items out: the detail has them
                row = self._order_detail(credentials, str(row["code"]))
            orders.append(self._order(row))
        paging = body.get("paging") or {}
        if paging:
            more = int(paging.get("current_page") or page) < int(paging.get("last_page") or 0)
        else:
            more = len(rows) >= limit
        return OrdersPage(orders=tuple(orders), next_cursor=str(page + 1) if more else None)

    def _order_detail(self, credentials: ShopCredentials, code: str) -> dict:
        return self._shop_call(credentials, "GET", f"/integration/v2/orders/{code}", endpoint="orders.get")

    def get_order(self, credentials: ShopCredentials, external_id: str) -> RemoteOrder:
        return self._order(self._order_detail(credentials, external_id))

    def _order(self, data: Mapping[str, Any]) -> RemoteOrder:
        lines = []
        for item in data.get("items") or []:
            product = item.get("product") or {}
            invoice = item.get("invoice") or {}
            lines.append(
                RemoteOrderLine(
                    external_line_id=str(item.get("id", "")),
                    # seller_product_code is the seller's own SKU (original_sku); Tiki's "sku"
                    # is its own code and only a last resort.
                    sku=str(
                        product.get("seller_product_code") or product.get("original_sku") or product.get("sku") or ""
                    ),
                    quantity=int(invoice.get("quantity") or item.get("qty") or 0),
                    unit_price_vnd=whole_vnd(invoice.get("price", item.get("price"))),
                    name=str(product.get("name", "")),
                )
            )
        invoice = data.get("invoice") or {}
        total = (
            whole_vnd(invoice["subtotal"])
            if invoice.get("subtotal") is not None
            else sum(line.unit_price_vnd * line.quantity for line in lines)
        )
        raw = str(data.get("status", ""))
        created = parse_tiki_time(data.get("created_at")) or datetime.datetime.now(datetime.UTC)
        return RemoteOrder(
            external_id=str(data.get("code", "")),
            status=map_order_status(raw),
            raw_status=raw,
            created_at=created,
            updated_at=parse_tiki_time(data.get("updated_at")),
            total_vnd=total,
            lines=tuple(lines),
        )

    # -- Inbound: the event queue -----------------------------------------------------------------

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str], url: str) -> None:
        raise WebhookRejected(
            "Tiki does not push notifications: they are pulled from its event queue",
            code="tiki_no_push",
        )

    def parse_webhook(self, body: bytes) -> list[WebhookEvent]:
        """Messages of Tiki's event queue: a pull answer {"events": [...], "ack_id"}, a list of
        events, or one event {"id", "sid", "created_at" (ms), "type", "version", "payload"}."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise WebhookRejected("Not a Tiki event message (not JSON)", code="not_json") from error
        if isinstance(data, dict) and "events" in data:
            messages = data["events"] or []
        elif isinstance(data, list):
            messages = data
        elif isinstance(data, dict):
            messages = [data]
        else:
            raise WebhookRejected("Not a Tiki event message", code="not_event")
        return [self._event(message) for message in messages if isinstance(message, dict)]

    @staticmethod
    def _event(
        message: Mapping[str, Any], *, shop_id: str = "", extra: Mapping[str, Any] | None = None
    ) -> WebhookEvent:
        payload = message.get("payload") or {}
        event_type = str(message.get("type", ""))
        order_code = str(payload.get("order_code") or payload.get("orderCode") or "")
        status = str(payload.get("status") or "")
        occurred = None
        if message.get("created_at") is not None:
            try:
                occurred = datetime.datetime.fromtimestamp(int(message["created_at"]) / 1000, datetime.UTC)
            except (TypeError, ValueError, OverflowError):
                occurred = parse_tiki_time(message["created_at"])
        # The queue's own event id is unique; without one, the facts that make the event.
        event_id = str(message.get("id") or "") or ":".join(
            [str(message.get("sid", "")), event_type, order_code, status, str(message.get("created_at", ""))]
        )
        if event_type.startswith("ORDER_"):
            kind = "order"
        elif event_type.startswith("PRODUCT_"):
            kind = "listing"
        else:
            kind = "other"
        return WebhookEvent(
            event_id=event_id,
            kind=kind,
            shop_id=shop_id,
            order_id=order_code,
            item_id=str(payload.get("product_id") or ""),
            status=status,
            occurred_at=occurred,
            raw={**message, **(extra or {})},
        )

    def _queue_name(self, shop_id: str) -> str:
        return f"ocop-connect-{shop_id}"

    def _setup_queue(self, credentials: ShopCredentials) -> str:
        """Find or create this shop's queue (app token) and subscribe the shop's order events to
        it (seller token), as Tiki's public-app guide says. Idempotent: safe to run again."""
        name = self._queue_name(credentials.shop_id)
        queues = self._app_call("GET", "/integration/v1/queues", endpoint="queues.list")
        rows = queues.get("data", []) if isinstance(queues, dict) else queues or []
        queue = next((row for row in rows if row.get("name") == name), None)
        if queue is None:
            queue = self._app_call("POST", "/integration/v1/queues", endpoint="queues.create", json_body={"name": name})
        code = str(queue["code"])
        subscriptions = self._app_call(
            "GET", f"/integration/v1/queues/{code}/subscriptions", endpoint="queues.subscriptions.list"
        )
        rows = subscriptions.get("data", []) if isinstance(subscriptions, dict) else subscriptions or []
        present = {row.get("event_type") for row in rows if row.get("active", True)}
        for event_type in ORDER_EVENT_TYPES:
            if event_type not in present:
                self._shop_call(
                    credentials,
                    "POST",
                    f"/integration/v1/queues/{code}/subscriptions",
                    endpoint="queues.subscriptions.create",
                    json_body={"event_type": event_type},
                )
        return code

    def _queue_code(self, credentials: ShopCredentials) -> str:
        # Stored at exchange time; found again by name (or made) when it was not.
        return credentials.extra.get("queue_code") or self._setup_queue(credentials)

    def _pull(self, code: str, ack_id: str | None) -> dict:
        body = self._app_call(
            "POST",
            f"/integration/v1/queues/{code}/events/pull",
            endpoint="queues.events.pull",
            json_body={"ack_id": ack_id},
        )
        return body if isinstance(body, dict) else {}

    def pull_events(self, credentials: ShopCredentials) -> list[WebhookEvent]:
        """One batch from the shop's queue. Each event's raw carries the batch's ack_id and the
        queue code, which `ack_events` needs; until acked, Tiki delivers the batch again."""
        code = self._queue_code(credentials)
        body = self._pull(code, None)
        ack_id = body.get("ack_id") or ""
        return [
            self._event(message, shop_id=credentials.shop_id, extra={"ack_id": ack_id, "queue_code": code})
            for message in body.get("events") or []
            if isinstance(message, dict)
        ]

    def ack_events(self, credentials: ShopCredentials, events: list[WebhookEvent]) -> None:
        """Acknowledge whole batches: Tiki acks by the ack_id of a pull, sent with the next pull
        (docs "Event queue"). The events that pull returns stay unacknowledged and are delivered
        again by the next `pull_events`."""
        batches: dict[str, str] = {}
        for event in events:
            ack_id = str(event.raw.get("ack_id") or "")
            if ack_id:
                batches.setdefault(ack_id, str(event.raw.get("queue_code") or ""))
        for ack_id, code in batches.items():
            self._pull(code or self._queue_code(credentials), ack_id)
