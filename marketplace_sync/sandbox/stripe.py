"""Stripe sandbox: the few endpoints of Stripe's API that the showcase calls, Checkout's hosted
payment page (a stand-in that pays, pays later or goes back), and webhooks signed with Stripe's
real scheme. Stripe's own mock cannot be installed on this machine (docs: stack.md §1).

What it keeps from Stripe, as documented:
- secret-key authentication (`Authorization: Bearer sk_…`), form-encoded bodies with bracketed
  keys (`metadata[checkout_id]=…`, `line_items[0][price_data][unit_amount]=…`), `expand[]`;
- idempotency keys: the same key with the same parameters replays the first answer
  (`Idempotent-Replayed: true`); with other parameters it is an `idempotency_error`;
- VND is zero-decimal; a charge must be worth at least about US$0.50 (`amount_too_small`) and fit
  in 8 digits (`amount_too_large`); `expires_at` between 30 minutes and 24 hours ahead;
- a session is `open`, then `complete` (`payment_status` `paid`, or `unpaid` for a delayed
  method until `checkout.session.async_payment_succeeded` / `_failed`) or `expired`; the payment
  intent exists only once the buyer pays; only an open session can be expired;
- session metadata is not copied to the payment intent: `payment_intent_data[metadata]` is, and
  the charge carries the payment intent's metadata;
- refunds (`POST /v1/refunds`, whole or partial) announce themselves with `charge.refunded`;
- `Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.body" with the endpoint secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import time
import urllib.parse

from .base import Reply, Request, Sandbox, html_reply, json_reply, redirect

API_VERSION = "2026-10-28.endive"
# Stripe's minimum is set in the settlement currency (US$0.50); at about 26,000 ₫ to the dollar.
MINIMUM_VND = 13_000
MAXIMUM_AMOUNT = 99_999_999  # "up to 8 digits"


def decode_form(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding back into nested dicts and lists:
    `a[b][0][c]=1` → {"a": {"b": [{"c": "1"}]}}; `expand[]=x` appends."""
    root: dict = {}
    for key, value in pairs:
        parts = [key.split("[", 1)[0], *re.findall(r"\[([^\]]*)\]", key)]
        node = root
        for position, part in enumerate(parts):
            last = position == len(parts) - 1
            following = parts[position + 1] if not last else None
            container = [] if following is not None and (following == "" or following.isdigit()) else {}
            if isinstance(node, list):
                index = len(node) if part == "" else int(part)
                while len(node) <= index:
                    node.append(None)
                if last:
                    node[index] = value
                else:
                    node[index] = node[index] if node[index] is not None else container
                    node = node[index]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, container)
    return root


