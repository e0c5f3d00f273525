"""The only caller of the Stripe SDK. Everything else speaks plain dicts and `PaymentError`.

The client points at Stripe itself, or at the Stripe sandbox (`STRIPE_API_URL`) in the demo and
the tests. Every create carries our own idempotency key, so a retry after a timeout finds the
session or refund the first attempt made instead of making another.
"""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

WEBHOOK_TOLERANCE_SECONDS = 300


class PaymentError(Exception):
    """Stripe refused or could not be reached. `retryable`: worth trying again later."""

    def __init__(self, message: str, *, code: str = "", retryable: bool = False):
        super().__init__(message)
        self.message, self.code, self.retryable = message, code, retryable


class WebhookForged(Exception):
    """A webhook whose signature does not match, or that is too old to trust."""


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def _client() -> stripe.StripeClient:
    api_url = settings.STRIPE_API_URL
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": api_url} if api_url else None,
        # Retries re-send the same idempotency key, so they can never pay twice.
        max_network_retries=2,
        http_client=stripe.RequestsClient(timeout=(5, 20)),
    )


def _as_dict(obj) -> dict:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _call(what: str, function, *args, **kwargs) -> dict:
    try:
        return _as_dict(function(*args, **kwargs))
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        logger.warning("Stripe %s: not reachable now (%s)", what, error)
        raise PaymentError(
            _("The payment service cannot be reached right now. Please try again in a few minutes."),
            code="unavailable",
            retryable=True,
        ) from error
    except stripe.APIError as error:
        logger.warning("Stripe %s: server error %s", what, error)
        raise PaymentError(
            _("The payment service had a problem. Please try again in a few minutes."),
            code="api_error",
            retryable=True,
        ) from error
    except stripe.StripeError as error:
        logger.error("Stripe %s refused: %s (%s)", what, error.user_message or error, error.code)
        raise PaymentError(str(error.user_message or error), code=error.code or "") from error


def checkout_session_create(*, params: dict, idempotency_key: str) -> dict:
    client = _client()
    return _call(
        "checkout session",
        client.v1.checkout.sessions.create,
        params=params,
        options={"idempotency_key": idempotency_key},
    )


def checkout_session_retrieve(session_id: str) -> dict:
    """The session with its payment intent and that intent's charge (refunds included)."""
    client = _client()
    return _call(
        "session lookup",
        client.v1.checkout.sessions.retrieve,
        session_id,
        params={"expand": ["payment_intent", "payment_intent.latest_charge"]},
    )


def checkout_session_expire(session_id: str) -> dict:
    return _call("session expiry", _client().v1.checkout.sessions.expire, session_id)


def refund_create(*, payment_intent: str, idempotency_key: str, metadata: dict, amount: int | None = None) -> dict:
    params = {"payment_intent": payment_intent, "metadata": metadata}
    if amount is not None:
        params["amount"] = amount
    return _call("refund", _client().v1.refunds.create, params=params, options={"idempotency_key": idempotency_key})


def webhook_event(*, payload: bytes, signature_header: str) -> dict:
    """The event, once its `Stripe-Signature` proves it comes from Stripe and is at most five
    minutes old (a replayed old delivery is refused)."""
    try:
        event = stripe.Webhook.construct_event(
            payload, signature_header, settings.STRIPE_WEBHOOK_SECRET, tolerance=WEBHOOK_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as error:
        raise WebhookForged(str(error)) from error
    return _as_dict(event)
