import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from marketplace_sync.services import SyncError, sandbox_order_create


class Command(BaseCommand):
    help = "Make a buyer's order in a local sandbox (as if someone bought on the marketplace)."

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, choices=sorted(settings.SANDBOX_PORTS))
        parser.add_argument("--sku", required=True, help="Our SKU, e.g. OCOP-15-000005.")
        parser.add_argument("--quantity", type=int, default=1)
        parser.add_argument("--status", default="", help="The marketplace's own order status (default: paid).")

    def handle(self, *args, channel, sku, quantity, status, **options):
        try:
            order = sandbox_order_create(channel_code=channel, sku=sku, quantity=quantity, status=status)
        except (SyncError, requests.RequestException) as error:
            raise CommandError(getattr(error, "message", str(error))) from error
        self.stdout.write(
            _("Order %(id)s created on the %(channel)s sandbox.") % {"id": order.get("id"), "channel": channel}
        )
