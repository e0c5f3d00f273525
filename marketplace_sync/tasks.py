"""Celery tasks: thin wrappers around services, taking primitive ids.

Sync jobs are retried on transient failures only, with exponential backoff and jitter, never
sooner than a marketplace's Retry-After. They are acknowledged late, so a worker killed in the
middle is replaced by a redelivery; the job's lease and SKU adoption make that harmless.
"""

import datetime
import logging
import random

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)

MAX_SYNC_RETRIES = 8
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 30 * 60


def backoff(retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, honouring the marketplace's Retry-After."""
    delay = random.uniform(0, min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2**retries))
    return max(delay, retry_after or 0)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_SYNC_RETRIES)
def run_sync_job_task(self, job_id: int) -> str:
    from .models import SyncJob
    from .services import sync_job_give_up, sync_job_run

    outcome = sync_job_run(job_id=job_id, task_id=self.request.id or "")
    if outcome.status == SyncJob.Status.PENDING:  # a transient failure
        if self.request.retries >= self.max_retries:
            sync_job_give_up(job_id=job_id, error="too many transient failures")
            return "failed"
        countdown = backoff(self.request.retries, outcome.retry_after)
        SyncJob.objects.filter(pk=job_id).update(next_attempt_at=_now_plus(countdown))
        raise self.retry(countdown=countdown)
    return outcome.status


def _now_plus(seconds: float):
    return timezone.now() + datetime.timedelta(seconds=seconds)


@shared_task(acks_late=True)
def process_inbound_event_task(event_id: int) -> None:
    from .services import inbound_event_process

    inbound_event_process(event_id=event_id)


@shared_task
def requeue_stale_jobs_task() -> int:
    from .services import sync_jobs_requeue_stale

    return sync_jobs_requeue_stale()


@shared_task
def reconcile_listings_task() -> int:
    from .services import listings_reconcile

    return listings_reconcile()


@shared_task
def pull_orders_task(account_id: int | None = None) -> int:
    """Poll orders of one shop, or of every connected shop (one task each)."""
    from .models import MarketplaceAccount
    from .registry import has_connector
    from .services import orders_pull

    if account_id is None:
        accounts = MarketplaceAccount.objects.filter(status=MarketplaceAccount.Status.CONNECTED)
        for account in accounts.select_related("channel"):
            if has_connector(account.channel.code):
                pull_orders_task.delay(account.pk)
        return 0
    account = MarketplaceAccount.objects.select_related("channel").get(pk=account_id)
    return orders_pull(account=account)


@shared_task
def pull_events_task() -> int:
    from .models import MarketplaceAccount
    from .services import events_pull

    count = 0
    for account in MarketplaceAccount.objects.filter(status="connected", channel__code="tiki").select_related(
        "channel"
    ):
        count += events_pull(account=account)
    return count


@shared_task
def refresh_expiring_tokens_task() -> int:
    from .services import accounts_refresh_expiring

    return accounts_refresh_expiring()


@shared_task
def warn_expiring_connections_task() -> int:
    from .services import accounts_warn_expiring

    return accounts_warn_expiring()


@shared_task
def coverage_snapshot_task() -> int:
    """On the 1st of the month: freeze the figures of the month just ended."""
    from . import coverage

    month_end = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    return coverage.snapshot_take(as_of=month_end)


@shared_task
def coverage_facts_check_task() -> int:
    """Nightly: rebuild every product's coverage facts from the raw records and log any that
    differed (a service that forgot to refresh them); returns how many differed."""
    from . import facts

    _count, differing = facts.facts_check()
    if differing:
        logger.warning("Coverage facts differed from the records for products %s (corrected)", differing[:50])
    return len(differing)


@shared_task
def quality_refresh_task() -> int:
    """Nightly: assess every product's data quality ("alive" changes with time alone)."""
    from . import quality

    return quality.quality_refresh()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_SYNC_RETRIES)
def process_stripe_event_task(self, inbound_event_id: int) -> str:
    """Apply a Stripe event; while Stripe cannot be asked, try again later (the event is kept)."""
    from .direct_sales import stripe_event_process
    from .models import InboundEvent
    from .stripe_gateway import PaymentError

    try:
        return stripe_event_process(inbound_event_id=inbound_event_id).status
    except PaymentError as error:
        if not error.retryable or self.request.retries >= self.max_retries:
            InboundEvent.objects.filter(pk=inbound_event_id).update(
                status=InboundEvent.Status.FAILED, error=error.message[:1000]
            )
            logger.error("Stripe event %s failed: %s", inbound_event_id, error.message)
            return InboundEvent.Status.FAILED
        raise self.retry(countdown=backoff(self.request.retries)) from error


@shared_task
def release_overdue_checkouts_task() -> int:
    from .direct_sales import checkouts_release_overdue

    return checkouts_release_overdue()
