"""Every change of state in marketplace_sync: shops, listings, the sync queue, orders, events.

The rules that keep the platform honest live here:
- A change and the job that pushes it are written in one transaction; the task is sent on
  commit. A job rebuilds its payload from current data when it runs, so it never sends stale
  content, and repeated edits coalesce into the one job still waiting.
- A create first looks the SKU up on the marketplace and adopts an item found there: a timeout
  after the marketplace created the item never leads to a second item.
- Orders are upserted on their natural key, whoever reports them first (webhook or polling);
  an older report never overwrites a newer status; stock moves once per line per status.
- Only the live (approved) product is ever sent, and never more stock than stock − buffer.
"""

import datetime
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import hooks as catalog_hooks
from catalog import public_cache, readiness
from catalog.models import Offer, Product

from . import direct_sales, explain, facts, quality, ratelimit, registry
from .connectors.base import (
    AuthorizationRevoked,
    CallRecord,
    ConnectorError,
    ListingStatus,
    OrderStatus,
    PermanentError,
    RateLimited,
    RemoteListing,
    RemoteOrder,
    ShopCredentials,
    TokenExpired,
    TokenGrant,
    TransientError,
    Transport,
    WebhookEvent,
)
from .models import (
    Channel,
    InboundEvent,
    Listing,
    MarketplaceAccount,
    Order,
    OrderLine,
    SyncAttempt,
    SyncJob,
    WhoMustAct,
)
from .payloads import listing_payload

logger = logging.getLogger(__name__)

JOB_LEASE = datetime.timedelta(minutes=5)
ORDERS_FIRST_PULL = datetime.timedelta(days=30)
ORDERS_OVERLAP = datetime.timedelta(minutes=10)  # re-read a little: marketplaces update late

LISTING_STATE_BY_REMOTE = {
    ListingStatus.IN_REVIEW: Listing.Reported.IN_REVIEW,
    ListingStatus.LIVE: Listing.Reported.LIVE,
    ListingStatus.REJECTED: Listing.Reported.REJECTED,
    ListingStatus.BANNED: Listing.Reported.BANNED,
    ListingStatus.WITHDRAWN: Listing.Reported.WITHDRAWN,
}
ORDER_STATUS_BY_REMOTE = {
    OrderStatus.PENDING: Order.Status.PENDING,
    OrderStatus.PAID: Order.Status.PAID,
    OrderStatus.SHIPPED: Order.Status.SHIPPED,
    OrderStatus.COMPLETED: Order.Status.COMPLETED,
    OrderStatus.CANCELLED: Order.Status.CANCELLED,
    OrderStatus.RETURNED: Order.Status.RETURNED,
}
# Stock comes back when an order is cancelled; returned goods are checked by the cooperative
# before they are sold again, so a return does not put them back automatically.
STOCK_RELEASED = {Order.Status.CANCELLED}


class SyncError(Exception):
    """A request that cannot be served; `message` says why, for the person who asked."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- Connectors with their surroundings -------------------------------------------------------------


def transport_for(account: MarketplaceAccount, job: SyncJob | None = None) -> Transport:
    """The connector's link to us: every call recorded as a SyncAttempt, every request to a
    shop throttled to the channel's rate."""
    rate = account.channel.requests_per_second

    def record(call: CallRecord) -> None:
        SyncAttempt.objects.create(
            job=job,
            account=account,
            method=call.method,
            endpoint=call.endpoint[:300],
            status_code=call.status_code,
            duration_ms=call.duration_ms,
            request_id=call.request_id[:120],
            error_code=call.error_code[:120],
            error_message=call.error_message,
        )

    return Transport(
        timeout=settings.MARKETPLACE_HTTP_TIMEOUT,
        record=record,
        throttle=lambda key: ratelimit.throttle(key, rate),
    )


def shop_throttle_key(account: MarketplaceAccount) -> str:
    """The key connectors throttle a shop's requests under (see Connector._send)."""
    return f"{account.channel.code}:{account.shop_id}"


def connector_for_account(account: MarketplaceAccount, job: SyncJob | None = None):
    return registry.connector_for(account.channel.code, transport=transport_for(account, job))


def credentials(account: MarketplaceAccount) -> ShopCredentials:
    return ShopCredentials(
        shop_id=account.shop_id,
        access_token=account.access_token,
        refresh_token=account.refresh_token,
        extra={k: str(v) for k, v in account.extra.items()},
    )


# --- Shops ---------------------------------------------------------------------------------------------


def account_connect_start(*, cooperative, channel: Channel, user, callback_url: str) -> str:
    """Begin the marketplace's own authorisation flow; returns the URL to send the member to.
    The random state ties the marketplace's redirect back to this cooperative and channel."""
    if not registry.has_connector(channel.code):
        raise SyncError(_("%(channel)s has no connection to authorise.") % {"channel": channel.name})
    account, _created = MarketplaceAccount.objects.get_or_create(cooperative=cooperative, channel=channel)
    account.oauth_state = secrets.token_urlsafe(24)
    if account.status != MarketplaceAccount.Status.CONNECTED:
        account.status = MarketplaceAccount.Status.CONNECTING
    account.save(update_fields=["oauth_state", "status", "updated_at"])
    connector = connector_for_account(account)
    return connector.authorization_url(redirect_uri=callback_with_state(callback_url, account.oauth_state),
                                       state=account.oauth_state)  # fmt: skip


