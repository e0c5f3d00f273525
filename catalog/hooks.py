"""What other apps want to hear from the catalog, without the catalog importing them.

The catalog does not know where its products are sold (dependencies point one way:
cooperatives ← catalog ← marketplace_sync). marketplace_sync registers here at start-up; the
catalog's services call `notify` after the change has been made, inside the same transaction,
so whatever a listener records (e.g. a sync job) commits or rolls back with the change.
"""

from collections import defaultdict
from collections.abc import Callable

OFFER_CHANGED = "offer_changed"  # kwargs: product, offer
PRODUCT_PUBLISHED = "product_published"  # kwargs: product (the new live version)
PRODUCT_UNPUBLISHED = "product_unpublished"  # kwargs: product

_listeners: dict[str, list[Callable]] = defaultdict(list)


def listen(event: str, listener: Callable) -> Callable:
    if listener not in _listeners[event]:
        _listeners[event].append(listener)
    return listener


def notify(event: str, **kwargs) -> None:
    for listener in _listeners[event]:
        listener(**kwargs)


def _on_wagtail_published(sender, instance, **kwargs):
    notify(PRODUCT_PUBLISHED, product=instance)


def _on_wagtail_unpublished(sender, instance, **kwargs):
    notify(PRODUCT_UNPUBLISHED, product=instance)


def connect_wagtail_signals() -> None:
    """Approval happens inside Wagtail (its workflow publishes the revision), so the catalog
    relays Wagtail's own published/unpublished signals for products as catalog events."""
    from wagtail.signals import published, unpublished

    from .models import Product

    published.connect(_on_wagtail_published, sender=Product, dispatch_uid="catalog_product_published")
    unpublished.connect(_on_wagtail_unpublished, sender=Product, dispatch_uid="catalog_product_unpublished")
