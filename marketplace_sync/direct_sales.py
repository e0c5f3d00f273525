"""Direct purchase on the showcase ("Mua trực tiếp") through Stripe Checkout.

The life of a purchase:
1. `checkout_start` holds the units (a conditional UPDATE of the offer's stock, so two buyers of
   the last unit cannot both get it: the second is told at once) and opens a Checkout Session in
   VND with our idempotency key and our reference in the metadata of the session and of the
   payment intent.
2. Stripe tells us what happened by signed webhooks (`views.stripe_webhook`), stored once under
   their event id; a worker then *asks Stripe for the session's current state*
   (`checkout_reconcile`) and applies it. Acting on the current state instead of on the event
   makes duplicates, out-of-order deliveries and a missed event harmless.
3. Paid: the held units become an Order in the showcase channel (a sale, like a marketplace's)
   and a row in the seller ledger. Expired, cancelled or failed: the units go back. A refund
   turns the order into a return and adds a negative ledger row.
4. If a payment arrives for units no longer held (the hold was released after the session's
   expiry time and someone else bought the last unit), the buyer is refunded automatically
   and told so; nothing is oversold.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from catalog import public_cache
from catalog.models import Offer, Product
from catalog.templatetags.catalog_tags import vnd

from . import facts, stripe_gateway
from .models import Channel, DirectCheckout, InboundEvent, Listing, Order, OrderLine, SellerLedgerEntry

logger = logging.getLogger(__name__)

MAX_QUANTITY = 20
# After a session's expiry time, how long we wait for Stripe's own "expired" before releasing
# the units ourselves.
EXPIRY_GRACE = datetime.timedelta(minutes=5)
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out on the phone


class DirectSaleError(Exception):
    """The purchase cannot go on; `message` tells the buyer why, in their language."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class DirectOffer:
    """Whether a visitor can buy a product directly, and how many at most."""

    available: bool
    max_quantity: int
    reason: str = ""


def _sells_directly(product: Product) -> bool:
    """On sale on the showcase, whatever the stock: approved, a cooperative that sells
    directly, a real price Stripe can take (never an illustrative demo price in production)."""
    offer = getattr(product, "offer", None)
    return bool(
        product.live
        and stripe_gateway.is_configured()
        and product.cooperative is not None
        and product.cooperative.sells_direct
        and offer is not None
        and offer.price_vnd
        and offer.price_vnd <= settings.DIRECT_CHECKOUT_MAX_VND
        and (settings.OCOP_ALLOW_DEMO_DATA or not offer.is_illustrative)
    )


