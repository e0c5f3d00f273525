"""Product feeds the marketplaces fetch: Google Merchant Center (RSS 2.0) and Meta (CSV).

A feed is the province's own: every approved product of every cooperative that can be shown
to a buyer — a price, a photo and a producer — linking to its page on the public site
(`/san-pham/<id>/`). Out-of-stock products stay in with availability "out of stock": Google
deletes an item that disappears from the feed, and puts it back only after review.

Each item is built and checked (`validate_google_item`, `validate_meta_row`) before it is
written; an item that fails is left out and logged, so one bad product cannot get the whole
feed refused. Items are written one at a time from a chunked query (memory per item is
constant) in a fixed number of queries per chunk of products.

Facts from the specifications (shared/docs/marketplaces.md §6): Google `id` ≤ 50 characters,
`title` ≤ 150, `description` ≤ 5000 plain text, `brand` ≤ 70, `price` "150000 VND",
`availability` in_stock/out_of_stock, `condition` new, `identifier_exists` no when there is
no GTIN/MPN (OCOP products have none), up to 10 `additional_image_link`. Meta: id ≤ 100,
title ≤ 200, description ≤ 9999 plain text, availability "in stock"/"out of stock".
"""

from __future__ import annotations

import csv
import io
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch
from django.utils import translation
from django.utils.html import strip_tags
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from catalog.models import Product, ProductImage
from catalog.selectors import current_certificate

from .exports import absolute_url, image_urls
from .payloads import RENDITION_SPEC

logger = logging.getLogger(__name__)

GOOGLE_NS = "http://base.google.com/ns/1.0"
CHUNK_SIZE = 200
PRODUCT_PAGE = "/san-pham/{product_id}/"

GOOGLE_LIMITS = {"id": 50, "title": 150, "description": 5000, "brand": 70, "product_type": 750}
GOOGLE_REQUIRED = (
    "id",
    "title",
    "description",
    "link",
    "image_link",
    "availability",
    "price",
    "brand",
    "condition",
    "identifier_exists",
)
GOOGLE_AVAILABILITY = ("in_stock", "out_of_stock")
GOOGLE_MAX_ADDITIONAL_IMAGES = 10

META_COLUMNS = (
    "id",
    "title",
    "description",
    "availability",
    "condition",
    "price",
    "link",
    "image_link",
    "brand",
    "additional_image_link",
    "product_type",
)
META_REQUIRED = ("id", "title", "description", "availability", "condition", "price", "link", "image_link", "brand")
META_LIMITS = {"id": 100, "title": 200, "description": 9999, "brand": 100}
META_AVAILABILITY = ("in stock", "out of stock")

_PRICE = re.compile(r"[1-9]\d* VND")
# Characters XML 1.0 cannot carry, and that feeds refuse in plain text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


# --- What goes in ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedItem:
    """One product as every feed needs it, already cut to the feeds' limits."""

    id: str
    title: str
    description: str
    link: str
    image_links: tuple[str, ...]
    in_stock: bool
    price_vnd: int
    brand: str
    product_type: str
    ocop_stars: int | None = None
    weight_grams: int | None = None


def feed_products():
    """Approved products a buyer can be shown: price, a photo, a producer; with what the
    items need prefetched (photos and their rendition, certificates, group)."""
    from wagtail.images import get_image_model

    photos = ProductImage.objects.order_by("sort_order", "pk").prefetch_related(
        Prefetch("image", queryset=get_image_model().objects.prefetch_renditions(RENDITION_SPEC))
    )
    return (
        Product.objects.filter(live=True, cooperative__isnull=False, offer__price_vnd__isnull=False)
        .filter(Exists(ProductImage.objects.filter(product=OuterRef("pk"))))
        .select_related("offer", "cooperative", "category")
        .prefetch_related("certificates", Prefetch("images", queryset=photos))
        .order_by("pk")
    )


def plain_text(text: str) -> str:
    """Text without markup or control characters, paragraphs kept."""
    text = _CONTROL.sub("", strip_tags(text or ""))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _cut(text: str, limit: int) -> str:
    return Truncator(text).chars(limit) if len(text) > limit else text


def _description(product: Product, certificate) -> str:
    """The approved description, then the OCOP facts a buyer trusts (as payloads does)."""
    text = plain_text(product.description) or plain_text(product.name)
    if certificate is not None and certificate.stars and certificate.expires_on:
        text += "\n\n" + _("OCOP %(stars)d-star product, decision %(number)s, valid until %(date)s.") % {
            "stars": certificate.stars,
            "number": certificate.decision_number,
            "date": certificate.expires_on.strftime("%d/%m/%Y"),
        }
    text += "\n" + _("Producer: %(name)s.") % {"name": product.cooperative.name}
    return text