def callback_with_state(callback_url: str, state: str) -> str:
    # Some marketplaces (Shopee) do not send a state back: it travels in the redirect URL itself.
    separator = "&" if "?" in callback_url else "?"
    return f"{callback_url}{separator}state={state}"


def _apply_grant(account: MarketplaceAccount, grant: TokenGrant) -> None:
    account.shop_id = grant.shop_id or account.shop_id
    account.shop_name = grant.shop_name or account.shop_name
    account.access_token = grant.access_token
    account.refresh_token = grant.refresh_token or account.refresh_token
    account.access_expires_at = grant.access_expires_at
    account.refresh_expires_at = grant.refresh_expires_at or account.refresh_expires_at
    # Without a stated end of the authorisation, the connection lasts as long as its refresh token.
    account.authorization_expires_at = (
        grant.authorization_expires_at or grant.refresh_expires_at or account.authorization_expires_at
    )
    account.extra = {**account.extra, **dict(grant.extra)}


def account_connect_finish(*, channel: Channel, query: dict, user, callback_url: str) -> MarketplaceAccount:
    """The marketplace sent the member back: exchange its code for tokens and connect the shop.
    The caller has checked that `user` may act for the account's cooperative."""
    state = query.get("state", "")
    account = MarketplaceAccount.objects.filter(channel=channel, oauth_state=state).first() if state else None
    if account is None:
        raise SyncError(_("This connection link has expired or was already used. Start connecting again."))
    connector = connector_for_account(account)
    try:
        grant = connector.exchange_code(query=query, redirect_uri=callback_with_state(callback_url, state))
    except ConnectorError as error:
        raise SyncError(
            _("%(channel)s did not confirm the connection (%(error)s). Please try again.")
            % {"channel": channel.name, "error": error}
        ) from error
    taken = (
        MarketplaceAccount.objects.filter(channel=channel, shop_id=grant.shop_id).exclude(pk=account.pk).first()
        if grant.shop_id
        else None
    )
    if taken is not None:
        raise SyncError(
            _("This %(channel)s shop is already connected to another cooperative (%(other)s).")
            % {"channel": channel.name, "other": taken.cooperative.name if taken.cooperative_id else "—"}
        )
    with transaction.atomic():
        _apply_grant(account, grant)
        account.status = MarketplaceAccount.Status.CONNECTED
        account.oauth_state = ""
        account.connected_by, account.connected_at = user, timezone.now()
        account.last_error = ""
        account.expiry_warned_at = None
        account.save()
        for product in Product.objects.filter(cooperative_id=account.cooperative_id, live=True):
            listings_plan_for_product(product=product, accounts=[account])
    return account


def account_refresh_tokens(*, account: MarketplaceAccount) -> MarketplaceAccount:
    """Refresh the shop's tokens (one worker at a time per shop: refresh tokens are single-use
    on some marketplaces, so two refreshes at once would lock the shop out)."""
    with transaction.atomic():
        account = MarketplaceAccount.objects.select_for_update().select_related("channel").get(pk=account.pk)
        old_token = account.access_token
        connector = connector_for_account(account)
        try:
            grant = connector.refresh(credentials(account))
        except AuthorizationRevoked as error:
            account.status, account.last_error = MarketplaceAccount.Status.EXPIRED, str(error)
            account.save(update_fields=["status", "last_error", "updated_at"])
            raise
        if account.access_token != old_token:
            return account  # another worker refreshed while we waited for the lock
        _apply_grant(account, grant)
        account.last_error = ""
        account.save()
    return account


def account_disconnect(*, account: MarketplaceAccount, user) -> None:
    account.status = MarketplaceAccount.Status.REVOKED
    account.access_token = account.refresh_token = ""
    account.save(update_fields=["status", "access_token", "refresh_token", "updated_at"])


# --- Listings and jobs ---------------------------------------------------------------------------------


def _enqueue_job(job: SyncJob, *, countdown: float | None = None) -> None:
    from .tasks import run_sync_job_task

    queue = f"{settings.SYNC_QUEUE_PREFIX}{job.listing.channel.code}"

    def send():
        try:
            run_sync_job_task.apply_async((job.pk,), queue=queue, countdown=countdown)
        except Exception:
            # The job stays pending in the database; the periodic re-queue sends it again.
            logger.exception("Could not queue sync job %s", job.pk)

    transaction.on_commit(send)


@transaction.atomic
def listing_request_sync(*, listing: Listing, action: str, user=None, countdown: float | None = None) -> SyncJob:
    """Queue `action` for the listing. A job of the same action still waiting absorbs it."""
    job = SyncJob.objects.filter(listing=listing, action=action, status=SyncJob.Status.PENDING).first()
    if job is None:
        try:
            with transaction.atomic():
                job = SyncJob.objects.create(listing=listing, action=action, requested_by=user)
        except IntegrityError:  # another process queued the same action at the same moment
            return SyncJob.objects.get(listing=listing, action=action, status=SyncJob.Status.PENDING)
        if listing.reported_state in (Listing.Reported.NOT_SENT, Listing.Reported.FAILED):
            Listing.objects.filter(pk=listing.pk).update(reported_state=Listing.Reported.QUEUED)
    _enqueue_job(job, countdown=countdown)
    return job


