"""What every marketplace sandbox shares: a small WSGI framework, a persistent store, fault
injection, a per-shop rate limit, OAuth-style codes and tokens, review of new items, orders and
signed webhooks.

A sandbox is an independent implementation of one marketplace's public API: it imports nothing
from the connectors, so a misreading of the marketplace's documentation in a connector is caught
by the sandbox rather than copied into it. Each marketplace module (shopee.py, lazada.py…)
subclasses `Sandbox`, declares its routes, and answers with that API's real envelopes and error
codes. The control API under `/_sandbox/` (faults, orders, review, stats) is ours.

Run them with `manage.py run_sandbox` (all four, on settings.SANDBOX_PORTS) or in-process in
tests with `SandboxServer`.
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import json
import logging
import random
import re
import secrets
import sqlite3
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import requests

logger = logging.getLogger(__name__)

HTTP_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


# --- Requests and replies --------------------------------------------------------------------------


@dataclass
class UploadedPart:
    name: str
    filename: str
    content_type: str
    content: bytes


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    query_list: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, list[UploadedPart]] = field(default_factory=dict)
    url: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode() or "null")

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Sleep this long *after* the work is done and before answering: a client with a shorter
    # timeout sees a timeout although the marketplace did the work ("was it created?").
    delay_after: float = 0.0


def json_reply(payload: Any, status: int = 200, headers: dict | None = None) -> Reply:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Reply(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def html_reply(markup: str, status: int = 200) -> Reply:
    return Reply(status, markup.encode(), {"Content-Type": "text/html; charset=utf-8"})


def redirect(location: str) -> Reply:
    return Reply(302, b"", {"Location": location})


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, list[UploadedPart]]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    form, files = {}, defaultdict(list)
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            files[name].append(UploadedPart(name, filename, part.get_content_type(), payload))
        else:
            form[name] = payload.decode()
    return form, dict(files)


def parse_request(environ) -> Request:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    query_list = urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    content_type = environ.get("CONTENT_TYPE", "")
    headers["content-type"] = content_type
    request = Request(
        method=environ["REQUEST_METHOD"],
        path=environ.get("PATH_INFO", "/"),
        query=dict(query_list),
        query_list=query_list,
        headers=headers,
        body=body,
        url=f"http://{environ.get('HTTP_HOST', '')}{environ.get('PATH_INFO', '/')}",
    )
    if content_type.startswith("application/x-www-form-urlencoded"):
        request.form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    elif content_type.startswith("multipart/form-data"):
        request.form, request.files = _parse_multipart(content_type, body)
    return request


# --- State -------------------------------------------------------------------------------------------


class Store:
    """JSON documents in SQLite, so a sandbox keeps its shops, items and orders across restarts
    (the demo) and threads share one consistent state. `path=None` keeps it in memory (tests)."""

    def __init__(self, path: Path | None):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._db.executescript(
            "PRAGMA journal_mode=WAL;"
            "CREATE TABLE IF NOT EXISTS docs (kind TEXT, key TEXT, shop TEXT, data TEXT, created REAL,"
            " PRIMARY KEY (kind, key));"
            "CREATE INDEX IF NOT EXISTS docs_shop ON docs (kind, shop);"
            "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER);"
        )

    def get(self, kind: str, key: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM docs WHERE kind = ? AND key = ?", (kind, str(key))).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, key: str, data: dict, *, shop: str = "") -> dict:
        with self._lock:
            self._db.execute(
                "INSERT INTO docs (kind, key, shop, data, created) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, shop = excluded.shop",
                (kind, str(key), str(shop), json.dumps(data, ensure_ascii=False), time.time()),
            )
        return data

    def delete(self, kind: str, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM docs WHERE kind = ? AND key = ?", (kind, str(key)))

    def all(self, kind: str, *, shop: str | None = None) -> list[dict]:
        with self._lock:
            if shop is None:
                rows = self._db.execute("SELECT data FROM docs WHERE kind = ? ORDER BY created", (kind,)).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT data FROM docs WHERE kind = ? AND shop = ? ORDER BY created", (kind, str(shop))
                ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def next_id(self, name: str, start: int = 1) -> int:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO counters VALUES (?, ?)", (name, start - 1))
            self._db.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (name,))
            return self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]

    def clear(self) -> None:
        with self._lock:
            self._db.executescript("DELETE FROM docs; DELETE FROM counters;")


@dataclass
class Faults:
    """What can go wrong, on request (POST /_sandbox/faults with any of these fields)."""

    error_rate: float = 0.0  # share of API calls answered with the marketplace's 5xx/"busy" error
    latency_ms: int = 0  # added to every API call
    timeout_after_create_s: float = 0.0  # after creating an item, wait this long before answering
    timeout_after_create_count: int = 0  # …for this many creates (0 = every create while set)
    drop_webhook_rate: float = 0.0
    duplicate_webhook_rate: float = 0.0
    reverse_webhooks: bool = False  # deliver each batch of webhooks newest first
    requests_per_second: float | None = None  # per shop; None = the sandbox's default
    seed: int | None = None


@dataclass
class Stats:
    requests: int = 0
    throttled: int = 0
    injected_errors: int = 0
    items_created: int = 0
    webhooks_sent: int = 0
    webhooks_dropped: int = 0
    # the highest number of requests one shop got accepted within any one second
    peak_per_second: dict[str, int] = field(default_factory=dict)


class RateLimiter:
    """At most `rate` requests per shop in any one-second window; the rest get the API's 429."""

    def __init__(self):
        self._seen: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str, rate: float, stats: Stats) -> bool:
        now = time.monotonic()
        with self._lock:
            window = self._seen[key]
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= rate:
                return False
            window.append(now)
            stats.peak_per_second[key] = max(stats.peak_per_second.get(key, 0), len(window))
            return True