def stripe_error(status: int, message: str, *, type_: str = "invalid_request_error", code: str = "", param: str = ""):
    error = {"type": type_, "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return json_reply({"error": error}, status, {"Request-Id": f"req_{secrets.token_hex(7)}"})


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _expand(request: Request) -> list[str]:
    """`expand[]=a&expand[]=b` (or `expand[0]=…`): what to return in full instead of as an id."""
    return [value for key, value in request.query_list if key.startswith("expand")]


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " ₫"


class StripeSandbox(Sandbox):
    name = "stripe"
    title = "Stripe"
    default_requests_per_second = 25.0  # Stripe's documented limit in test mode

    def routes(self):
        return [
            ("POST", r"/v1/checkout/sessions", self.session_create),
            ("GET", r"/v1/checkout/sessions/(?P<session_id>[\w]+)", self.session_get),
            ("POST", r"/v1/checkout/sessions/(?P<session_id>[\w]+)/expire", self.session_expire),
            ("GET", r"/v1/payment_intents/(?P<intent_id>[\w]+)", self.intent_get),
            ("POST", r"/v1/refunds", self.refund_create),
            ("*", r"/c/pay/(?P<session_id>[\w]+)", self.hosted_page),
        ]

    # -- the framework's hooks

    def shop_of(self, request: Request) -> str | None:
        return "platform" if request.path.startswith("/v1/") else None

    def error_reply(self, kind: str, request: Request) -> Reply:
        if kind == "rate_limited":
            return stripe_error(429, "Too many requests hit the API too quickly.", code="rate_limit")
        if kind == "server_error":
            return stripe_error(500, "An error occurred with our connection to Stripe.", type_="api_error")
        return stripe_error(404, f"Unrecognized request URL ({request.method}: {request.path}).")

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/v1/") and not self._authorised(request):
            return stripe_error(401, "Invalid API Key provided.")
        self.expire_due_sessions()
        return super().handle(request)

    def _authorised(self, request: Request) -> bool:
        auth = request.header("authorization")
        return hmac.compare_digest(auth, f"Bearer {self.credentials['SECRET_KEY']}")

    # -- idempotency

    def _idempotent(self, request: Request, create) -> Reply:
        key = request.header("idempotency-key")
        if not key:
            return create()
        fingerprint = hashlib.sha256(request.path.encode() + b"?" + request.body).hexdigest()
        seen = self.store.get("idempotency", key)
        if seen is not None:
            if seen["fingerprint"] != fingerprint:
                return stripe_error(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                    type_="idempotency_error",
                )
            return Reply(seen["status"], seen["body"].encode(), {**seen["headers"], "Idempotent-Replayed": "true"})
        reply = create()
        self.store.put(
            "idempotency",
            key,
            {"fingerprint": fingerprint, "status": reply.status, "body": reply.body.decode(), "headers": reply.headers},
        )
        return reply

    # -- checkout sessions

    def session_create(self, request: Request) -> Reply:
        return self._idempotent(request, lambda: self._session_create(request))

    def _session_create(self, request: Request) -> Reply:
        params = decode_form(urllib.parse.parse_qsl(request.body.decode(), keep_blank_values=True))
        if params.get("mode") != "payment":
            return stripe_error(400, "This sandbox only knows mode=payment.", param="mode")
        for required in ("success_url", "cancel_url"):
            if not params.get(required):
                return stripe_error(400, f"Missing required param: {required}.", param=required)
        line_items, currency, total = [], None, 0
        for index, item in enumerate(params.get("line_items") or []):
            price = item.get("price_data") or {}
            item_currency = (price.get("currency") or "").lower()
            if item_currency != price.get("currency"):
                return stripe_error(400, "Invalid currency: currency codes must be lowercase.", param="currency")
            if currency and item_currency != currency:
                return stripe_error(400, "All line items must use the same currency.")
            currency = item_currency
            try:
                unit_amount, quantity = int(price["unit_amount"]), int(item.get("quantity", 1))
            except (KeyError, ValueError):
                return stripe_error(400, "Invalid integer.", param=f"line_items[{index}][price_data][unit_amount]")
            name = (price.get("product_data") or {}).get("name", "")
            if not name:
                return stripe_error(400, "Missing required param: product_data[name].")
            line_items.append({"name": name, "unit_amount": unit_amount, "quantity": quantity})
            total += unit_amount * quantity
        if not line_items:
            return stripe_error(400, "Missing required param: line_items.", param="line_items")
        if currency == "vnd" and total < MINIMUM_VND:
            return stripe_error(
                400, "Amount must convert to at least 50 cents.", code="amount_too_small", param="amount"
            )
        if total > MAXIMUM_AMOUNT:
            return stripe_error(400, "Amount must be no more than 99,999,999.", code="amount_too_large")
        now = int(time.time())
        expires_at = int(params.get("expires_at") or now + 24 * 3600)
        if not now + 30 * 60 - 5 <= expires_at <= now + 24 * 3600 + 5:
            return stripe_error(
                400, "The `expires_at` timestamp must be between 30 minutes and 24 hours.", param="expires_at"
            )
        intent_data = params.get("payment_intent_data") or {}
        destination = (intent_data.get("transfer_data") or {}).get("destination", "")
        if destination and not destination.startswith("acct_"):
            return stripe_error(400, f"No such destination: '{destination}'", code="resource_missing")
        fee = intent_data.get("application_fee_amount")
        if fee is not None and not destination:
            return stripe_error(400, "Can only apply an application_fee_amount when the PaymentIntent is "
                                "attempting a direct payment (using an OAuth key or Stripe-Account header) or "
                                "destination payment (using `transfer_data[destination]`).")  # fmt: skip
        session_id = f"cs_test_{secrets.token_hex(12)}"
        base = f"http://{request.header('host')}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_subtotal": total,
            "amount_total": total,
            "currency": currency,
            "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"),
            "locale": params.get("locale") or "auto",
            "metadata": params.get("metadata") or {},
            "payment_intent": None,
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "expires_at": expires_at,
            "created": now,
            "livemode": False,
            "url": f"{base}/c/pay/{session_id}",
            "customer_details": None,
            "collected_information": None,
            "_line_items": line_items,
            "_intent_data": {
                "metadata": intent_data.get("metadata") or {},
                "destination": destination,
                "application_fee_amount": int(fee) if fee is not None else None,
            },
            "_shipping": bool(params.get("shipping_address_collection")),
        }
        self.store.put("session", session_id, session)
        return json_reply(self.public(session))

    @staticmethod
    def public(document: dict) -> dict:
        return {key: value for key, value in document.items() if not key.startswith("_")}

    def _expanded(self, session: dict, expand: list[str]) -> dict:
        result = self.public(session)
        if "payment_intent" in expand and session.get("payment_intent"):
            intent = self.store.get("intent", session["payment_intent"])
            result["payment_intent"] = self._intent(intent, expand=["latest_charge"] if
                                                    "payment_intent.latest_charge" in expand else [])  # fmt: skip
        return result

    def session_get(self, request: Request, session_id: str) -> Reply:
        session = self.store.get("session", session_id)
        if session is None:
            return stripe_error(404, f"No such checkout.session: '{session_id}'", code="resource_missing")
        return json_reply(self._expanded(session, _expand(request)))

    def session_expire(self, request: Request, session_id: str) -> Reply:
        session = self.store.get("session", session_id)
        if session is None:
            return stripe_error(404, f"No such checkout.session: '{session_id}'", code="resource_missing")
        if session["status"] != "open":
            return stripe_error(
                400,
                f"Only Checkout Sessions with a status of open can be expired. This session is {session['status']}.",
            )
        self._expire(session)
        return json_reply(self.public(session))

    def _expire(self, session: dict) -> None:
        session["status"] = "expired"
        self.store.put("session", session["id"], session)
        self.emit("checkout.session.expired", self.public(session))

    def expire_due_sessions(self) -> None:
        """Sessions past `expires_at` expire, as at Stripe, whenever anyone looks."""
        now = time.time()
        for session in self.store.all("session"):
            if session["status"] == "open" and session["expires_at"] <= now:
                self._expire(session)

    # -- paying

    def pay(self, session: dict, *, method: str = "card", buyer: dict | None = None) -> dict:
        """The buyer pays: by card (paid at once) or by a delayed method (complete but unpaid
        until `settle`)."""
        buyer = buyer or {}
        intent_id = f"pi_{secrets.token_hex(12)}"
        intent_data = session["_intent_data"]
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "currency": session["currency"],
            "status": "succeeded" if method == "card" else "processing",
            "metadata": intent_data["metadata"],
            "latest_charge": None,
            "application_fee_amount": intent_data["application_fee_amount"],
            "transfer_data": {"destination": intent_data["destination"]} if intent_data["destination"] else None,
            "created": int(time.time()),
        }
        if method == "card":
            intent["latest_charge"] = self._new_charge(intent)["id"]
        self.store.put("intent", intent_id, intent)
        session.update(
            status="complete",
            payment_status="paid" if method == "card" else "unpaid",
            payment_intent=intent_id,
            customer_details={
                "email": buyer.get("email") or session.get("customer_email"),
                "name": buyer.get("name", ""),
                "phone": buyer.get("phone", ""),
            },
        )
        if session["_shipping"]:
            session["collected_information"] = {
                "shipping_details": {
                    "name": buyer.get("name", ""),
                    "address": {"line1": buyer.get("address", ""), "country": "VN"},
                }
            }
        self.store.put("session", session["id"], session)
        self.emit("checkout.session.completed", self.public(session))
        return session

    def _new_charge(self, intent: dict) -> dict:
        charge = {
            "id": f"ch_{secrets.token_hex(12)}",
            "object": "charge",
            "amount": intent["amount"],
            "amount_refunded": 0,
            "currency": intent["currency"],
            "paid": True,
            "refunded": False,
            "payment_intent": intent["id"],
            "metadata": intent["metadata"],
            "refunds": {"object": "list", "data": []},
            "created": int(time.time()),
        }
        self.store.put("charge", charge["id"], charge)
        return charge

    def settle(self, session: dict, *, succeeded: bool) -> dict:
        """A delayed payment (bank transfer) arrives, or fails."""
        intent = self.store.get("intent", session["payment_intent"])
        if succeeded:
            intent["status"] = "succeeded"
            intent["latest_charge"] = self._new_charge(intent)["id"]
            session["payment_status"] = "paid"
        else:
            intent["status"] = "requires_payment_method"
        self.store.put("intent", intent["id"], intent)
        self.store.put("session", session["id"], session)
        kind = "succeeded" if succeeded else "failed"
        self.emit(f"checkout.session.async_payment_{kind}", self.public(session))
        return session

    # -- payment intents and refunds

    def _intent(self, intent: dict, *, expand: list[str]) -> dict:
        result = dict(intent)
        if "latest_charge" in expand and intent.get("latest_charge"):
            result["latest_charge"] = self.store.get("charge", intent["latest_charge"])
        return result

    def intent_get(self, request: Request, intent_id: str) -> Reply:
        intent = self.store.get("intent", intent_id)
        if intent is None:
            return stripe_error(404, f"No such payment_intent: '{intent_id}'", code="resource_missing")
        return json_reply(self._intent(intent, expand=_expand(request)))

    def refund_create(self, request: Request) -> Reply:
        return self._idempotent(request, lambda: self._refund_create(request))

    def _refund_create(self, request: Request) -> Reply:
        params = decode_form(urllib.parse.parse_qsl(request.body.decode(), keep_blank_values=True))
        intent = self.store.get("intent", params.get("payment_intent", ""))
        if intent is None:
            return stripe_error(
                404, f"No such payment_intent: '{params.get('payment_intent')}'", code="resource_missing"
            )
        charge = self.store.get("charge", intent.get("latest_charge") or "")
        if charge is None:
            return stripe_error(400, "This PaymentIntent does not have a successful charge to refund.")
        remaining = charge["amount"] - charge["amount_refunded"]
        amount = int(params.get("amount") or remaining)
        if remaining <= 0:
            return stripe_error(
                400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
            )
        if amount > remaining:
            return stripe_error(
                400, f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})"
            )
        refund = {
            "id": f"re_{secrets.token_hex(12)}",
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "payment_intent": intent["id"],
            "currency": charge["currency"],
            "reason": params.get("reason"),
            "metadata": params.get("metadata") or {},
            "status": "succeeded",
            "created": int(time.time()),
        }
        self.store.put("refund", refund["id"], refund)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        charge["refunds"]["data"].insert(0, refund)
        self.store.put("charge", charge["id"], charge)
        self.emit("charge.refunded", charge)
        return json_reply(refund)

    # -- webhooks

    def emit(self, kind: str, obj: dict) -> dict:
        event = {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "type": kind,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }
        self.store.put("event", event["id"], event)
        self.deliver([self.signed(event)])
        return event

    def signed(self, event: dict, *, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(event, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(body, self.credentials["WEBHOOK_SECRET"], timestamp),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        return body, headers

    # -- Checkout's hosted page (stand-in)

    def hosted_page(self, request: Request, session_id: str) -> Reply:
        session = self.store.get("session", session_id)
        if session is None:
            return html_reply(self._page("<p>Không tìm thấy phiên thanh toán.</p>"), 404)
        if session["status"] == "expired":
            return html_reply(self._page("<h1>Phiên thanh toán đã hết hạn</h1><p>Không có khoản tiền nào bị trừ.</p>"))
        if session["status"] == "complete":
            return redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id))
        error = ""
        if request.method == "POST":
            action = request.form.get("action", "")
            buyer = {key: request.form.get(key, "").strip() for key in ("email", "name", "phone", "address")}
            if action == "decline":
                error = (
                    "<p role=alert style='color:#b00020'>Thẻ bị từ chối (thẻ thử 4000 0000 0000 0002). "
                    "Hãy thử thẻ khác.</p>"
                )
            elif action in ("card", "later"):
                self.pay(session, method="card" if action == "card" else "later", buyer=buyer)
                return redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id))
        items = "".join(
            f"<tr><td>{html.escape(item['name'])} × {item['quantity']}</td>"
            f"<td style='text-align:right'>{_vnd(item['unit_amount'] * item['quantity'])}</td></tr>"
            for item in session["_line_items"]
        )
        back = html.escape(session["cancel_url"], quote=True)
        field = (
            "<label style='display:block;margin:.5rem 0'>{label}<br>"
            "<input name={name} {extra} style='width:100%;padding:.5rem'></label>"
        )
        fields = "".join(
            field.format(label=label, name=name, extra=extra)
            for label, name, extra in (
                ("Email", "email", "type=email autocomplete=email"),
                ("Họ tên người nhận", "name", "autocomplete=name"),
                ("Số điện thoại", "phone", "type=tel autocomplete=tel"),
                ("Địa chỉ giao hàng", "address", "autocomplete=street-address"),
            )
        )
        return html_reply(
            self._page(
                f"<p><a href='{back}'>← Quay lại cửa hàng</a></p>"
                f"<h1>Thanh toán {_vnd(session['amount_total'])}</h1>"
                f"<table style='width:100%'>{items}</table>{error}"
                f"<form method=post>{fields}"
                "<p>Thẻ thử: 4242 4242 4242 4242</p>"
                "<button name=action value=card style='padding:.8rem 1.2rem;font-size:1rem'>Thanh toán</button> "
                "<button name=action value=later style='padding:.8rem 1.2rem'>Chuyển khoản (xác nhận sau)</button> "
                "<button name=action value=decline style='padding:.8rem 1.2rem'>Thẻ bị từ chối</button>"
                "</form>"
            )
        )

    @staticmethod
    def _page(body: str) -> str:
        return (
            "<!doctype html><html lang=vi><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            "<title>Stripe Checkout (sandbox)</title>"
            "<body style='font-family:system-ui;max-width:30rem;margin:2rem auto;padding:0 1rem'>"
            "<p style='color:#a15c00'><strong>SANDBOX</strong> — Stripe Checkout giả lập trên máy này.</p>"
            f"{body}</body></html>"
        )

    # -- the control API (ours)

    def control(self, request: Request) -> Reply:
        path = request.path[len("/_sandbox/") :].strip("/")
        data = request.json if request.body else {}
        if path == "sessions":
            return json_reply({"sessions": [self.public(s) for s in self.store.all("session")]})
        match = re.fullmatch(r"sessions/(?P<session_id>\w+)/(?P<action>pay|settle|expire)", path)
        if match and request.method == "POST":
            session = self.store.get("session", match["session_id"])
            if session is None:
                return json_reply({"error": "no such session"}, 404)
            if match["action"] == "pay":
                if session["status"] != "open":
                    return json_reply({"error": f"session is {session['status']}"}, 409)
                session = self.pay(session, method=data.get("method", "card"), buyer=data.get("buyer"))
            elif match["action"] == "settle":
                session = self.settle(session, succeeded=bool(data.get("succeeded", True)))
            else:
                if session["status"] != "open":
                    return json_reply({"error": f"session is {session['status']}"}, 409)
                self._expire(session)
            return json_reply(self.public(session))
        if path == "events":
            return json_reply({"events": self.store.all("event")})
        match = re.fullmatch(r"events/(?P<event_id>\w+)/resend", path)
        if match and request.method == "POST":
            event = self.store.get("event", match["event_id"])
            if event is None:
                return json_reply({"error": "no such event"}, 404)
            self.deliver([self.signed(event)])
            return json_reply({"resent": event["id"]})
        return super().control(request)