def _api_accounts_for(product: Product):
    return MarketplaceAccount.objects.filter(
        cooperative_id=product.cooperative_id,
        status=MarketplaceAccount.Status.CONNECTED,
        channel__kind=Channel.Kind.API,
        channel__is_active=True,
    ).select_related("channel")


@transaction.atomic
def listings_plan_for_product(*, product: Product, accounts=None, user=None) -> list[Listing]:
    """An approved product goes to every connected shop of its cooperative."""
    if not product.live or product.cooperative_id is None:
        return []
    listings = []
    for account in accounts if accounts is not None else _api_accounts_for(product):
        listing, _created = Listing.objects.get_or_create(
            product=product, account=account, defaults={"channel_id": account.channel_id}
        )
        if listing.desired_state != Listing.Desired.PUBLISHED:
            listing.desired_state = Listing.Desired.PUBLISHED
            listing.save(update_fields=["desired_state", "updated_at"])
        listing_request_sync(listing=listing, action=SyncJob.Action.PUBLISH, user=user)
        listings.append(listing)
    return listings


def _on_product_published(*, product: Product) -> None:
    listings_plan_for_product(product=product)
    direct_sales.showcase_listings_refresh([product.pk])
    quality.quality_refresh([product.pk])  # also refreshed every night


def _on_product_unpublished(*, product: Product) -> None:
    """An approval withdrawn: take the product down everywhere. API listings are withdrawn by a
    job; on export channels a person must take it down on the marketplace."""
    for listing in Listing.objects.filter(product=product).select_related("channel"):
        listing.desired_state = Listing.Desired.WITHDRAWN
        if listing.channel.kind == Channel.Kind.EXPORT and listing.reported_state == Listing.Reported.LIVE:
            listing.who_must_act = WhoMustAct.COOPERATIVE
            listing.explanation = _(
                "The product is no longer approved. Take it down on %(channel)s, then record that here."
            ) % {"channel": listing.channel.name}
            listing.save(update_fields=["desired_state", "who_must_act", "explanation", "updated_at"])
            continue
        listing.save(update_fields=["desired_state", "updated_at"])
        if listing.external_id and registry.has_connector(listing.channel.code):
            listing_request_sync(listing=listing, action=SyncJob.Action.WITHDRAW)
    direct_sales.showcase_listings_refresh([product.pk])


def _on_offer_changed(*, product: Product, offer: Offer) -> None:
    """New price or stock reaches every listing the marketplace knows about (and a price
    decides whether the showcase sells it directly)."""
    direct_sales.showcase_listings_refresh([product.pk])
    for listing in Listing.objects.filter(product=product, desired_state=Listing.Desired.PUBLISHED).exclude(
        external_id=""
    ):
        listing_request_sync(listing=listing, action=SyncJob.Action.OFFER)


def connect_catalog_hooks() -> None:
    catalog_hooks.listen(catalog_hooks.PRODUCT_PUBLISHED, _on_product_published)
    catalog_hooks.listen(catalog_hooks.PRODUCT_UNPUBLISHED, _on_product_unpublished)
    catalog_hooks.listen(catalog_hooks.OFFER_CHANGED, _on_offer_changed)


def listing_withdraw(*, listing: Listing, user) -> SyncJob:
    listing.desired_state = Listing.Desired.WITHDRAWN
    listing.save(update_fields=["desired_state", "updated_at"])
    return listing_request_sync(listing=listing, action=SyncJob.Action.WITHDRAW, user=user)


# --- Running a job ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobOutcome:
    status: str  # SyncJob.Status, or "skipped" when another worker holds the job
    retry_after: float | None = None


def _claim(job_id: int, task_id: str) -> SyncJob | None:
    """Take the job for this worker, unless it is finished or another live worker holds it. A
    job whose worker died (its lease expired) is taken over: that is the redelivery of an
    acknowledged-late task after the worker was killed."""
    now = timezone.now()
    with transaction.atomic():
        job = SyncJob.objects.select_for_update().select_related("listing__channel").filter(pk=job_id).first()
        if job is None or job.status in FINISHED:
            return None
        if job.status == SyncJob.Status.RUNNING and job.locked_until and job.locked_until > now:
            return None
        job.status = SyncJob.Status.RUNNING
        job.attempts = F("attempts") + 1
        job.started_at, job.locked_until, job.celery_task_id = now, now + JOB_LEASE, task_id or ""
        job.save(update_fields=["status", "attempts", "started_at", "locked_until", "celery_task_id"])
        job.refresh_from_db()
    return job


FINISHED = (SyncJob.Status.SUCCEEDED, SyncJob.Status.FAILED, SyncJob.Status.SUPERSEDED)


