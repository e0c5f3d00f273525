from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.translation import gettext as _

from marketplace_sync.models import MarketplaceAccount


class Command(BaseCommand):
    help = "Re-encrypt every marketplace token with the newest key of MARKETPLACE_TOKEN_KEYS."

    @transaction.atomic
    def handle(self, *args, **options):
        # Reading decrypts with whichever listed key encrypted the token; saving encrypts with
        # the newest one. Afterwards the old keys can be removed from the settings.
        count = 0
        for account in MarketplaceAccount.objects.select_for_update().exclude(access_token="", refresh_token=""):
            account.save(update_fields=["access_token", "refresh_token"])
            count += 1
        self.stdout.write(_("%(count)d shop connections re-encrypted.") % {"count": count})
