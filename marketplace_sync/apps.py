from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketplaceSyncConfig(AppConfig):
    """Channels, marketplace accounts, listings, sync jobs and orders (next issue)."""

    name = "marketplace_sync"
    verbose_name = _("Marketplaces")