def product_link(product_id: int) -> str:
    return absolute_url(PRODUCT_PAGE.format(product_id=product_id))


def feed_item(product: Product) -> FeedItem:
    offer = product.offer
    certificate = current_certificate(product.certificates.all())
    category = product.category
    parts = (category.group, category.subgroup, category.name) if category else ()
    product_type = " > ".join(dict.fromkeys(part for part in parts if part))
    return FeedItem(
        id=offer.sku,
        title=_cut(plain_text(product.name), GOOGLE_LIMITS["title"]),
        description=_cut(_description(product, certificate), GOOGLE_LIMITS["description"]),
        link=product_link(product.pk),
        image_links=tuple(image_urls(product)),
        in_stock=offer.sellable_stock > 0,
        price_vnd=int(offer.price_vnd),
        brand=_cut(plain_text(product.cooperative.name), GOOGLE_LIMITS["brand"]),
        product_type=_cut(product_type, GOOGLE_LIMITS["product_type"]),
        ocop_stars=certificate.stars if certificate else None,
        weight_grams=product.weight_grams,
    )


def feed_items() -> Iterator[FeedItem]:
    """Every item of the feeds, in the site's language (Vietnamese), whatever the request's."""
    with translation.override(settings.LANGUAGE_CODE):
        for product in feed_products().iterator(chunk_size=CHUNK_SIZE):
            if not product.images.all():
                continue
            yield feed_item(product)


# --- Google Merchant Center -----------------------------------------------------------------------


def _g(tag: str) -> str:
    # Written with the literal prefix: the namespace is declared once on <rss>, not on each item.
    return f"g:{tag}"


def google_item_element(item: FeedItem) -> ET.Element:
    element = ET.Element("item")

    def add(tag, value):
        ET.SubElement(element, _g(tag)).text = str(value)

    add("id", item.id)
    add("title", item.title)
    add("description", item.description)
    add("link", item.link)
    add("image_link", item.image_links[0] if item.image_links else "")
    for url in item.image_links[1 : 1 + GOOGLE_MAX_ADDITIONAL_IMAGES]:
        add("additional_image_link", url)
    add("availability", "in_stock" if item.in_stock else "out_of_stock")
    add("price", f"{item.price_vnd} VND")
    add("brand", item.brand)
    add("condition", "new")
    add("identifier_exists", "no")
    if item.product_type:
        add("product_type", item.product_type)
    if item.weight_grams:
        add("shipping_weight", f"{item.weight_grams} g")
    if item.ocop_stars:
        add("custom_label_0", f"OCOP {item.ocop_stars} sao")
    return element


def _local(tag: str) -> str:
    """'id' for '{http://base.google.com/ns/1.0}id' (parsed) or 'g:id' (as built)."""
    if tag.startswith("{"):
        namespace, _sep, name = tag[1:].partition("}")
        return name if namespace == GOOGLE_NS else tag
    return tag[2:] if tag.startswith("g:") else tag


