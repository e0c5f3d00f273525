from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("OCOP catalog")

    def ready(self):
        # The catalog adds its pages to the member portal (the registry lives in cooperatives).
        from . import hooks, portal  # noqa: F401

        hooks.connect_wagtail_signals()
