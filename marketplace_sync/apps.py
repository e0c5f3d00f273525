from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketplaceSyncConfig(AppConfig):
    """Channels, marketplace accounts, listings, the sync engine and orders."""

    name = "marketplace_sync"
    verbose_name = _("Marketplaces")

    def ready(self):
        from . import portal, services  # noqa: F401

        services.connect_catalog_hooks()
