"""Public views outside the page tree: product search, the sitemap."""

from django.core.paginator import Paginator
from django.shortcuts import render
from wagtail.contrib.sitemaps import Sitemap as PageSitemap
from wagtail.contrib.sitemaps.views import sitemap as wagtail_sitemap

from catalog import selectors as catalog_selectors
from catalog.search import search_products

from .models import PRODUCTS_PER_PAGE, HomePage, ProductIndexPage
from .sitemaps import CooperativeSitemap, ProductSitemap

MAX_QUERY_LENGTH = 200


def search(request):
    """/search/?q=… — approved products, found with or without diacritics, best match first."""
    query = request.GET.get("q", "")[:MAX_QUERY_LENGTH].strip()
    results = search_products(catalog_selectors.public_product_list(), query)
    page_obj = Paginator(results, PRODUCTS_PER_PAGE).get_page(request.GET.get("page")) if query else None
    return render(
        request,
        "cms/search.html",
        {
            "page": HomePage.objects.live().first(),  # the site frame (header, home link)
            "product_index": ProductIndexPage.objects.live().first(),
            "query": query,
            "page_obj": page_obj,
            "products": page_obj.object_list if page_obj else [],
        },
    )


def sitemap(request):
    """/sitemap.xml: Wagtail's pages, every approved product and the producers behind them."""
    sitemaps = {
        "pages": PageSitemap(request),
        "products": ProductSitemap(request),
        "cooperatives": CooperativeSitemap(request),
    }
    return wagtail_sitemap(request, sitemaps=sitemaps)
