"""Public endpoints of the marketplaces: webhooks and the return from a shop's authorisation."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from cooperatives.selectors import portal_memberships

from . import registry, services
from .connectors.base import WebhookRejected
from .models import Channel, MarketplaceAccount

logger = logging.getLogger(__name__)


def webhook_url(channel_code: str) -> str:
    """The address marketplaces are told to call, exactly as they sign it."""
    return f"{settings.WEBHOOK_BASE_URL.rstrip('/')}/webhooks/{channel_code}/"


def callback_url(channel_code: str) -> str:
    return f"{settings.WAGTAILADMIN_BASE_URL.rstrip('/')}/marketplace/callback/{channel_code}/"


@csrf_exempt
@require_POST
def webhook(request, channel_code):
    """Verify on the raw body, store each event under its id, answer fast with an empty body;
    a worker does the rest. A forged or stale call is refused and logged; nothing is stored."""
    if not registry.has_connector(channel_code):
        raise Http404
    connector = registry.connector_for(channel_code)
    body = request.body
    try:
        connector.verify_webhook(body=body, headers=request.headers, url=webhook_url(channel_code))
        events = connector.parse_webhook(body)
    except WebhookRejected as error:
        logger.warning("Refused a %s webhook from %s: %s", channel_code, request.META.get("REMOTE_ADDR"), error)
        return HttpResponse(status=401)
    except ValueError as error:
        logger.warning("Unreadable %s webhook: %s", channel_code, error)
        return HttpResponse(status=400)
    services.inbound_events_store(source=channel_code, events=events)
    return HttpResponse(status=200)


@login_required
def oauth_callback(request, channel_code):
    """The marketplace sends the member back here after they allowed the connection."""
    channel = get_object_or_404(Channel, code=channel_code, kind=Channel.Kind.API)
    state = request.GET.get("state", "")
    account = MarketplaceAccount.objects.filter(channel=channel, oauth_state=state).first() if state else None
    memberships = {m.cooperative_id: m for m in portal_memberships(user=request.user)}
    if account is None or account.cooperative_id not in memberships:
        raise Http404
    from cooperatives.audit import acting_for

    with acting_for(user=request.user, membership=memberships[account.cooperative_id]):
        try:
            services.account_connect_finish(
                channel=channel, query=request.GET.dict(), user=request.user, callback_url=callback_url(channel_code)
            )
        except services.SyncError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("The %(channel)s shop is connected. Approved products are being sent to it.")
                % {"channel": channel.name},
            )
    return redirect("portal:shops", cooperative_id=account.cooperative_id)