def _finish(job: SyncJob, status: str, error: str = "", *, next_attempt_at=None) -> str:
    """Record the job's outcome; returns the status it ended with. A job that must wait for a
    retry while a newer job of the same action is already waiting hands over to it instead
    (the newer job sends current data anyway)."""
    if status == SyncJob.Status.PENDING and (
        SyncJob.objects.filter(listing_id=job.listing_id, action=job.action, status=SyncJob.Status.PENDING)
        .exclude(pk=job.pk)
        .exists()
    ):
        status = SyncJob.Status.SUPERSEDED
    job.status, job.last_error, job.locked_until = status, error, None
    job.next_attempt_at = next_attempt_at
    job.finished_at = timezone.now() if status in FINISHED else None
    try:
        with transaction.atomic():
            job.save(update_fields=["status", "last_error", "locked_until", "next_attempt_at", "finished_at"])
    except IntegrityError:  # a newer job appeared in the meantime
        job.status, job.finished_at = SyncJob.Status.SUPERSEDED, timezone.now()
        job.save(update_fields=["status", "last_error", "locked_until", "next_attempt_at", "finished_at"])
    return job.status


def _apply_remote(listing: Listing, remote: RemoteListing, *, refresh_only: bool = False) -> None:
    """The marketplace's view of the item. A mere refresh of an item that is still live keeps
    the error of a change it refused: that change has still not reached the marketplace."""
    state = LISTING_STATE_BY_REMOTE[remote.status]
    channel_name = listing.channel.name
    if state == Listing.Reported.REJECTED:
        explanation = explain.rejected(channel_name, remote.reason)
    elif state == Listing.Reported.BANNED:
        explanation = explain.banned(channel_name, remote.reason)
    elif state == Listing.Reported.IN_REVIEW:
        explanation = explain.in_review(channel_name)
    else:
        explanation = explain.Explanation("", WhoMustAct.NOBODY)
    now = timezone.now()
    was_live = listing.reported_state == Listing.Reported.LIVE
    _set_live_window(listing, state, now)
    listing.reported_state = state
    listing.raw_status, listing.raw_reason = remote.raw_status[:60], remote.reason
    refusal_pending = refresh_only and was_live and state == Listing.Reported.LIVE and listing.last_error
    if not refusal_pending:
        listing.explanation, listing.who_must_act = explanation.text, explanation.who_must_act
        listing.last_error = ""
    listing.external_id = remote.external_id or listing.external_id
    listing.external_sku_id = remote.sku_id or listing.external_sku_id
    listing.external_url = remote.url or listing.external_url
    listing.last_synced_at = now
    listing.save()
    if was_live or state == Listing.Reported.LIVE:
        facts.product_facts_refresh([listing.product_id])


def _set_live_window(listing: Listing, state: str, now: datetime.datetime) -> None:
    """Keep first_live_at and live_until true as the listing enters or leaves LIVE."""
    if state == Listing.Reported.LIVE:
        listing.first_live_at = listing.first_live_at or now
        listing.live_until = None
    elif listing.reported_state == Listing.Reported.LIVE:
        listing.live_until = now


def _record_external_id(listing: Listing, remote: RemoteListing) -> None:
    """Store the marketplace's id the moment we know it, in its own transaction: whatever
    happens next, a retry updates this item instead of creating another."""
    Listing.objects.filter(pk=listing.pk).update(
        external_id=remote.external_id, external_sku_id=remote.sku_id or listing.external_sku_id
    )
    listing.external_id, listing.external_sku_id = remote.external_id, remote.sku_id or listing.external_sku_id


def _remote_ref(listing: Listing) -> RemoteListing:
    return RemoteListing(
        external_id=listing.external_id,
        status=ListingStatus.LIVE,
        raw_status=listing.raw_status,
        sku_id=listing.external_sku_id,
        url=listing.external_url,
    )


def _not_ready(listing: Listing, connector) -> explain.Explanation | None:
    """Readiness before anything is sent: the catalog's checklist, the category mapping and the
    channel's own rules. None when the product may go."""
    product = Product.objects.select_related("offer").get(pk=listing.product_id)
    subject = readiness.ReadinessSubject(
        product=product,
        offer=product.offer,
        certificates=list(product.certificates.all()),
        photo_count=product.images.count(),
    )
    channel_name = listing.channel.name
    items = [item for item in readiness.checklist(subject, channel=listing.channel.code) if not item.ok]
    if items:
        explanation = explain.not_ready(channel_name, [str(item.message or item.label) for item in items])
        if all(item.who_acts == readiness.Responsible.TRADE_DEPARTMENT for item in items):
            return explain.Explanation(explanation.text, WhoMustAct.TRADE_DEPARTMENT)
        return explanation
    payload = listing_payload(listing)
    if not payload.category_id:
        return explain.missing_category(channel_name)
    problems = connector.check(payload)
    return explain.not_ready(channel_name, problems) if problems else None


def _publish(listing: Listing, connector, creds: ShopCredentials) -> RemoteListing:
    payload = listing_payload(listing)
    if not listing.external_id:
        existing = connector.find_by_sku(creds, payload.sku)
        if existing is None:
            remote = connector.create_listing(creds, payload)
            _record_external_id(listing, remote)
            return remote
        _record_external_id(listing, existing)  # created before, its answer lost: adopt it
    remote = connector.update_listing(creds, _remote_ref(listing), payload)
    return remote