def _is_web_address(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def validate_google_item(element: ET.Element) -> list[str]:
    """What is wrong with one <item> for Google Merchant Center (empty: nothing). Works on an
    item as built and on one parsed from the feed (namespaced tags)."""
    values: dict[str, list[str]] = {}
    for child in element:
        values.setdefault(_local(child.tag), []).append((child.text or "").strip())
    problems = []
    for name in GOOGLE_REQUIRED:
        found = values.get(name, [])
        if not found or not found[0]:
            problems.append(f"{name} is missing")
        elif len(found) > 1:
            problems.append(f"{name} appears {len(found)} times")
    for name, limit in GOOGLE_LIMITS.items():
        for value in values.get(name, []):
            if len(value) > limit:
                problems.append(f"{name} is {len(value)} characters long (at most {limit})")
    for name in ("link", "image_link", "additional_image_link"):
        for value in values.get(name, []):
            if value and not _is_web_address(value):
                problems.append(f"{name} {value!r} is not an http(s) address")
    if len(values.get("additional_image_link", [])) > GOOGLE_MAX_ADDITIONAL_IMAGES:
        problems.append(f"more than {GOOGLE_MAX_ADDITIONAL_IMAGES} additional_image_link")
    availability = (values.get("availability") or [""])[0]
    if availability and availability not in GOOGLE_AVAILABILITY:
        problems.append(f"availability {availability!r} is not one of {', '.join(GOOGLE_AVAILABILITY)}")
    price = (values.get("price") or [""])[0]
    if price and not _PRICE.fullmatch(price):
        problems.append(f"price {price!r} is not a whole amount in VND such as '150000 VND'")
    condition = (values.get("condition") or [""])[0]
    if condition and condition not in ("new", "refurbished", "used"):
        problems.append(f"condition {condition!r} is not new, refurbished or used")
    identifier = (values.get("identifier_exists") or [""])[0]
    if identifier and identifier not in ("yes", "no") and not values.get("gtin") and not values.get("mpn"):
        problems.append(f"identifier_exists {identifier!r} is not yes or no")
    description = (values.get("description") or [""])[0]
    if description and description != strip_tags(description):
        problems.append("description contains markup; plain text only")
    return problems


def google_merchant_feed() -> Iterator[bytes]:
    """The RSS 2.0 feed, as UTF-8 chunks: the header, one chunk per item, the footer."""
    with translation.override(settings.LANGUAGE_CODE):
        title = _("OCOP products of %(province)s") % {"province": settings.OCOP_PROVINCE_NAME}
        about = _("Products certified under the One Commune One Product programme, sold by their producers.")
    channel_head = ET.Element("channel")
    ET.SubElement(channel_head, "title").text = str(title)
    ET.SubElement(channel_head, "link").text = absolute_url("/")
    ET.SubElement(channel_head, "description").text = str(about)
    head = ET.tostring(channel_head, encoding="unicode").removesuffix("</channel>")
    yield (f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:g="{GOOGLE_NS}">\n{head}\n').encode()
    for item in feed_items():
        element = google_item_element(item)
        problems = validate_google_item(element)
        if problems:
            logger.warning("Google Merchant feed: %s left out: %s", item.id, "; ".join(problems))
            continue
        yield ET.tostring(element, encoding="unicode").encode() + b"\n"
    yield b"</channel>\n</rss>\n"


# --- Meta catalog ---------------------------------------------------------------------------------------


def meta_row(item: FeedItem) -> dict[str, str]:
    return {
        "id": item.id,
        "title": _cut(item.title, META_LIMITS["title"]),
        # One line: Meta's description is plain text, and some CSV readers stop at a line break.
        "description": _cut(" ".join(item.description.split()), META_LIMITS["description"]),
        "availability": "in stock" if item.in_stock else "out of stock",
        "condition": "new",
        "price": f"{item.price_vnd} VND",
        "link": item.link,
        "image_link": item.image_links[0] if item.image_links else "",
        "brand": item.brand,
        "additional_image_link": ",".join(item.image_links[1:]),
        "product_type": item.product_type,
    }


def validate_meta_row(row: dict) -> list[str]:
    """What is wrong with one row of the Meta catalog (empty: nothing)."""
    problems = [f"{name} is missing" for name in META_REQUIRED if not (row.get(name) or "").strip()]
    for name, limit in META_LIMITS.items():
        value = row.get(name) or ""
        if len(value) > limit:
            problems.append(f"{name} is {len(value)} characters long (at most {limit})")
    availability = row.get("availability") or ""
    if availability and availability not in META_AVAILABILITY:
        problems.append(f"availability {availability!r} is not one of {', '.join(META_AVAILABILITY)}")
    condition = row.get("condition") or ""
    if condition and condition not in ("new", "refurbished", "used"):
        problems.append(f"condition {condition!r} is not new, refurbished or used")
    price = row.get("price") or ""
    if price and not _PRICE.fullmatch(price):
        problems.append(f"price {price!r} is not a whole amount in VND such as '150000 VND'")
    for name in ("link", "image_link"):
        value = row.get(name) or ""
        if value and not _is_web_address(value):
            problems.append(f"{name} {value!r} is not an http(s) address")
    for value in filter(None, (row.get("additional_image_link") or "").split(",")):
        if not _is_web_address(value):
            problems.append(f"additional_image_link {value!r} is not an http(s) address")
    description = row.get("description") or ""
    if description != strip_tags(description):
        problems.append("description contains markup; plain text only")
    return problems


def meta_catalog_csv() -> Iterator[str]:
    """The Meta catalog as CSV text chunks (UTF-8 without BOM, comma, header first)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=META_COLUMNS, lineterminator="\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writeheader()
    yield flush()
    for item in feed_items():
        row = meta_row(item)
        problems = validate_meta_row(row)
        if problems:
            logger.warning("Meta catalog: %s left out: %s", item.id, "; ".join(problems))
            continue
        writer.writerow(row)
        yield flush()
