from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketplaceSyncConfig(AppConfig):
    """Channels, marketplace accounts, listings, the sync engine and orders."""

    name = "marketplace_sync"
    verbose_name = _("Marketplaces")

    def ready(self):
        from django.db.models.signals import post_save

        from cooperatives.models import Cooperative

        from . import direct_sales, portal, services  # noqa: F401

        services.connect_catalog_hooks()
        post_save.connect(direct_sales.on_cooperative_saved, sender=Cooperative, dispatch_uid="showcase-listings")
