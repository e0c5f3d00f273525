"""Reads for the site's own pages: the home page's featured products and the news lists.

Products come from the catalog's public selector, so a draft or a product waiting for review
never shows here either, and every list costs a fixed number of queries."""

from collections.abc import Sequence

from django.db.models import Prefetch, QuerySet
from wagtail.images import get_image_model

from catalog import selectors as catalog_selectors
from catalog.models import Product

FEATURED_PRODUCTS_ON_HOME = 8
PRODUCT_CARD_PHOTO = "fill-320x320"
NEWS_THUMBNAIL = "fill-160x120"


def product_cards() -> QuerySet:
    """Public products with what a card shows: the star, the producer and its commune, and the
    photos with the card's rendition, all fetched in a fixed number of queries."""
    photos = get_image_model().objects.prefetch_renditions(PRODUCT_CARD_PHOTO)
    return catalog_selectors.public_product_list().prefetch_related(Prefetch("images__image", queryset=photos))


def featured_products(chosen_ids: Sequence[int], *, limit: int = FEATURED_PRODUCTS_ON_HOME) -> list[Product]:
    """The products the editors chose that the public may see, in the editors' order; when they
    chose none, or none of them is public any more, the newest public products, so the home
    page never shows an empty shelf while there is something to show."""
    if chosen_ids:
        public = {product.pk: product for product in product_cards().filter(pk__in=chosen_ids)}
        chosen = [public[pk] for pk in dict.fromkeys(chosen_ids) if pk in public][:limit]
        if chosen:
            return chosen
    return newest_products(limit=limit)


def newest_products(*, limit: int) -> list[Product]:
    """The products most recently approved for the first time."""
    # Every approved product has been published once; the index serves exactly this order.
    newest = product_cards().filter(first_published_at__isnull=False).order_by("-first_published_at", "-pk")
    return list(newest[:limit])


def newest_first(news: QuerySet, *, with_thumbnails: bool = False) -> QuerySet:
    """News pages by the date the editors gave them, the latest written first on the same day;
    for a list that shows them, with the thumbnail's rendition."""
    news = news.order_by("-date", "-pk")
    if with_thumbnails:
        thumbnails = get_image_model().objects.prefetch_renditions(NEWS_THUMBNAIL)
        news = news.prefetch_related(Prefetch("image", queryset=thumbnails))
    return news