def _perform(job: SyncJob, listing: Listing, connector, creds: ShopCredentials) -> RemoteListing | None:
    if job.action == SyncJob.Action.WITHDRAW:
        if not listing.external_id:
            return None
        return connector.withdraw_listing(creds, _remote_ref(listing))
    if job.action == SyncJob.Action.REFRESH:
        return connector.get_listing(creds, listing.external_id) if listing.external_id else None
    if job.action == SyncJob.Action.OFFER and listing.external_id:
        payload = listing_payload(listing, with_images=False)
        connector.update_offer(creds, _remote_ref(listing), price_vnd=payload.price_vnd, stock=payload.stock)
        Listing.objects.filter(pk=listing.pk).update(synced_price_vnd=payload.price_vnd, synced_stock=payload.stock)
        return connector.get_listing(creds, listing.external_id)
    return _publish(listing, connector, creds)


def sync_job_run(*, job_id: int, task_id: str = "") -> JobOutcome:
    """Run one job: claim it, call the marketplace, record the outcome. A transient failure
    leaves the job pending and returns when to retry; the task applies backoff and jitter.
    Whatever goes wrong, the job never stays "running": an unexpected error fails it, visibly."""
    job = _claim(job_id, task_id)
    if job is None:
        return JobOutcome("skipped")
    try:
        return _run_claimed(job)
    except Exception as error:
        logger.exception("Sync job %s failed unexpectedly", job.pk)
        message = f"{type(error).__name__}: {error}"
        _finish(job, SyncJob.Status.FAILED, message)
        listing = Listing.objects.select_related("channel").get(pk=job.listing_id)
        explanation = explain.Explanation(
            _("An unexpected error stopped the sync with %(channel)s. The platform operator has been told.")
            % {"channel": listing.channel.name},
            WhoMustAct.OPERATOR,
        )
        _mark_listing(listing, Listing.Reported.FAILED, explanation, message)
        return JobOutcome(SyncJob.Status.FAILED)


def _run_claimed(job: SyncJob) -> JobOutcome:
    listing = Listing.objects.select_related("account__channel", "channel", "product").get(pk=job.listing_id)
    account = listing.account
    channel_name = listing.channel.name
    if not account.is_connected:
        explanation = explain.connector_error(channel_name, AuthorizationRevoked("not connected"))
        _mark_listing(listing, Listing.Reported.FAILED, explanation, "shop not connected")
        _finish(job, SyncJob.Status.FAILED, "shop not connected")
        return JobOutcome(SyncJob.Status.FAILED)
    if job.action == SyncJob.Action.PUBLISH and not listing.product.live:
        _finish(job, SyncJob.Status.FAILED, "product not approved")
        return JobOutcome(SyncJob.Status.FAILED)
    connector = connector_for_account(account, job)
    try:
        if job.action == SyncJob.Action.PUBLISH and listing.desired_state == Listing.Desired.PUBLISHED:
            blocked = _not_ready(listing, connector)
            if blocked is not None:
                _mark_failure(listing, blocked, blocked.text, state=Listing.Reported.NOT_SENT)
                _finish(job, SyncJob.Status.FAILED, blocked.text)
                return JobOutcome(SyncJob.Status.FAILED)
        try:
            remote = _perform(job, listing, connector, credentials(account))
        except TokenExpired:
            account = account_refresh_tokens(account=account)
            connector = connector_for_account(account, job)
            remote = _perform(job, listing, connector, credentials(account))
    except TransientError as error:
        if isinstance(error, RateLimited) and error.code != "local_rate_limit":
            ratelimit.slow_down(shop_throttle_key(account), error.retry_after)
        explanation = explain.connector_error(channel_name, error)
        status = _finish(job, SyncJob.Status.PENDING, str(error))
        Listing.objects.filter(pk=listing.pk).update(last_error=str(error)[:2000])
        if listing.reported_state in (Listing.Reported.QUEUED, Listing.Reported.NOT_SENT):
            _mark_listing(listing, Listing.Reported.FAILED, explanation, str(error))
        return JobOutcome(status, retry_after=error.retry_after)
    except PermanentError as error:
        explanation = explain.connector_error(channel_name, error)
        _mark_failure(listing, explanation, str(error))
        _finish(job, SyncJob.Status.FAILED, str(error))
        return JobOutcome(SyncJob.Status.FAILED)
    with transaction.atomic():
        listing.refresh_from_db()
        if remote is not None:
            _apply_remote(listing, remote, refresh_only=job.action == SyncJob.Action.REFRESH)
        elif job.action == SyncJob.Action.WITHDRAW:
            was_live = listing.reported_state == Listing.Reported.LIVE
            _set_live_window(listing, Listing.Reported.WITHDRAWN, timezone.now())
            listing.reported_state = Listing.Reported.WITHDRAWN
            listing.save(update_fields=["reported_state", "live_until", "updated_at"])
            if was_live:
                facts.product_facts_refresh([listing.product_id])
        if listing.reported_state == Listing.Reported.IN_REVIEW:
            # Marketplaces rarely announce the end of a review: ask again later.
            listing_request_sync(
                listing=listing, action=SyncJob.Action.REFRESH, countdown=settings.LISTING_REVIEW_CHECK_SECONDS
            )
        if job.action == SyncJob.Action.PUBLISH:
            offer = Offer.objects.get(product_id=listing.product_id)
            Listing.objects.filter(pk=listing.pk).update(
                synced_revision_id=listing.product.live_revision_id,
                synced_price_vnd=offer.price_vnd,
                synced_stock=offer.sellable_stock,
            )
        _finish(job, SyncJob.Status.SUCCEEDED)
    return JobOutcome(SyncJob.Status.SUCCEEDED)


