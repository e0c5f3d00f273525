"""A listing's payload, rebuilt from current data every time a job runs (never queued stale).

Only the live (approved) version of a product is ever sent. Photos go out as one rendition that
every channel accepts (JPEG, longest side 1600 px: above every marketplace's minimum, under
every maximum and file-size limit), made once by Wagtail and reused.
"""

from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from catalog.models import Product
from catalog.selectors import current_certificate

from .connectors.base import ImageFile, ListingPayload
from .models import CategoryMapping, Listing

RENDITION_SPEC = "max-1600x1600|format-jpeg|jpegquality-85"
MAX_IMAGES = 9


def _absolute(url: str) -> str:
    return url if url.startswith("http") else settings.WAGTAILADMIN_BASE_URL.rstrip("/") + url


def product_images(product: Product) -> tuple[ImageFile, ...]:
    images = []
    for photo in product.images.select_related("image").order_by("sort_order")[:MAX_IMAGES]:
        rendition = photo.image.get_rendition(RENDITION_SPEC)
        with rendition.file.open("rb") as handle:
            content = handle.read()
        images.append(
            ImageFile(name=f"{product.pk}-{photo.image_id}.jpg", content=content, url=_absolute(rendition.url))
        )
    return tuple(images)


def _description(product: Product) -> str:
    """The approved description, followed by the OCOP facts a buyer trusts."""
    text = product.description.strip()
    certificate = current_certificate(product.certificates.all())
    if certificate is not None and certificate.stars:
        facts = _("OCOP %(stars)d-star product, decision %(number)s, valid until %(date)s.") % {
            "stars": certificate.stars,
            "number": certificate.decision_number,
            "date": certificate.expires_on.strftime("%d/%m/%Y"),
        }
        text = f"{text}\n\n{facts}"
    if product.cooperative_id:
        text = f"{text}\n" + _("Producer: %(name)s.") % {"name": product.cooperative.name}
    return text


def category_for(listing: Listing) -> str:
    product = listing.product
    if product.category_id is None:
        return ""
    mapping = CategoryMapping.objects.filter(
        channel_id=listing.channel_id, ocop_category_id=product.category_id
    ).first()
    return mapping.marketplace_category_id if mapping else ""


def listing_payload(listing: Listing, *, with_images: bool = True) -> ListingPayload:
    """What the marketplace gets for this listing now: the live product and the current offer."""
    product = Product.objects.select_related("cooperative", "offer").get(pk=listing.product_id)
    offer = product.offer
    return ListingPayload(
        sku=offer.sku,
        title=product.name,
        description=_description(product),
        category_id=category_for(listing),
        price_vnd=offer.price_vnd or 0,
        stock=offer.sellable_stock,
        weight_grams=product.weight_grams or 0,
        length_cm=product.package_length_cm or Decimal(0),
        width_cm=product.package_width_cm or Decimal(0),
        height_cm=product.package_height_cm or Decimal(0),
        images=product_images(product) if with_images else (),
        brand=product.cooperative.name if product.cooperative_id else "",
    )
