"""The one interface every marketplace connector implements.

Connectors do HTTP and translation only: no ORM, no Celery, no settings lookups of their own
(the sync engine hands them their configuration and a Transport). Every call has a timeout.
Failures are raised as one of two kinds, carrying the marketplace's own code and message:

- TransientError: try again later (timeouts, connection errors, 429, 5xx, "system busy").
  `retry_after` says how long the marketplace asked us to wait, when it said so.
- PermanentError: retrying will not help (validation, a rejected item, a revoked shop).
  TokenExpired is a special case the engine handles by refreshing the token once.

Statuses are translated into our canonical ListingStatus / OrderStatus; the marketplace's raw
status and reason travel alongside so that people can see exactly what the marketplace said.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

import requests

# --- Canonical states ---------------------------------------------------------------------------


class ListingStatus(StrEnum):
    IN_REVIEW = "in_review"
    LIVE = "live"
    REJECTED = "rejected"
    BANNED = "banned"
    WITHDRAWN = "withdrawn"  # unlisted / deactivated / deleted by the seller


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    RETURNED = "returned"


# --- Errors ---------------------------------------------------------------------------------------


class ConnectorError(Exception):
    def __init__(self, message: str, *, code: str = "", http_status: int | None = None, request_id: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


class TransientError(ConnectorError):
    def __init__(self, *args, retry_after: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class RateLimited(TransientError):
    pass


class PermanentError(ConnectorError):
    pass


class TokenExpired(PermanentError):
    """The access token is no longer accepted; refresh it and try once more."""


class AuthorizationRevoked(PermanentError):
    """The shop withdrew our access (or the refresh token expired): it must connect again."""


class WebhookRejected(PermanentError):
    """A webhook whose signature or timestamp does not check out."""


# --- Data crossing the boundary -------------------------------------------------------------------


@dataclass(frozen=True)
class ShopCredentials:
    shop_id: str
    access_token: str
    refresh_token: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)  # e.g. TikTok shop_cipher, Lazada seller_id


@dataclass(frozen=True)
class TokenGrant:
    shop_id: str
    access_token: str
    refresh_token: str = ""
    shop_name: str = ""
    access_expires_at: datetime.datetime | None = None
    refresh_expires_at: datetime.datetime | None = None
    authorization_expires_at: datetime.datetime | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageFile:
    name: str
    content: bytes  # a JPEG no larger than every channel accepts (see marketplace_sync.payloads)
    url: str = ""  # where the public site serves it, for channels that fetch images by URL


@dataclass(frozen=True)
class ListingPayload:
    """A product as a marketplace needs it. Units are ours (grams, cm, whole VND); each
    connector converts them (Shopee wants kg, Lazada kg with 2 decimals…)."""

    sku: str
    title: str
    description: str
    category_id: str
    price_vnd: int
    stock: int
    weight_grams: int
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal
    images: tuple[ImageFile, ...]
    brand: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteListing:
    external_id: str
    status: ListingStatus
    raw_status: str = ""
    reason: str = ""
    url: str = ""
    sku_id: str = ""  # the marketplace's id of our SKU (needed by some price/stock calls)


@dataclass(frozen=True)
class RemoteOrderLine:
    external_line_id: str
    sku: str
    quantity: int
    unit_price_vnd: int
    name: str = ""


@dataclass(frozen=True)
class RemoteOrder:
    external_id: str
    status: OrderStatus
    raw_status: str
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    total_vnd: int
    lines: tuple[RemoteOrderLine, ...]


@dataclass(frozen=True)
class OrdersPage:
    orders: tuple[RemoteOrder, ...]
    next_cursor: str | None  # None: no more pages


@dataclass(frozen=True)
class WebhookEvent:
    """What a webhook (or a pulled event) says, reduced to what the engine acts on."""

    event_id: str  # unique per source; the engine stores each id once
    kind: str  # "order", "listing", "authorization" or "other"
    shop_id: str = ""
    order_id: str = ""
    item_id: str = ""
    status: str = ""  # raw status as the marketplace wrote it
    occurred_at: datetime.datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


# --- HTTP -------------------------------------------------------------------------------------------


@dataclass
class CallRecord:
    """One HTTP call, for the append-only log (SyncAttempt)."""

    method: str
    endpoint: str
    status_code: int | None = None
    duration_ms: int = 0
    request_id: str = ""
    error_code: str = ""
    error_message: str = ""


def _no_op(*args, **kwargs) -> None:
    return None


@dataclass
class Transport:
    """What a connector needs from its surroundings: an HTTP session, timeouts, a place to log
    each call, and a throttle that blocks until the shop may send another request."""

    session: requests.Session = field(default_factory=requests.Session)
    timeout: tuple[float, float] = (3.05, 15.0)  # connect, read (seconds)
    record: Callable[[CallRecord], None] = _no_op
    throttle: Callable[[str], None] = _no_op  # called with a key per shop before each request


@dataclass
class Response:
    status_code: int
    headers: Mapping[str, str]
    body: Any  # parsed JSON, or the text when the body is not JSON
    record: CallRecord


_QUERY_STRING = re.compile(r"\?[^\s'\"]*")


def _without_query(message: str) -> str:
    """Exception texts of `requests` contain the URL with its query string, which for some
    marketplaces carries the app secret or a token: never let that reach the call log."""
    return _QUERY_STRING.sub("?…", message)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


class Connector(ABC):
    """Base class. Subclasses implement the marketplace; `_send` does the HTTP part for all."""

    channel: ClassVar[str] = ""

    def __init__(self, config: Mapping[str, Any], transport: Transport | None = None):
        self.config = config
        self.transport = transport or Transport()

    # -- HTTP

    def _send(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        throttle_key: str = "",
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        body: bytes | None = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request and record it. Connection problems and timeouts become
        TransientError; reading the marketplace's answer is the subclass's job (`_describe`)."""
        if throttle_key:
            self.transport.throttle(throttle_key)
        record = CallRecord(method=method, endpoint=endpoint)
        started = time.monotonic()
        try:
            raw = self.transport.session.request(
                method,
                url,
                params=params,
                data=body if body is not None else data,
                files=files,
                headers=headers,
                timeout=self.transport.timeout,
            )
        except requests.Timeout as error:
            record.duration_ms = int((time.monotonic() - started) * 1000)
            record.error_code, record.error_message = "timeout", _without_query(str(error))
            self.transport.record(record)
            raise TransientError(f"{self.channel} did not answer in time ({endpoint})", code="timeout") from error
        except requests.RequestException as error:
            record.duration_ms = int((time.monotonic() - started) * 1000)
            record.error_code, record.error_message = "connection", _without_query(str(error))
            self.transport.record(record)
            raise TransientError(f"{self.channel} could not be reached ({endpoint})", code="connection") from error
        record.duration_ms = int((time.monotonic() - started) * 1000)
        record.status_code = raw.status_code
        try:
            parsed = raw.json()
        except ValueError:
            parsed = raw.text
        response = Response(raw.status_code, raw.headers, parsed, record)
        record.request_id, record.error_code, record.error_message = self._describe(response)
        self.transport.record(record)
        return response

    def _describe(self, response: Response) -> tuple[str, str, str]:
        """(request id, error code, error message) of a response; "" when none."""
        return "", "", ""

    @staticmethod
    def dumps(payload: Any) -> bytes:
        """JSON as sent: serialised once, so that what is signed is exactly what is sent."""
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    # -- Authorisation

    @abstractmethod
    def authorization_url(self, *, redirect_uri: str, state: str) -> str: ...

    @abstractmethod
    def exchange_code(self, *, query: Mapping[str, str], redirect_uri: str) -> TokenGrant:
        """Turn the marketplace's redirect back to us (its query string) into tokens."""
        ...

    @abstractmethod
    def refresh(self, credentials: ShopCredentials) -> TokenGrant: ...

    # -- Listings

    @abstractmethod
    def check(self, payload: ListingPayload) -> list[str]:
        """What, in this channel's rules, stops this product from being listed: Vietnamese
        sentences for the member, [] when nothing does. Called before anything is sent."""
        ...

    @abstractmethod
    def find_by_sku(self, credentials: ShopCredentials, sku: str) -> RemoteListing | None:
        """The item already on the marketplace under our SKU, if any: a create whose answer was
        lost (timeout) must adopt the item, not make a second one."""
        ...

    @abstractmethod
    def create_listing(self, credentials: ShopCredentials, payload: ListingPayload) -> RemoteListing: ...

    @abstractmethod
    def update_listing(
        self, credentials: ShopCredentials, remote: RemoteListing, payload: ListingPayload
    ) -> RemoteListing: ...

    @abstractmethod
    def update_offer(
        self, credentials: ShopCredentials, remote: RemoteListing, *, price_vnd: int, stock: int
    ) -> None: ...

    @abstractmethod
    def withdraw_listing(self, credentials: ShopCredentials, remote: RemoteListing) -> RemoteListing: ...

    @abstractmethod
    def get_listing(self, credentials: ShopCredentials, external_id: str) -> RemoteListing: ...

    # -- Orders

    @abstractmethod
    def fetch_orders(
        self,
        credentials: ShopCredentials,
        *,
        updated_from: datetime.datetime,
        updated_to: datetime.datetime,
        cursor: str | None = None,
    ) -> OrdersPage:
        """One page of orders updated in [updated_from, updated_to). The engine walks pages and
        windows (Shopee allows at most 15 days per call)."""
        ...

    max_order_window: ClassVar[datetime.timedelta | None] = None

    @abstractmethod
    def get_order(self, credentials: ShopCredentials, external_id: str) -> RemoteOrder: ...

    # -- Inbound

    @abstractmethod
    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str], url: str) -> None:
        """Raise WebhookRejected unless the raw body is signed by the marketplace."""
        ...

    @abstractmethod
    def parse_webhook(self, body: bytes) -> list[WebhookEvent]: ...

    def pull_events(self, credentials: ShopCredentials) -> list[WebhookEvent]:
        """For marketplaces without webhooks (Tiki's event queue). Most return []."""
        return []

    def ack_events(self, credentials: ShopCredentials, events: list[WebhookEvent]) -> None:
        return None
