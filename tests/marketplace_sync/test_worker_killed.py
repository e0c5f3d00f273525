"""A worker killed in the middle of a push: the marketplace created the item, our worker died
before it heard back. The job is delivered again and the item adopted, never duplicated."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection

from marketplace_sync import services
from marketplace_sync.models import Listing, SyncJob

from .conftest import approve, connect_shop, listing_states, sellable_product, wait_until

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.celery_worker]

RUN_ONE_JOB = """
import django, sys
django.setup()
from marketplace_sync.tasks import run_sync_job_task
run_sync_job_task.apply(args=[int(sys.argv[1])])
"""


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or "5432"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


def _worker_process(job_id: int, sandboxes) -> subprocess.Popen:
    """Another process that runs one sync job, as a Celery worker child would, on the same
    database, media and sandboxes as this test."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SANDBOX_PORTS": ",".join(f"{name}={port}" for name, port in sandboxes.server.ports.items()),
        "MARKETPLACE_READ_TIMEOUT": "60",  # it waits for the marketplace's answer until it is killed
    }
    return subprocess.Popen([sys.executable, "-c", RUN_ONE_JOB, str(job_id)], env=env, cwd=settings.BASE_DIR)


def test_a_worker_killed_after_the_marketplace_created_the_item_leaves_no_duplicate(
    client, sandboxes, worker, coop_a, member_a, officer
):
    account = connect_shop(client, member_a, coop_a, "shopee")
    # The in-process worker must not take the job: stop consuming the sync queue for Shopee.
    worker.consumer.cancel_task_queue(f"{settings.SYNC_QUEUE_PREFIX}shopee")
    product = approve(sellable_product(coop_a, member_a), officer)
    job = SyncJob.objects.get(listing__product=product, action=SyncJob.Action.PUBLISH)

    # the marketplace stores the item, then takes 20 s to answer
    sandboxes.control("shopee", "faults", {"timeout_after_create_s": 20, "timeout_after_create_count": 1})
    process = _worker_process(job.pk, sandboxes)
    try:
        wait_until(lambda: sandboxes.items("shopee", account.shop_id), timeout=60, message="item created")
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGKILL)  # the worker dies before the answer arrives
        process.wait(timeout=10)

    job.refresh_from_db()
    listing = Listing.objects.get(pk=job.listing_id)
    assert job.status == SyncJob.Status.RUNNING and job.locked_until is not None
    assert listing.external_id == ""  # we never heard the marketplace's item id

    # Later the lease has run out; the job is delivered again (the periodic re-queue does it
    # for a message Celery lost with the worker) and a live worker takes it over.
    SyncJob.objects.filter(pk=job.pk).update(locked_until=job.started_at)
    worker.consumer.add_task_queue(f"{settings.SYNC_QUEUE_PREFIX}shopee")
    assert services.sync_jobs_requeue_stale() >= 1

    wait_until(lambda: listing_states(product).get("shopee") == Listing.Reported.LIVE, timeout=60, message="live")
    items = sandboxes.items("shopee", account.shop_id)
    assert len(items) == 1  # adopted, not created twice
    assert Listing.objects.get(pk=listing.pk).external_id == str(items[0]["item_id"])