def _mark_listing(listing: Listing, state: str, explanation: explain.Explanation, error: str) -> None:
    """Set a state that is never LIVE (failed, not ready…); a listing leaving LIVE records when."""
    now = timezone.now()
    left_live = Listing.objects.filter(pk=listing.pk, reported_state=Listing.Reported.LIVE).update(live_until=now)
    Listing.objects.filter(pk=listing.pk).update(
        reported_state=state,
        explanation=explanation.text,
        who_must_act=explanation.who_must_act,
        last_error=error[:2000],
        updated_at=now,
    )
    if left_live:
        facts.product_facts_refresh([listing.product_id])


def _mark_failure(
    listing: Listing, explanation: explain.Explanation, error: str, *, state: str = Listing.Reported.FAILED
) -> None:
    """A change refused for an item that is live leaves it live: the marketplace still sells it
    (with the old text, price or stock), so it still counts as listed; the error and what to do
    are shown beside it. Anything else takes `state` (failed, not sent)."""
    kept_live = Listing.objects.filter(pk=listing.pk, reported_state=Listing.Reported.LIVE).update(
        explanation=explanation.text,
        who_must_act=explanation.who_must_act,
        last_error=error[:2000],
        updated_at=timezone.now(),
    )
    if not kept_live:
        _mark_listing(listing, state, explanation, error)


def sync_job_give_up(*, job_id: int, error: str) -> None:
    """After the last retry: the job fails, and the listing says so."""
    job = SyncJob.objects.select_related("listing__channel").filter(pk=job_id).first()
    if job is None or job.status in (SyncJob.Status.SUCCEEDED, SyncJob.Status.FAILED):
        return
    _finish(job, SyncJob.Status.FAILED, error)
    explanation = explain.Explanation(
        _("%(channel)s kept failing after several tries (%(error)s). The platform operator has been told.")
        % {"channel": job.listing.channel.name, "error": error},
        WhoMustAct.OPERATOR,
    )
    _mark_failure(job.listing, explanation, error)


def sync_jobs_requeue_stale(*, older_than: datetime.timedelta = datetime.timedelta(minutes=5)) -> int:
    """Send again the jobs whose message was lost (never delivered) or whose worker died."""
    now = timezone.now()
    stale = SyncJob.objects.filter(
        Q(status=SyncJob.Status.PENDING, created_at__lt=now - older_than)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now - older_than))
        | Q(status=SyncJob.Status.RUNNING, locked_until__lt=now)
    ).select_related("listing__channel")
    count = 0
    for job in stale:
        was_running = job.status == SyncJob.Status.RUNNING
        stopped = job.last_error or "its worker stopped"
        if was_running and _finish(job, SyncJob.Status.PENDING, stopped) != SyncJob.Status.PENDING:
            continue  # a newer job of the same action is already waiting
        SyncJob.objects.filter(pk=job.pk).update(next_attempt_at=now)
        _enqueue_job(job)
        count += 1
    return count


def listings_reconcile(*, account: MarketplaceAccount | None = None) -> int:
    """Ask the marketplaces about listings still in review or failed: webhooks get lost."""
    listings = Listing.objects.filter(
        reported_state__in=(Listing.Reported.IN_REVIEW, Listing.Reported.QUEUED), account__status="connected"
    ).exclude(external_id="")
    if account is not None:
        listings = listings.filter(account=account)
    count = 0
    for listing in listings.select_related("channel"):
        listing_request_sync(listing=listing, action=SyncJob.Action.REFRESH)
        count += 1
    return count


# --- Orders -------------------------------------------------------------------------------------------------


def _move_stock(line: OrderLine, *, wanted: int) -> None:
    """Take `wanted` units of the line out of stock in total (0 puts them back), exactly once
    per change however often the order is reported. Stock never goes below zero: two buyers
    of the last unit leave it at 0, not -1."""
    delta = wanted - line.stock_taken
    if delta == 0 or line.product_id is None:
        return
    Offer.objects.filter(product_id=line.product_id).update(stock=Greatest(F("stock") - delta, 0))
    public_cache.bump()  # availability on the product page
    line.stock_taken = wanted
    line.save(update_fields=["stock_taken"])


