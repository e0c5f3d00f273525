"""The buyer's side of a direct purchase: choose the quantity, go to Stripe, come back; and
Stripe's webhook. None of these pages is cached (cms.middleware)."""

import contextlib
import logging

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from catalog import selectors as catalog_selectors

from . import direct_sales, stripe_gateway
from .models import DirectCheckout

logger = logging.getLogger(__name__)


def _render(request, template, context, status=200):
    from cms.models import HomePage

    context["page"] = HomePage.objects.live().first()  # the site frame: header, home link
    return render(request, template, context, status=status)


@never_cache
def buy(request, product_id):
    """GET: the product, its price, how many; POST: hold the units and go to Stripe."""
    product = catalog_selectors.public_product_detail(product_id=product_id)
    offer = direct_sales.direct_offer(product)
    if not offer.available and not offer.reason:
        raise Http404  # not sold directly at all (sold out is a page that says so)
    error = ""
    quantity = direct_sales.minimum_quantity(product.offer.price_vnd) if offer.available else 1
    if request.method == "POST":
        try:
            quantity = int(request.POST.get("quantity", ""))
        except ValueError:
            quantity = 0  # refused below with the allowed range
        try:
            checkout, payment_url = direct_sales.checkout_start(
                product_id=product.pk,
                quantity=quantity,
                return_url=lambda ref: request.build_absolute_uri(reverse("direct_result", args=[ref])),
                cancel_url=lambda ref: request.build_absolute_uri(reverse("direct_cancel", args=[ref])),
                language=get_language() or "vi",
            )
        except direct_sales.DirectSaleError as problem:
            error = problem.message
            offer = direct_sales.direct_offer(catalog_selectors.public_product_detail(product_id=product_id))
        else:
            return redirect(payment_url)
    if not offer.available and not error:
        error = offer.reason
    return _render(
        request,
        "marketplace_sync/direct/buy.html",
        {
            "product": product,
            "offer": offer,
            "quantities": range(direct_sales.minimum_quantity(product.offer.price_vnd), offer.max_quantity + 1)
            if offer.available
            else [],
            "quantity": quantity,
            "error": error,
        },
        status=200 if offer.available or request.method == "GET" else 409,
    )


@never_cache
def result(request, reference):
    """Where Stripe sends the buyer back. The webhook is the source of truth; if it has not
    been processed yet, ask Stripe now so the buyer sees the outcome at once."""
    checkout = get_object_or_404(DirectCheckout.objects.select_related("product", "order"), reference=reference)
    if checkout.status == DirectCheckout.Status.OPEN and request.GET.get("session_id") == checkout.session_id:
        # If Stripe cannot be asked, the webhook brings it; the page refreshes itself meanwhile.
        with contextlib.suppress(stripe_gateway.PaymentError):
            checkout = direct_sales.checkout_reconcile(checkout_id=checkout.pk)
    return _render(request, "marketplace_sync/direct/result.html", {"checkout": checkout})


@never_cache
def cancel(request, reference):
    """The buyer pressed "back" on Stripe's page."""
    checkout = get_object_or_404(DirectCheckout, reference=reference)
    # If Stripe cannot be asked, the sweeper releases the units after the expiry time.
    with contextlib.suppress(stripe_gateway.PaymentError):
        checkout = direct_sales.checkout_cancel(reference=checkout.reference)
    return _render(request, "marketplace_sync/direct/result.html", {"checkout": checkout, "cancelled": True})


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Verify the signature on the raw body (at most 5 minutes old), keep the event once under
    its id, answer at once; a worker does the rest."""
    if not stripe_gateway.is_configured():
        raise Http404
    try:
        event = stripe_gateway.webhook_event(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature", "")
        )
    except stripe_gateway.WebhookForged as error:
        logger.warning("Refused a Stripe webhook from %s: %s", request.META.get("REMOTE_ADDR"), error)
        return HttpResponse(status=400)
    except ValueError as error:
        logger.warning("Unreadable Stripe webhook: %s", error)
        return HttpResponse(status=400)
    direct_sales.stripe_event_store(event=event)
    return HttpResponse(status=200)
