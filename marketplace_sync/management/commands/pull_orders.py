from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from marketplace_sync import services
from marketplace_sync.connectors.base import ConnectorError
from marketplace_sync.models import MarketplaceAccount
from marketplace_sync.registry import has_connector


class Command(BaseCommand):
    help = "Fetch new and changed orders from every connected shop (what the periodic task does)."

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="Only this channel.")

    def handle(self, *args, channel=None, **options):
        accounts = MarketplaceAccount.objects.filter(status=MarketplaceAccount.Status.CONNECTED).select_related(
            "channel", "cooperative"
        )
        if channel:
            accounts = accounts.filter(channel__code=channel)
        for account in accounts:
            if not has_connector(account.channel.code):
                continue
            try:
                count = services.orders_pull(account=account)
            except ConnectorError as error:
                self.stderr.write(_("%(account)s: %(error)s") % {"account": account, "error": error})
                continue
            self.stdout.write(_("%(account)s: %(count)d orders read.") % {"account": account, "count": count})