def direct_offer(product: Product) -> DirectOffer:
    """What the product page shows. Reads the product's cooperative and offer (select them)."""
    if not _sells_directly(product):
        return DirectOffer(False, 0)
    offer = product.offer
    sellable = offer.sellable_stock
    if sellable <= 0:
        return DirectOffer(False, 0, _("Sold out for now."))
    most = min(sellable, MAX_QUANTITY, settings.DIRECT_CHECKOUT_MAX_VND // offer.price_vnd)
    if minimum_quantity(offer.price_vnd) > most:  # too cheap for Stripe's minimum even at the most
        return DirectOffer(False, 0)
    return DirectOffer(True, most)


def showcase_listings_refresh(product_ids) -> int:
    """The showcase's own listings: live while the product can be bought directly there, so
    coverage counts it as listed on the province's showcase (and a direct sale is never a sale
    of an unlisted product). Returns how many changed."""
    from .services import _set_live_window

    product_ids = list(product_ids)
    showcase = Channel.objects.get(code="showcase")
    products = Product.objects.filter(pk__in=product_ids).select_related("cooperative", "offer")
    existing = {
        listing.product_id: listing
        for listing in Listing.objects.filter(channel=showcase, account=None, product_id__in=product_ids)
    }
    now, changed = timezone.now(), []
    for product in products:
        wanted = _sells_directly(product)
        listing = existing.get(product.pk)
        if listing is None:
            if not wanted:
                continue
            listing = Listing(product=product, channel=showcase, account=None)
        state = Listing.Reported.LIVE if wanted else Listing.Reported.WITHDRAWN
        if listing.pk and listing.reported_state == state:
            continue
        _set_live_window(listing, state, now)
        listing.reported_state = state
        listing.desired_state = Listing.Desired.PUBLISHED if wanted else Listing.Desired.WITHDRAWN
        listing.last_synced_at = now
        listing.save()
        changed.append(product.pk)
    if changed:
        facts.product_facts_refresh(changed)
    return len(changed)


def on_cooperative_saved(sender, instance, **kwargs) -> None:
    """Switching direct sales on or off lists or delists the cooperative's products."""
    if kwargs.get("raw"):
        return
    showcase_listings_refresh(Product.objects.filter(cooperative=instance).values_list("pk", flat=True))


def minimum_quantity(price_vnd: int) -> int:
    return max(1, -(-settings.DIRECT_CHECKOUT_MIN_VND // price_vnd))


def _new_reference() -> str:
    return "TT" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))


def _fee(amount: int) -> int:
    return round(amount * settings.DIRECT_SALE_FEE_PERCENT / 100)


def _hold(product_id: int, quantity: int) -> bool:
    """Take `quantity` units out of stock if they are there above the safety buffer, in one
    statement: of two buyers of the last unit exactly one gets it, on PostgreSQL and SQLite
    alike. The buffer is what the marketplaces may still sell before they hear of a sale."""
    needed = F("safety_buffer") + quantity
    return bool(Offer.objects.filter(product_id=product_id, stock__gte=needed).update(stock=F("stock") - quantity))


def _put_back(product_id: int, quantity: int) -> None:
    Offer.objects.filter(product_id=product_id).update(stock=F("stock") + quantity)


def _stock_changed(product_id: int) -> None:
    """Every listing learns the new stock; the public pages show it."""
    from .services import _on_offer_changed

    public_cache.bump()
    product = Product.objects.select_related("offer").get(pk=product_id)
    _on_offer_changed(product=product, offer=product.offer)


# --- Starting a purchase ------------------------------------------------------------------------------


def checkout_start(*, product_id: int, quantity: int, return_url, cancel_url, language: str = "vi") -> tuple:
    """Hold the units and open a Stripe Checkout Session. Returns (checkout, payment page URL).
    `return_url(reference)` and `cancel_url(reference)` build our absolute addresses."""
    product = Product.objects.filter(live=True).select_related("cooperative", "offer").filter(pk=product_id).first()
    if product is None:
        raise DirectSaleError(_("This product is not on sale on the showcase."))
    offer_state = direct_offer(product)
    if not offer_state.available:
        raise DirectSaleError(offer_state.reason or _("This product cannot be bought directly."))
    price = product.offer.price_vnd
    if not minimum_quantity(price) <= quantity <= offer_state.max_quantity:
        raise DirectSaleError(
            _("Choose between %(least)s and %(most)s.")
            % {"least": minimum_quantity(price), "most": offer_state.max_quantity}
        )
    cooperative = product.cooperative
    amount = price * quantity
    with transaction.atomic():
        if not _hold(product.pk, quantity):
            left = Offer.objects.get(product_id=product.pk).sellable_stock
            if left <= 0:
                raise DirectSaleError(_("Sorry, this product has just sold out."))
            raise DirectSaleError(_("Sorry, only %(count)s left.") % {"count": left})
        checkout = DirectCheckout.objects.create(
            reference=_new_reference(),
            product=product,
            cooperative=cooperative,
            quantity=quantity,
            unit_price_vnd=price,
            amount_vnd=amount,
            platform_fee_vnd=_fee(amount),
            settlement=(
                DirectCheckout.Settlement.STRIPE_CONNECT
                if cooperative.stripe_account_id
                else DirectCheckout.Settlement.BANK_TRANSFER
            ),
            destination_account=cooperative.stripe_account_id,
            stock_held=quantity,
            language=language,
            expires_at=timezone.now() + datetime.timedelta(minutes=settings.DIRECT_CHECKOUT_MINUTES),
        )
        transaction.on_commit(lambda: _stock_changed(product.pk))
    # Outside the transaction: no lock is held while Stripe answers. If this process dies here,
    # the hold has no session and the sweeper releases it after the expiry time.
    try:
        session = stripe_gateway.checkout_session_create(
            params=_session_params(checkout, product, return_url(checkout.reference), cancel_url(checkout.reference)),
            idempotency_key=f"checkout:{checkout.reference}",
        )
    except stripe_gateway.PaymentError as error:
        _release(checkout.pk, DirectCheckout.Status.FAILED)
        raise DirectSaleError(error.message) from error
    DirectCheckout.objects.filter(pk=checkout.pk).update(session_id=session["id"])
    checkout.session_id = session["id"]
    return checkout, session["url"]


def _session_params(checkout: DirectCheckout, product: Product, return_url: str, cancel_url: str) -> dict:
    metadata = {
        "checkout": checkout.reference,
        "product_id": str(product.pk),
        "cooperative_id": str(checkout.cooperative_id),
    }
    intent_data = {
        # Session metadata is not copied to the payment intent or its charge; refunds are
        # found through these.
        "metadata": metadata,
        "description": f"OCOP {checkout.reference}: {product.name}"[:500],
    }
    if checkout.destination_account:
        intent_data["transfer_data"] = {"destination": checkout.destination_account}
        intent_data["application_fee_amount"] = checkout.platform_fee_vnd
    return {
        "mode": "payment",
        "line_items": [
            {
                "quantity": checkout.quantity,
                "price_data": {
                    "currency": "vnd",  # zero-decimal: 250000 is 250.000 ₫
                    "unit_amount": checkout.unit_price_vnd,
                    "product_data": {"name": product.name[:250]},
                },
            }
        ],
        "client_reference_id": checkout.reference,
        "metadata": metadata,
        "payment_intent_data": intent_data,
        "success_url": f"{return_url}?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": cancel_url,
        "expires_at": int(checkout.expires_at.timestamp()),
        "locale": "vi" if checkout.language == "vi" else "en",
        "shipping_address_collection": {"allowed_countries": ["VN"]},
        "phone_number_collection": {"enabled": True},
    }


# --- Applying Stripe's state ---------------------------------------------------------------------------


def checkout_reconcile(*, checkout_id: int) -> DirectCheckout:
    """Ask Stripe where this purchase stands and apply it. Safe to repeat at any time."""
    checkout = DirectCheckout.objects.get(pk=checkout_id)
    if not checkout.session_id:
        return checkout
    session = stripe_gateway.checkout_session_retrieve(checkout.session_id)
    return _apply_session(checkout_id, session)


def _apply_session(checkout_id: int, session: dict) -> DirectCheckout:
    intent = session.get("payment_intent") if isinstance(session.get("payment_intent"), dict) else None
    charge = intent.get("latest_charge") if intent and isinstance(intent.get("latest_charge"), dict) else None
    with transaction.atomic():
        checkout = DirectCheckout.objects.select_for_update().get(pk=checkout_id)
        if intent and not checkout.payment_intent_id:
            checkout.payment_intent_id = intent["id"]
            checkout.save(update_fields=["payment_intent_id", "updated_at"])
        if session["status"] == "expired":
            _release_locked(checkout, DirectCheckout.Status.EXPIRED)
        elif session["status"] == "complete":
            _keep_shipping(checkout, session)
            if session["payment_status"] in ("paid", "no_payment_required"):
                _fulfil(checkout, session)
            elif intent and intent.get("status") in ("requires_payment_method", "canceled"):
                _release_locked(checkout, DirectCheckout.Status.FAILED)  # the delayed payment failed
            elif checkout.status == DirectCheckout.Status.OPEN:
                checkout.status = DirectCheckout.Status.PROCESSING  # paid by transfer: units stay held
                checkout.save(update_fields=["status", "updated_at"])
        if charge:
            _apply_refunds(checkout, charge)
    return checkout


def _keep_shipping(checkout: DirectCheckout, session: dict) -> None:
    if checkout.ship_to_address:
        return
    details = session.get("customer_details") or {}
    shipping = (session.get("collected_information") or {}).get("shipping_details") or {}
    address = shipping.get("address") or details.get("address") or {}
    parts = [address.get(key) for key in ("line1", "line2", "city", "state", "postal_code") if address.get(key)]
    checkout.ship_to_name = (shipping.get("name") or details.get("name") or "")[:255]
    checkout.ship_to_phone = (details.get("phone") or "")[:40]
    checkout.ship_to_address = ", ".join(parts)
    checkout.save(update_fields=["ship_to_name", "ship_to_phone", "ship_to_address", "updated_at"])


def _fulfil(checkout: DirectCheckout, session: dict) -> None:
    if checkout.status in (
        DirectCheckout.Status.PAID,
        DirectCheckout.Status.REFUNDED,
        DirectCheckout.Status.SOLD_OUT_REFUNDED,
    ):
        return  # already done: a duplicate or a later event
    missing = checkout.quantity - checkout.stock_held
    if missing and not _hold(checkout.product_id, missing):
        _refund_sold_out(checkout, session)
        return
    now = timezone.now()
    showcase = Channel.objects.get(code="showcase")
    order = Order.objects.create(
        channel=showcase,
        account=None,
        cooperative_id=checkout.cooperative_id,
        external_id=checkout.reference,
        status=Order.Status.PAID,
        raw_status="paid",
        total_vnd=checkout.amount_vnd,
        ordered_at=checkout.created_at,
        remote_updated_at=now,
    )
    product = Product.objects.select_related("offer").get(pk=checkout.product_id)
    # The held units become the order line's: stock does not move again.
    OrderLine.objects.create(
        order=order,
        product_id=checkout.product_id,
        external_line_id="1",
        sku=product.offer.sku,
        name=product.name[:255],
        quantity=checkout.quantity,
        unit_price_vnd=checkout.unit_price_vnd,
        stock_taken=checkout.quantity,
    )
    checkout.order, checkout.status, checkout.paid_at, checkout.stock_held = order, DirectCheckout.Status.PAID, now, 0
    checkout.save(update_fields=["order", "status", "paid_at", "stock_held", "updated_at"])
    SellerLedgerEntry.objects.create(
        cooperative_id=checkout.cooperative_id,
        checkout=checkout,
        kind=SellerLedgerEntry.Kind.SALE,
        source_ref="sale",
        gross_vnd=checkout.amount_vnd,
        fee_vnd=checkout.platform_fee_vnd,
        owed_vnd=checkout.amount_vnd - checkout.platform_fee_vnd,
        settlement=checkout.settlement,
    )
    facts.product_facts_refresh({checkout.product_id})
    if missing:
        transaction.on_commit(lambda: _stock_changed(checkout.product_id))


def _refund_sold_out(checkout: DirectCheckout, session: dict) -> None:
    """The buyer paid for units that are gone: give the money back at once and say so."""
    intent_id = checkout.payment_intent_id
    stripe_gateway.refund_create(
        payment_intent=intent_id,
        idempotency_key=f"sold-out:{checkout.reference}",
        metadata={"checkout": checkout.reference, "reason": "sold_out"},
    )
    checkout.status = DirectCheckout.Status.SOLD_OUT_REFUNDED
    checkout.save(update_fields=["status", "updated_at"])
    email = (session.get("customer_details") or {}).get("email")
    if email:
        transaction.on_commit(lambda: _tell_sold_out(checkout, email))


def _tell_sold_out(checkout: DirectCheckout, email: str) -> None:
    with translation.override(checkout.language):
        send_mail(
            _("Your order %(reference)s: sold out, refunded") % {"reference": checkout.reference},
            _(
                "We are sorry: the last unit of %(product)s was sold while you were paying. "
                "We have refunded the whole amount, %(amount)s; your bank shows it within 5 to 10 days."
            )
            % {"product": checkout.product.name, "amount": vnd(checkout.amount_vnd)},
            None,
            [email],
            fail_silently=True,
        )


def _apply_refunds(checkout: DirectCheckout, charge: dict) -> None:
    """Each Stripe refund once: a negative ledger row; fully refunded, the order is a return."""
    refunded = int(charge.get("amount_refunded") or 0)
    if refunded <= checkout.amount_refunded_vnd:
        return
    checkout.amount_refunded_vnd = refunded
    fields = ["amount_refunded_vnd", "updated_at"]
    if checkout.order_id:  # a sale was recorded: refunds come off what the cooperative is owed
        refunds = (charge.get("refunds") or {}).get("data") or []
        recorded = set(checkout.ledger_entries.values_list("source_ref", flat=True))
        known = sum(r["amount"] for r in refunds)
        if known < refunded:  # Stripe did not list them all: book the rest as one adjustment
            refunds = [*refunds, {"id": f"refunded-to-{refunded}", "amount": refunded - known}]
        for refund in refunds:
            if refund["id"] in recorded:
                continue
            fee_back = round(checkout.platform_fee_vnd * refund["amount"] / checkout.amount_vnd)
            SellerLedgerEntry.objects.create(
                cooperative_id=checkout.cooperative_id,
                checkout=checkout,
                kind=SellerLedgerEntry.Kind.REFUND,
                source_ref=refund["id"],
                gross_vnd=-refund["amount"],
                fee_vnd=-fee_back,
                owed_vnd=-(refund["amount"] - fee_back),
                settlement=checkout.settlement,
            )
        if refunded >= checkout.amount_vnd:
            order = Order.objects.select_for_update().get(pk=checkout.order_id)
            if order.status != Order.Status.RETURNED:
                # Returned, not cancelled: the goods may be on their way back; the cooperative
                # counts them back into stock itself.
                order.status, order.raw_status, order.remote_updated_at = (
                    Order.Status.RETURNED,
                    "refunded",
                    timezone.now(),
                )
                order.save(update_fields=["status", "raw_status", "remote_updated_at", "updated_at"])
                facts.product_facts_refresh({checkout.product_id})
            checkout.status = DirectCheckout.Status.REFUNDED
            fields.append("status")
    checkout.save(update_fields=fields)


def _release_locked(checkout: DirectCheckout, status: str) -> None:
    if checkout.status not in DirectCheckout.HOLDING:
        return
    held = checkout.stock_held
    if held:
        _put_back(checkout.product_id, held)
        transaction.on_commit(lambda: _stock_changed(checkout.product_id))
    checkout.status, checkout.stock_held = status, 0
    checkout.save(update_fields=["status", "stock_held", "updated_at"])


def _release(checkout_id: int, status: str) -> DirectCheckout:
    with transaction.atomic():
        checkout = DirectCheckout.objects.select_for_update().get(pk=checkout_id)
        _release_locked(checkout, status)
    return checkout


# --- The buyer goes back, the clock runs out ------------------------------------------------------------


def checkout_cancel(*, reference: str) -> DirectCheckout:
    """The buyer pressed "back" on Stripe's page: end the session so it cannot be paid any more,
    then give the units back. If it was paid meanwhile (another tab), it stays paid."""
    checkout = DirectCheckout.objects.get(reference=reference)
    if checkout.status != DirectCheckout.Status.OPEN or not checkout.session_id:
        return checkout
    try:
        stripe_gateway.checkout_session_expire(checkout.session_id)
    except stripe_gateway.PaymentError:
        return checkout_reconcile(checkout_id=checkout.pk)  # not open any more: see what it is
    checkout = _apply_session(checkout.pk, stripe_gateway.checkout_session_retrieve(checkout.session_id))
    if checkout.status == DirectCheckout.Status.EXPIRED:
        DirectCheckout.objects.filter(pk=checkout.pk).update(status=DirectCheckout.Status.CANCELLED)
        checkout.status = DirectCheckout.Status.CANCELLED
    return checkout


def checkouts_release_overdue(*, now: datetime.datetime | None = None) -> int:
    """The safety net behind the "expired" webhook: holds past their expiry time are settled
    with Stripe, or released when Stripe cannot be asked (it takes no payment after the expiry
    time; a payment already under way then finds the units gone and is refunded)."""
    now = now or timezone.now()
    released = 0
    overdue = DirectCheckout.objects.filter(status=DirectCheckout.Status.OPEN, expires_at__lt=now - EXPIRY_GRACE)
    for checkout in overdue:
        if checkout.session_id:
            try:
                checkout = checkout_reconcile(checkout_id=checkout.pk)
                if checkout.status == DirectCheckout.Status.OPEN:
                    stripe_gateway.checkout_session_expire(checkout.session_id)
                    checkout = checkout_reconcile(checkout_id=checkout.pk)
            except stripe_gateway.PaymentError as error:
                logger.warning("Checkout %s: Stripe not reachable (%s); releasing by time", checkout.reference, error)
        if checkout.status == DirectCheckout.Status.OPEN:
            _release(checkout.pk, DirectCheckout.Status.EXPIRED)
            released += 1
    return released


# --- Webhooks ---------------------------------------------------------------------------------------------


def stripe_event_store(*, event: dict) -> InboundEvent | None:
    """Keep the event once under its id; a worker processes it after commit. A duplicate
    delivery finds the id taken and does nothing."""
    from .tasks import process_stripe_event_task

    with transaction.atomic():
        record, created = InboundEvent.objects.get_or_create(
            source="stripe",
            event_id=event["id"][:200],
            defaults={"kind": event.get("type", "")[:40], "payload": event},
        )
        if not created:
            return None
        transaction.on_commit(lambda: process_stripe_event_task.delay(record.pk))
    return record


def _checkout_for_event(event: dict) -> DirectCheckout | None:
    obj = event.get("data", {}).get("object", {})
    reference = (obj.get("metadata") or {}).get("checkout", "")
    if event.get("type", "").startswith("checkout.session."):
        lookup = Q(session_id=obj.get("id", "")) | Q(reference=reference)
    elif event.get("type") == "charge.refunded":
        lookup = Q(payment_intent_id=obj.get("payment_intent") or "-") | Q(reference=reference)
    else:
        return None
    return DirectCheckout.objects.filter(lookup).first()


def stripe_event_process(*, inbound_event_id: int) -> InboundEvent:
    event = InboundEvent.objects.get(pk=inbound_event_id)
    if event.status == InboundEvent.Status.PROCESSED:
        return event
    checkout = _checkout_for_event(event.payload)
    if checkout is None:
        event.status, event.error = InboundEvent.Status.IGNORED, "not a purchase of this platform"
    else:
        checkout_reconcile(checkout_id=checkout.pk)  # a PaymentError propagates: the task retries
        event.status, event.error = InboundEvent.Status.PROCESSED, ""
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "error", "processed_at"])
    return event


# --- Settlement -------------------------------------------------------------------------------------------


def ledger_settle(*, cooperative_id: int, up_to: datetime.datetime, note: str, user) -> int:
    """The operator transferred what the cooperative was owed up to `up_to`: mark those rows
    paid out with the transfer's reference. Rows recorded later stay outstanding."""
    with transaction.atomic():
        count = SellerLedgerEntry.objects.filter(
            cooperative_id=cooperative_id,
            settlement=DirectCheckout.Settlement.BANK_TRANSFER,
            settled_at__isnull=True,
            created_at__lte=up_to,
        ).update(settled_at=timezone.now(), settlement_note=note[:255])
    logger.info("Ledger: %s entries of cooperative %s paid out by %s (%s)", count, cooperative_id, user, note)
    return count
