import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from marketplace_sync.sandbox.base import SandboxServer
from marketplace_sync.sandbox.registry import SANDBOXES, build_sandboxes
from marketplace_sync.views import callback_url, webhook_url


class Command(BaseCommand):
    help = "Serve the local sandboxes (Shopee, Lazada, TikTok Shop, Tiki and Stripe) until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--channel", action="append", choices=sorted(SANDBOXES), help="Only these sandboxes.")
        parser.add_argument(
            "--review-seconds", type=float, default=20.0, help="How long a new item stays in the marketplace's review."
        )
        parser.add_argument("--memory", action="store_true", help="Keep no state on disk.")

    def handle(self, *args, channel=None, review_seconds=20.0, memory=False, **options):
        store_dir = None if memory else Path(settings.VAR_DIR) / "sandbox"
        sandboxes = build_sandboxes(
            channels=channel,
            store_dir=store_dir,
            review_seconds=review_seconds,
            webhook_url=webhook_url,
            callback_url=callback_url,
        )
        server = SandboxServer(sandboxes, host=settings.SANDBOX_HOST, ports=settings.SANDBOX_PORTS)
        with server:
            for name in sandboxes:
                self.stdout.write(_("%(name)s sandbox on %(url)s") % {"name": name, "url": server.url(name)})
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                self.stdout.write(_("Sandboxes stopped."))
