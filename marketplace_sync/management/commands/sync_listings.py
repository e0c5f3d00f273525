import time

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from catalog.models import Product
from marketplace_sync import services
from marketplace_sync.models import Listing, SyncJob


class Command(BaseCommand):
    help = "Queue approved products for their cooperatives' connected shops (and optionally wait)."

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="Only this channel (e.g. shopee).")
        parser.add_argument("--cooperative", type=int, help="Only this cooperative (id).")
        parser.add_argument("--all", action="store_true", help="Also push listings that look up to date.")
        parser.add_argument("--wait", action="store_true", help="Wait for the worker to finish, showing progress.")

    def handle(self, *args, channel=None, cooperative=None, all=False, wait=False, **options):
        products = Product.objects.filter(live=True, cooperative__isnull=False)
        if cooperative:
            products = products.filter(cooperative_id=cooperative)
        jobs = []
        for product in products:
            for listing in services.listings_plan_for_product(product=product):
                if channel and listing.channel.code != channel:
                    continue
                if (
                    not all
                    and listing.reported_state == Listing.Reported.LIVE
                    and listing.synced_revision_id == (product.live_revision_id)
                ):
                    continue
                jobs.append(services.listing_request_sync(listing=listing, action=SyncJob.Action.PUBLISH).pk)
        self.stdout.write(_("%(count)d jobs queued.") % {"count": len(jobs)})
        while wait and jobs:
            open_jobs = SyncJob.objects.filter(pk__in=jobs, status__in=("pending", "running")).count()
            done = len(jobs) - open_jobs
            self.stderr.write(_("%(done)d of %(total)d done") % {"done": done, "total": len(jobs)})
            if not open_jobs:
                break
            time.sleep(2)
        if wait:
            failed = SyncJob.objects.filter(pk__in=jobs, status="failed").count()
            self.stdout.write(_("Finished: %(failed)d failed.") % {"failed": failed})