Handler = Callable[..., Reply]


class SandboxError(Exception):
    """A control request this sandbox cannot serve."""


class Sandbox:
    """Base WSGI application of one marketplace's sandbox."""

    name = ""  # channel code: shopee, lazada, tiktok_shop, tiki
    title = ""  # shown on the authorisation page
    default_requests_per_second = 10.0
    code_ttl = 600  # seconds an authorisation code stays valid

    def __init__(
        self,
        *,
        credentials: dict[str, str],
        store_path: Path | None = None,
        webhook_url: str = "",
        review_seconds: float = 3.0,
    ):
        self.credentials = credentials
        self.store = Store(store_path)
        self.webhook_url = webhook_url
        self.review_seconds = review_seconds
        self.faults = Faults()
        self.stats = Stats()
        self.limiter = RateLimiter()
        self.random = random.Random()
        self._created_with_timeout = 0
        self._routes = [(method, re.compile(f"^{pattern}$"), handler) for method, pattern, handler in self.routes()]

    # -- for subclasses

    def routes(self) -> list[tuple[str, str, Handler]]:
        """(method, path regex, handler); named groups become keyword arguments."""
        return []

    def shop_of(self, request: Request) -> str | None:
        """The shop a request acts for, once authenticated, for rate limiting (None: not limited)."""
        return None

    def error_reply(self, kind: str, request: Request) -> Reply:
        """The marketplace's own answer for `kind` in ("rate_limited", "server_error", "not_found")."""
        status = {"rate_limited": 429, "server_error": 500, "not_found": 404}[kind]
        return json_reply({"error": kind}, status)

    def create_order(self, shop_id: str, lines: list[dict], status: str) -> dict:
        """Make an order for the control API; return it (with "id")."""
        raise SandboxError(f"{self.name} sandbox cannot create orders")

    def set_order_status(self, order_id: str, status: str) -> dict:
        raise SandboxError(f"{self.name} sandbox cannot change orders")

    def order_webhooks(self, order: dict) -> list[tuple[bytes, dict[str, str]]]:
        """Signed webhook deliveries (body, headers) announcing the order's current status."""
        return []

    def review_outcome(self, item: dict) -> tuple[bool, str]:
        """(approved, reason) when an item's review ends. Subclasses apply the marketplace's rules."""
        return True, ""

    # -- WSGI

    def __call__(self, environ, start_response):
        try:
            request = parse_request(environ)
            reply = self.handle(request)
        except Exception:  # a sandbox bug must answer 500, not kill the server thread
            logger.exception("%s sandbox failed", self.name)
            reply = json_reply({"error": "sandbox_internal_error"}, 500)
        if reply.delay_after:
            time.sleep(reply.delay_after)
        status_line = f"{reply.status} {HTTP_STATUS_TEXT.get(reply.status, 'Status')}"
        headers = [("Content-Length", str(len(reply.body))), *reply.headers.items()]
        start_response(status_line, headers)
        return [reply.body]

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/_sandbox/"):
            return self.control(request)
        self.stats.requests += 1
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match and method in (request.method, "*"):
                shop = self.shop_of(request)
                if shop is not None:
                    rate = self.faults.requests_per_second or self.default_requests_per_second
                    if not self.limiter.allow(f"{self.name}:{shop}", rate, self.stats):
                        self.stats.throttled += 1
                        return self.error_reply("rate_limited", request)
                if self.faults.error_rate and self.random.random() < self.faults.error_rate:
                    self.stats.injected_errors += 1
                    return self.error_reply("server_error", request)
                return handler(request, **match.groupdict())
        return self.error_reply("not_found", request)

    # -- the control API

    def control(self, request: Request) -> Reply:
        path = request.path[len("/_sandbox/") :].strip("/")
        data = request.json if request.body else {}
        if path == "health":
            return json_reply({"ok": True, "sandbox": self.name})
        if path == "faults" and request.method == "POST":
            self.faults = Faults(**{**asdict(Faults()), **data})
            self._created_with_timeout = 0
            if self.faults.seed is not None:
                self.random.seed(self.faults.seed)
            return json_reply(asdict(self.faults))
        if path == "reset" and request.method == "POST":
            self.store.clear()
            self.faults, self.stats, self.limiter = Faults(), Stats(), RateLimiter()
            return json_reply({"ok": True})
        if path == "stats":
            return json_reply(asdict(self.stats))
        if path == "items":
            self.finish_reviews()
            return json_reply({"items": self.store.all("item", shop=request.query.get("shop_id"))})
        match = re.fullmatch(r"product/(?P<item_id>[^/]+)", path)
        if match:
            return self.product_page(match["item_id"])
        if path == "webhook-url" and request.method == "POST":
            self.webhook_url = data["url"]
            return json_reply({"url": self.webhook_url})
        if path == "review" and request.method == "POST":
            return json_reply({"reviewed": self.finish_reviews(force=True, item_id=data.get("item_id"))})
        if path == "expire-token" and request.method == "POST":
            for token in self.store.all("access_token"):
                if str(token["shop_id"]) == str(data.get("shop_id")) or not data.get("shop_id"):
                    token["expires_at"] = time.time() - 1
                    self.store.put("access_token", token["token"], token, shop=token["shop_id"])
            return json_reply({"ok": True})
        if path == "orders" and request.method == "POST":
            order = self.create_order(str(data["shop_id"]), data["lines"], data.get("status", ""))
            self.deliver(self.order_webhooks(order))
            return json_reply(order, 201)
        match = re.fullmatch(r"orders/(?P<order_id>[^/]+)/status", path)
        if match and request.method == "POST":
            order = self.set_order_status(match["order_id"], data["status"])
            self.deliver(self.order_webhooks(order))
            return json_reply(order)
        return json_reply({"error": "unknown sandbox control"}, 404)

    def product_page(self, item_id: str) -> Reply:
        """What a buyer would see: the listing's public page (the "marketplace link")."""
        self.finish_reviews()
        item = self.store.get("item", item_id)
        if item is None:
            return html_reply("<!doctype html><meta charset=utf-8><p>Không tìm thấy sản phẩm.</p>", 404)
        facts = "".join(
            f"<dt>{html.escape(str(key))}</dt><dd>{html.escape(str(value))}</dd>"
            for key, value in item.items()
            if isinstance(value, str | int | float) and not str(key).startswith("_")
        )
        return html_reply(
            f"<!doctype html><html lang=vi><meta charset=utf-8><title>{html.escape(self.title)} sandbox</title>"
            "<body style='font-family:system-ui;max-width:40rem;margin:2rem auto;padding:0 1rem'>"
            f"<p style='color:#a15c00'><strong>SANDBOX</strong> — {html.escape(self.title)}</p><dl>{facts}</dl>"
        )

    # -- authorisation helpers

    def authorization_page(self, request: Request, *, redirect_to: Callable[[str, str], str]) -> Reply:
        """The marketplace's consent screen. GET shows it; POST (the seller agrees) creates the
        shop if needed and redirects back with a one-time code. `redirect_to(shop_id, code)`
        builds the marketplace-specific redirect URL."""
        if request.method == "POST":
            shop_name = request.form.get("shop_name", "").strip() or "Cửa hàng sandbox"
            shop = self.shop_by_name(shop_name)
            code = secrets.token_hex(16)
            self.store.put(
                "auth_code", code, {"code": code, "shop_id": shop["shop_id"], "expires_at": time.time() + self.code_ttl}
            )
            return redirect(redirect_to(shop["shop_id"], code))
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in request.query.items()
        )
        return html_reply(
            "<!doctype html><html lang=vi><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<title>{html.escape(self.title)} (sandbox)</title>"
            "<body style='font-family:system-ui;max-width:28rem;margin:2rem auto;padding:0 1rem'>"
            f"<p style='color:#a15c00'><strong>SANDBOX</strong> — {html.escape(self.title)} giả lập trên máy này.</p>"
            f"<h1>Cấp quyền cho OCOP Connect</h1><p>Ứng dụng muốn quản lý sản phẩm và đơn hàng của cửa hàng "
            f"{html.escape(self.title)} của bạn.</p>"
            f"<form method=post>{hidden}<label>Tên cửa hàng<br><input name=shop_name value='Cửa hàng sandbox' "
            "style='width:100%;padding:.5rem'></label><p><button style='padding:.7rem 1.2rem'>Đồng ý cấp quyền</button>"
            "</p></form></body></html>"
        )

    def shop_by_name(self, shop_name: str) -> dict:
        for shop in self.store.all("shop"):
            if shop["name"] == shop_name:
                return shop
        shop_id = str(self.store.next_id("shop", start=100001))
        return self.store.put("shop", shop_id, {"shop_id": shop_id, "name": shop_name}, shop=shop_id)

    def redeem_code(self, code: str) -> dict | None:
        """The code's record, once; None when unknown, used or expired."""
        record = self.store.get("auth_code", code)
        if record is None or record.get("used") or record["expires_at"] < time.time():
            return None
        record["used"] = True
        self.store.put("auth_code", code, record)
        return record

    def issue_tokens(self, shop_id: str, *, access_ttl: float, refresh_ttl: float, extra: dict | None = None) -> dict:
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        now = time.time()
        self.store.put(
            "access_token",
            access,
            {"token": access, "shop_id": shop_id, "expires_at": now + access_ttl, **(extra or {})},
            shop=shop_id,
        )
        self.store.put(
            "refresh_token",
            refresh,
            {"token": refresh, "shop_id": shop_id, "expires_at": now + refresh_ttl, **(extra or {})},
            shop=shop_id,
        )
        return {"access_token": access, "refresh_token": refresh, "access_expires_at": now + access_ttl,
                "refresh_expires_at": now + refresh_ttl}  # fmt: skip

    def access_token_state(self, token: str) -> tuple[str, dict | None]:
        """("ok" | "expired" | "invalid", record)."""
        record = self.store.get("access_token", token) if token else None
        if record is None:
            return "invalid", None
        if record["expires_at"] < time.time():
            return "expired", record
        return "ok", record

    def use_refresh_token(self, token: str, *, single_use: bool) -> dict | None:
        record = self.store.get("refresh_token", token) if token else None
        if record is None or record.get("used") or record["expires_at"] < time.time():
            return None
        if single_use:
            record["used"] = True
            self.store.put("refresh_token", token, record, shop=record["shop_id"])
        return record

    # -- items and review

    def save_item(self, item: dict) -> dict:
        return self.store.put("item", item["item_id"], item, shop=item["shop_id"])

    def new_item_review(self, item: dict) -> dict:
        """A new item enters review; it ends `review_seconds` later (or at POST /_sandbox/review)."""
        item["review_ends_at"] = time.time() + self.review_seconds
        item["review_state"] = "reviewing"
        self.stats.items_created += 1
        return item

    def finish_reviews(self, *, force: bool = False, item_id: str | None = None) -> int:
        """End the reviews that are due; called on every read of an item, like a marketplace
        whose review ran while nobody was looking."""
        done = 0
        for item in self.store.all("item"):
            if item.get("review_state") != "reviewing":
                continue
            if item_id and str(item["item_id"]) != str(item_id):
                continue
            if force or item["review_ends_at"] <= time.time():
                approved, reason = self.review_outcome(item)
                item["review_state"] = "approved" if approved else "rejected"
                item["review_reason"] = reason
                self.on_review_finished(item)
                self.save_item(item)
                done += 1
        return done

    def on_review_finished(self, item: dict) -> None:
        """Subclasses set the marketplace-specific status fields here."""

    def timeout_reply_delay(self) -> float:
        """How long to stall after a create, per the faults in force."""
        faults = self.faults
        if not faults.timeout_after_create_s:
            return 0.0
        if faults.timeout_after_create_count and self._created_with_timeout >= faults.timeout_after_create_count:
            return 0.0
        self._created_with_timeout += 1
        return faults.timeout_after_create_s

    # -- webhooks

    def deliver(self, deliveries: list[tuple[bytes, dict[str, str]]]) -> None:
        """POST each (body, headers) to the webhook URL in the background, with the faults in
        force: some dropped, some sent twice, or the batch sent newest first."""
        if not self.webhook_url or not deliveries:
            return
        batch = []
        for body, headers in deliveries:
            if self.random.random() < self.faults.drop_webhook_rate:
                self.stats.webhooks_dropped += 1
                continue
            batch.append((body, headers))
            if self.random.random() < self.faults.duplicate_webhook_rate:
                batch.append((body, headers))
        if self.faults.reverse_webhooks:
            batch.reverse()
        url = self.webhook_url

        def send():
            for body, headers in batch:
                try:
                    requests.post(url, data=body, headers=headers, timeout=5)
                    self.stats.webhooks_sent += 1
                except requests.RequestException:
                    logger.warning("%s sandbox: webhook to %s failed", self.name, url)

        threading.Thread(target=send, daemon=True, name=f"{self.name}-webhooks").start()


# --- Serving ---------------------------------------------------------------------------------------------


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        logger.debug("%s - %s", self.address_string(), format % args)


class SandboxServer:
    """Serve sandboxes on 127.0.0.1, each on its own port (0 = any free port), in threads."""

    def __init__(self, sandboxes: dict[str, Sandbox], *, host: str = "127.0.0.1", ports: dict[str, int] | None = None):
        self.sandboxes = sandboxes
        self.host = host
        self.servers = {
            name: make_server(
                host, (ports or {}).get(name, 0), app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
            )
            for name, app in sandboxes.items()
        }
        self.threads: list[threading.Thread] = []

    @property
    def ports(self) -> dict[str, int]:
        return {name: server.server_address[1] for name, server in self.servers.items()}

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.ports[name]}"

    def start(self) -> SandboxServer:
        for name, server in self.servers.items():
            thread = threading.Thread(target=server.serve_forever, daemon=True, name=f"sandbox-{name}")
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
