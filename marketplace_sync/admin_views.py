"""Admin actions on a listing: push now, retry."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import services
from .models import Listing, SyncJob


def _listing(request, pk) -> Listing:
    if not request.user.has_perm("marketplace_sync.change_listing"):
        raise PermissionDenied
    # The showcase's own listings (no shop) are never sent anywhere.
    return get_object_or_404(Listing.objects.select_related("channel", "product"), pk=pk, account__isnull=False)


@require_POST
def listing_push_now(request, pk):
    """Send the product's current content, price and stock now."""
    listing = _listing(request, pk)
    services.listing_request_sync(listing=listing, action=SyncJob.Action.PUBLISH, user=request.user)
    messages.success(request, _("%(product)s is queued for %(channel)s.") % {"product": listing.product,
                                                                              "channel": listing.channel})  # fmt: skip
    return redirect("listings:inspect", pk)


@require_POST
def listing_retry(request, pk):
    """Start again a job that gave up (after the cause was fixed)."""
    listing = _listing(request, pk)
    last = listing.jobs.filter(status=SyncJob.Status.FAILED).order_by("-created_at").first()
    action = last.action if last else SyncJob.Action.PUBLISH
    services.listing_request_sync(listing=listing, action=action, user=request.user)
    messages.success(request, _("Retry queued."))
    return redirect("listings:inspect", pk)
