"""/sitemap.xml: the site's pages (Wagtail), every approved product and its producer."""

from django.contrib.sitemaps import Sitemap
from django.utils.functional import cached_property

from catalog.models import Product
from cooperatives.models import Cooperative

from .models import ProductIndexPage


class ProductSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.8
    limit = 5000

    def __init__(self, request=None):
        self.request = request
        self.index = ProductIndexPage.objects.live().first()

    def items(self):
        if self.index is None:
            return Product.objects.none()
        return Product.objects.filter(live=True).only("pk", "last_published_at", "updated_at").order_by("pk")

    @cached_property
    def index_url(self) -> str:
        # Page.url looks the site up in the cache: once per sitemap, not once per product.
        return self.index.url

    def location(self, product):
        return self.index_url + self.index.reverse_subpage("product_detail", args=[product.pk]).lstrip("/")

    def lastmod(self, product):
        return product.last_published_at or product.updated_at


class CooperativeSitemap(Sitemap):
    """Producers with at least one approved product."""

    changefreq = "monthly"
    priority = 0.6

    def __init__(self, request=None):
        self.request = request
        self.index = ProductIndexPage.objects.live().first()

    def items(self):
        if self.index is None:
            return Cooperative.objects.none()
        return Cooperative.objects.filter(products__live=True).distinct().only("pk", "slug").order_by("pk")

    @cached_property
    def index_url(self) -> str:
        return self.index.url

    def location(self, cooperative):
        return self.index_url + self.index.reverse_subpage("cooperative_detail", args=[cooperative.slug]).lstrip("/")