def order_upsert(
    *, account: MarketplaceAccount | None, channel: Channel, cooperative_id: int, remote: RemoteOrder
) -> Order:
    """Store the order once, whoever reports it first; a report older than what we have is
    ignored, so webhooks arriving out of order cannot turn a completed order back to paid."""
    status = ORDER_STATUS_BY_REMOTE[remote.status]
    with transaction.atomic():
        try:
            with transaction.atomic():
                order, created = Order.objects.select_for_update().get_or_create(
                    channel=channel,
                    account=account,
                    external_id=remote.external_id,
                    defaults={
                        "cooperative_id": cooperative_id,
                        "status": status,
                        "raw_status": remote.raw_status[:40],
                        "total_vnd": remote.total_vnd,
                        "ordered_at": remote.created_at,
                        "remote_updated_at": remote.updated_at or remote.created_at,
                    },
                )
        except IntegrityError:  # reported twice at the same moment: the other report won the insert
            order, created = (
                Order.objects.select_for_update().get(channel=channel, account=account, external_id=remote.external_id),
                False,
            )
        reported_at = remote.updated_at or remote.created_at
        sale_changed = created and order.is_sale
        if not created:
            if order.remote_updated_at and reported_at and reported_at < order.remote_updated_at:
                return order  # an older report
            sale_changed = order.is_sale != (status in Order.SALE_STATUSES)
            order.status, order.raw_status = status, remote.raw_status[:40]
            order.total_vnd, order.remote_updated_at = remote.total_vnd, reported_at
            order.save(update_fields=["status", "raw_status", "total_vnd", "remote_updated_at", "updated_at"])
        skus = {line.sku for line in remote.lines}
        # Only this cooperative's products: a SKU typed into another shop never moves our stock.
        products = dict(
            Offer.objects.filter(sku__in=skus, product__cooperative_id=cooperative_id).values_list("sku", "product_id")
        )
        changed_products, sold_products = set(), set()
        for remote_line in remote.lines:
            line, new_line = OrderLine.objects.get_or_create(
                order=order,
                external_line_id=remote_line.external_line_id,
                defaults={
                    "sku": remote_line.sku,
                    "name": remote_line.name[:255],
                    "quantity": remote_line.quantity,
                    "unit_price_vnd": remote_line.unit_price_vnd,
                    "product_id": products.get(remote_line.sku),
                },
            )
            wanted = 0 if order.status in STOCK_RELEASED else line.quantity
            before = line.stock_taken
            _move_stock(line, wanted=wanted)
            if line.stock_taken != before and line.product_id:
                changed_products.add(line.product_id)
            if (sale_changed or (new_line and order.is_sale)) and line.product_id:
                sold_products.add(line.product_id)
        if sold_products:  # became a sale, or stopped being one: coverage's sale days move
            facts.product_facts_refresh(sold_products)
        # A sale anywhere lowers stock everywhere.
        for product in Product.objects.filter(pk__in=changed_products):
            _on_offer_changed(product=product, offer=product.offer)
    return order


def _windows(start: datetime.datetime, end: datetime.datetime, size: datetime.timedelta | None):
    if size is None:
        yield start, end
        return
    while start < end:
        yield start, min(start + size, end)
        start += size


def orders_pull(*, account: MarketplaceAccount, until: datetime.datetime | None = None) -> int:
    """Poll one shop's orders since the last pull (the safety net behind webhooks)."""
    until = until or timezone.now()
    since = (account.orders_synced_until or until - ORDERS_FIRST_PULL) - ORDERS_OVERLAP
    connector = connector_for_account(account)
    creds = credentials(account)
    count = 0
    try:
        for window_start, window_end in _windows(since, until, connector.max_order_window):
            cursor = None
            while True:
                try:
                    page = connector.fetch_orders(
                        creds, updated_from=window_start, updated_to=window_end, cursor=cursor
                    )
                except TokenExpired:
                    account = account_refresh_tokens(account=account)
                    connector, creds = connector_for_account(account), credentials(account)
                    continue
                for remote in page.orders:
                    order_upsert(
                        account=account, channel=account.channel, cooperative_id=account.cooperative_id, remote=remote
                    )
                    count += 1
                if not page.next_cursor:
                    break
                cursor = page.next_cursor
    except AuthorizationRevoked as error:
        MarketplaceAccount.objects.filter(pk=account.pk).update(
            status=MarketplaceAccount.Status.EXPIRED, last_error=str(error)
        )
        raise
    MarketplaceAccount.objects.filter(pk=account.pk).update(orders_synced_until=until)
    return count


# --- Inbound events (webhooks, pulled events) -------------------------------------------------------------


def inbound_events_store(*, source: str, events: list[WebhookEvent]) -> list[InboundEvent]:
    """Keep each event once under its id and have a worker process the new ones after commit.
    A duplicate delivery finds its id taken and does nothing."""
    from .tasks import process_inbound_event_task

    stored = []
    for event in events:
        with transaction.atomic():
            record, created = InboundEvent.objects.get_or_create(
                source=source,
                event_id=event.event_id[:200],
                defaults={
                    "kind": event.kind,
                    "payload": {
                        "shop_id": event.shop_id,
                        "order_id": event.order_id,
                        "item_id": event.item_id,
                        "status": event.status,
                        "raw": dict(event.raw),
                    },
                },
            )
            if created:
                transaction.on_commit(lambda pk=record.pk: process_inbound_event_task.delay(pk))
                stored.append(record)
    return stored


