from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = _("Public site")

    def ready(self):
        # Whatever a visitor can see changed: every cached public page is stale. (Changes made
        # with QuerySet.update() call public_cache.bump() themselves.)
        from django.db.models.signals import post_delete, post_save
        from wagtail.signals import page_published, page_unpublished

        from catalog import public_cache
        from catalog.models import Certificate, Offer, Product, ProductImage
        from cooperatives.models import Cooperative
        from marketplace_sync.models import Listing

        for model in (Product, Offer, Certificate, ProductImage, Listing, Cooperative):
            post_save.connect(public_cache.bump, sender=model, dispatch_uid=f"public-cache-save-{model.__name__}")
            post_delete.connect(public_cache.bump, sender=model, dispatch_uid=f"public-cache-delete-{model.__name__}")
        page_published.connect(public_cache.bump, dispatch_uid="public-cache-page-published")
        page_unpublished.connect(public_cache.bump, dispatch_uid="public-cache-page-unpublished")
