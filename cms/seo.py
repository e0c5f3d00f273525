"""What search engines, chat apps and phone cameras read from a product page: schema.org JSON-LD,
OpenGraph, and a QR code of the page's address (for labels, stalls and fairs)."""

import json

import segno
from django.utils.html import strip_tags


def product_json_ld(product, *, url: str, image_urls: list[str], certificate=None) -> str:
    """schema.org Product + Offer, price in VND, as a JSON string safe inside <script>."""
    offer = getattr(product, "offer", None)
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "description": strip_tags(product.description or "")[:5000],
        "url": url,
        "image": image_urls,
    }
    if offer is not None:
        data["sku"] = offer.sku
        if offer.price_vnd:
            data["offers"] = {
                "@type": "Offer",
                "price": str(offer.price_vnd),
                "priceCurrency": "VND",
                "availability": "https://schema.org/InStock"
                if offer.sellable_stock > 0
                else "https://schema.org/OutOfStock",
                "url": url,
            }
    if product.cooperative_id:
        data["brand"] = {"@type": "Brand", "name": product.cooperative.name}
    if certificate is not None and certificate.stars:
        data["award"] = f"OCOP {certificate.stars}★ ({certificate.decision_number})".strip()
    text = json.dumps(data, ensure_ascii=False)
    # Inside <script>, "</" must not appear as such.
    return text.replace("</", "<\\/")


def qr_svg(url: str) -> str:
    """An inline SVG QR code of `url` (medium error correction survives a scuffed label)."""
    return segno.make(url, error="m").svg_inline(scale=4, dark="#1d1d1b", title=url)