def inbound_event_process(*, event_id: int) -> InboundEvent:
    """Act on a stored event: fetch the order it announces (webhooks carry ids, not details)
    and upsert it; refresh a listing it mentions."""
    event = InboundEvent.objects.get(pk=event_id)
    if event.status == InboundEvent.Status.PROCESSED:
        return event
    data = event.payload
    account = (
        MarketplaceAccount.objects.select_related("channel")
        .filter(channel__code=event.source, shop_id=str(data.get("shop_id", "")))
        .first()
    )
    if account is None:
        event.status, event.error = InboundEvent.Status.IGNORED, "unknown shop"
    elif event.kind == "order" and data.get("order_id"):
        connector = connector_for_account(account)
        try:
            remote = connector.get_order(credentials(account), data["order_id"])
        except TokenExpired:
            account = account_refresh_tokens(account=account)
            remote = connector_for_account(account).get_order(credentials(account), data["order_id"])
        order_upsert(account=account, channel=account.channel, cooperative_id=account.cooperative_id, remote=remote)
        event.status = InboundEvent.Status.PROCESSED
    elif event.kind == "listing" and data.get("item_id"):
        for listing in Listing.objects.filter(account=account, external_id=str(data["item_id"])):
            listing_request_sync(listing=listing, action=SyncJob.Action.REFRESH)
        event.status = InboundEvent.Status.PROCESSED
    elif event.kind == "authorization":
        MarketplaceAccount.objects.filter(pk=account.pk).update(status=MarketplaceAccount.Status.EXPIRED)
        event.status = InboundEvent.Status.PROCESSED
    else:
        event.status = InboundEvent.Status.IGNORED
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "error", "processed_at"])
    return event


def events_pull(*, account: MarketplaceAccount) -> int:
    """For marketplaces that queue events instead of pushing them (Tiki)."""
    connector = connector_for_account(account)
    try:
        events = connector.pull_events(credentials(account))
    except TokenExpired:
        account = account_refresh_tokens(account=account)
        connector = connector_for_account(account)
        events = connector.pull_events(credentials(account))
    if events:
        inbound_events_store(source=account.channel.code, events=events)
        connector.ack_events(credentials(account), events)
    return len(events)


# --- Keeping connections alive -------------------------------------------------------------------------------

TOKEN_REFRESH_AHEAD = datetime.timedelta(hours=1)
EXPIRY_WARNING_AHEAD = datetime.timedelta(days=7)


def accounts_refresh_expiring() -> int:
    """Refresh access tokens that expire within the hour, before a job finds them expired."""
    soon = timezone.now() + TOKEN_REFRESH_AHEAD
    count = 0
    accounts = MarketplaceAccount.objects.filter(status=MarketplaceAccount.Status.CONNECTED, access_expires_at__lt=soon)
    for account in accounts.select_related("channel"):
        if not registry.has_connector(account.channel.code):
            continue
        try:
            account_refresh_tokens(account=account)
            count += 1
        except ConnectorError as error:
            logger.warning("Refreshing the tokens of %s failed: %s", account, error)
    return count


def accounts_warn_expiring() -> int:
    """Warn each cooperative a week before a shop connection expires (once per connection),
    by e-mail to its members who have an address; the portal shows the same warning."""
    from django.core.mail import send_mail

    from cooperatives.models import Membership

    deadline = timezone.now() + EXPIRY_WARNING_AHEAD
    accounts = MarketplaceAccount.objects.filter(
        status=MarketplaceAccount.Status.CONNECTED,
        authorization_expires_at__lt=deadline,
        expiry_warned_at__isnull=True,
        cooperative__isnull=False,
    ).select_related("channel", "cooperative")
    count = 0
    for account in accounts:
        recipients = list(
            Membership.objects.filter(cooperative=account.cooperative, is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
        if recipients:
            send_mail(
                _("Your %(channel)s shop connection expires soon") % {"channel": account.channel.name},
                _(
                    "The connection between OCOP Connect and the %(channel)s shop of %(cooperative)s expires on "
                    "%(date)s. Sign in to the member portal and connect the shop again (Shops) so that your products "
                    "and orders keep syncing."
                )
                % {
                    "channel": account.channel.name,
                    "cooperative": account.cooperative.name,
                    "date": timezone.localtime(account.authorization_expires_at).strftime("%d/%m/%Y"),
                },
                None,
                recipients,
            )
        MarketplaceAccount.objects.filter(pk=account.pk).update(expiry_warned_at=timezone.now())
        count += 1
    return count


# --- The sandboxes' buyer (demo and tests) -----------------------------------------------------------------


def sandbox_order_create(*, channel_code: str, sku: str, quantity: int = 1, status: str = "") -> dict:
    """Ask a local sandbox to place a buyer's order for one of our SKUs (only where the
    marketplaces are sandboxes: never against a real marketplace)."""
    import requests

    if channel_code not in settings.SANDBOX_PORTS:
        raise SyncError(_("There is no sandbox for this channel."))
    listing = (
        Listing.objects.select_related("account")
        .filter(channel__code=channel_code, product__offer__sku=sku)
        .exclude(external_id="")
        .first()
    )
    if listing is None:
        raise SyncError(_("No listing with SKU %(sku)s on %(channel)s.") % {"sku": sku, "channel": channel_code})
    base = settings.MARKETPLACES[channel_code]["PRODUCT_URL"].split("/_sandbox/")[0]
    if "/_sandbox/" not in settings.MARKETPLACES[channel_code]["PRODUCT_URL"]:
        raise SyncError(_("%(channel)s is a real marketplace here, not a sandbox.") % {"channel": channel_code})
    response = requests.post(
        f"{base}/_sandbox/orders",
        json={"shop_id": listing.account.shop_id, "lines": [{"sku": sku, "quantity": quantity}], "status": status},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()
