"""Export channels: marketplaces without a seller API (Postmart, Voso), worked by a person.

Postmart (Vietnam Post) and Voso (Viettel Post) publish no seller API and no bulk-upload
template (shared/docs/marketplaces.md §5). So the platform does the three things a person
cannot do reliably by hand, and leaves the clicking in the seller centre to them:

1. `build_upload_workbook` writes the cooperative's approved, ready-to-sell products into an
   .xlsx with every field Vietnamese marketplaces ask for. The column headers are a mapping
   (our field → header), a default per channel that settings.EXPORT_COLUMN_MAPPINGS can
   replace, because no official template could be checked. Products that cannot go out are
   listed on a second sheet with the reason: nothing disappears silently.
2. `listing_confirm_url` records "it is live at this address" once the person sees the product
   on the marketplace; only then does the listing count (coverage counts live listings).
   `listing_take_down` records that it was taken down.
3. `import_order_export` reads the seller centre's order export (CSV or XLSX). Like the
   register import it checks every row first and saves nothing when one is wrong, naming the
   row and the column; a good file goes through `services.order_upsert`, so importing the same
   file again changes nothing and stock moves once per line.

Buyer data in the order export (name, phone, address) is never read: only the columns below.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import logging
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.log_actions import log

from catalog.models import Offer, Product, ProductImage
from catalog.register import RowProblem
from catalog.selectors import current_certificate
from cooperatives.text import clean_text, match_key

from . import facts, services
from .connectors.base import OrderStatus, RemoteOrder, RemoteOrderLine
from .models import CategoryMapping, Channel, Listing, MarketplaceAccount, Order, WhoMustAct
from .payloads import MAX_IMAGES, RENDITION_SPEC

logger = logging.getLogger(__name__)

PRODUCTS_SHEET = "Sản phẩm"
SKIPPED_SHEET = "Chưa xuất"
SKIPPED_REASON_HEADER = "Lý do"
EXCEL_CELL_MAX = 32_767  # characters in one cell
MAX_ORDER_ROWS = 50_000  # a seller centre's export for one shop is far smaller
MAX_ORDER_FILE_BYTES = 20 * 1024 * 1024
HEADER_SEARCH_ROWS = 10  # exports often start with a title row or two
LISTING_URL_MAX = 500  # Listing.external_url


class ExportError(services.SyncError):
    """A request about an export channel that cannot be served; `message` says why."""


# --- The upload spreadsheet: fields and their column headers ------------------------------------

# Every field the workbook can carry, with what it holds (for the documentation and the error
# raised by a mapping that names an unknown field).
FIELDS: dict[str, str] = {
    "sku": "our SKU (Offer.sku), stable; the order export must carry it back",
    "name": "product name (approved version)",
    "category": "OCOP group path: group › subgroup › product set (QĐ 148/2023)",
    "marketplace_category": "the channel's category from the category mapping, when an officer set one",
    "description": "approved description, plain text",
    "price_vnd": "price in whole đồng (integer)",
    "stock": "sellable stock: stock − safety buffer",
    "weight_grams": "weight with packaging, g (integer)",
    "weight_kg": "weight with packaging, kg (3 decimals)",
    "length_cm": "package length, cm",
    "width_cm": "package width, cm",
    "height_cm": "package height, cm",
    **{f"image_{n}": f"absolute address of photo {n} (JPEG, longest side 1600 px)" for n in range(1, MAX_IMAGES + 1)},
    "image_urls": "every photo address, one per line, in one cell",
    "brand": "brand: the producer's name",
    "producer": "producer (cooperative) name",
    "producer_address": "producer's address",
    "origin": "commune of origin as certified, with its district and province when known",
    "country": "country of origin: Việt Nam",
    "ocop_stars": "OCOP stars of the current valid certificate (3, 4 or 5)",
    "certificate_number": "OCOP decision number of that certificate",
    "certificate_expires_on": "that certificate's expiry, dd/mm/yyyy",
    "shelf_life_days": "shelf life, days",
    "ingredients": "ingredients",
    "storage_instructions": "storage instructions",
}

# The default headers: the Vietnamese words sellers see in every VN seller centre. No official
# Postmart or Voso template was found; adapt with settings.EXPORT_COLUMN_MAPPINGS.
DEFAULT_COLUMNS: dict[str, str] = {
    "sku": "Mã SKU",
    "name": "Tên sản phẩm",
    "category": "Nhóm sản phẩm OCOP",
    "marketplace_category": "Ngành hàng trên sàn",
    "description": "Mô tả sản phẩm",
    "price_vnd": "Giá bán (VNĐ)",
    "stock": "Số lượng tồn kho",
    "weight_grams": "Khối lượng (g)",
    "weight_kg": "Khối lượng (kg)",
    "length_cm": "Chiều dài (cm)",
    "width_cm": "Chiều rộng (cm)",
    "height_cm": "Chiều cao (cm)",
    "image_1": "Ảnh bìa",
    **{f"image_{n}": f"Ảnh {n}" for n in range(2, MAX_IMAGES + 1)},
    "brand": "Thương hiệu",
    "producer": "Nhà sản xuất",
    "producer_address": "Địa chỉ nhà sản xuất",
    "origin": "Nơi sản xuất",
    "country": "Xuất xứ",
    "ocop_stars": "Hạng sao OCOP",
    "certificate_number": "Số quyết định công nhận OCOP",
    "certificate_expires_on": "Chứng nhận OCOP có hiệu lực đến",
    "shelf_life_days": "Hạn sử dụng (ngày)",
    "ingredients": "Thành phần",
    "storage_instructions": "Hướng dẫn bảo quản",
}

DEFAULT_COLUMN_MAPPINGS: dict[str, dict[str, str]] = {
    "postmart": DEFAULT_COLUMNS,
    "voso": DEFAULT_COLUMNS,
}


def column_mapping(channel_code: str) -> list[tuple[str, str]]:
    """(field, header) in column order: settings.EXPORT_COLUMN_MAPPINGS[channel_code] when set
    (it replaces the default entirely, so its order is the file's), else the default."""
    configured = getattr(settings, "EXPORT_COLUMN_MAPPINGS", None) or {}
    mapping = configured.get(channel_code) or DEFAULT_COLUMN_MAPPINGS.get(channel_code) or DEFAULT_COLUMNS
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ImproperlyConfigured(
            f"EXPORT_COLUMN_MAPPINGS[{channel_code!r}] names unknown fields {unknown}; "
            f"the fields are: {', '.join(FIELDS)}"
        )
    return [(key, str(header)) for key, header in mapping.items() if header]


# Hosts a confirmed listing address may be on (the host itself or a subdomain of it).
DEFAULT_CHANNEL_DOMAINS: dict[str, tuple[str, ...]] = {
    "postmart": ("postmart.vn",),
    "voso": ("voso.vn",),
}


def channel_domains(channel_code: str) -> tuple[str, ...]:
    configured = getattr(settings, "EXPORT_CHANNEL_DOMAINS", None) or {}
    return tuple(configured.get(channel_code) or DEFAULT_CHANNEL_DOMAINS.get(channel_code, ()))


# --- Reading the products ------------------------------------------------------------------------


def export_channel(channel_code: str) -> Channel:
    """The active export channel with this code; ExportError otherwise."""
    channel = Channel.objects.filter(code=channel_code, kind=Channel.Kind.EXPORT, is_active=True).first()
    if channel is None:
        raise ExportError(_("%(channel)s is not a channel worked through spreadsheets.") % {"channel": channel_code})
    return channel


def _ensure_export_channel(channel: Channel) -> None:
    if channel.kind != Channel.Kind.EXPORT:
        raise ExportError(_("%(channel)s is not a channel worked through spreadsheets.") % {"channel": channel.name})


def cooperative_products(*, cooperative):
    """The cooperative's products with everything a row of the workbook needs, in a fixed
    number of queries (photos with their marketplace rendition, certificates, places)."""
    from wagtail.images import get_image_model

    photos = ProductImage.objects.order_by("sort_order", "pk").prefetch_related(
        Prefetch("image", queryset=get_image_model().objects.prefetch_renditions(RENDITION_SPEC))
    )
    return (
        Product.objects.filter(cooperative=cooperative)
        .select_related(
            "offer",
            "category",
            "cooperative",
            "cooperative__commune__parent__parent",
            "origin_commune__parent__parent",
        )
        .prefetch_related("certificates", Prefetch("images", queryset=photos))
        .order_by("name", "pk")
    )


def absolute_url(path: str) -> str:
    return path if path.startswith(("http://", "https://")) else settings.WAGTAILADMIN_BASE_URL.rstrip("/") + path


def image_urls(product: Product) -> list[str]:
    """Absolute addresses of the product's photos as marketplaces get them: the same rendition
    and order as payloads.product_images, without reading the files. A photo whose file cannot
    be read is left out (and logged) rather than failing the whole download or feed."""
    photos = sorted(product.images.all(), key=lambda photo: (photo.sort_order or 0, photo.pk))[:MAX_IMAGES]
    urls = []
    for photo in photos:
        try:
            urls.append(absolute_url(photo.image.get_rendition(RENDITION_SPEC).url))
        except OSError:  # Wagtail's SourceImageIOError: the original file is gone
            logger.warning("Photo %s of product %s cannot be read; left out", photo.image_id, product.pk)
    return urls


def not_ready_reasons(product: Product) -> list[str]:
    """Why the product cannot be put on an export channel now (empty: it can)."""
    reasons = []
    if not product.live:
        reasons.append(_("Not approved yet: only products approved by the trade department can be sold."))
    offer = getattr(product, "offer", None)
    if offer is None or offer.price_vnd is None:
        reasons.append(_("No price: enter the selling price under Price and stock."))
    if offer is None or offer.sellable_stock <= 0:
        reasons.append(
            _("No stock to sell: stock %(stock)d, safety buffer %(buffer)d. Update the stock under Price and stock.")
            % {"stock": offer.stock if offer else 0, "buffer": offer.safety_buffer if offer else 0}
        )
    if not len(product.images.all()):
        reasons.append(_("No photo: add at least one photo and send the product for review."))
    return reasons


def _place(unit) -> str:
    names = []
    while unit is not None and len(names) < 3:
        names.append(unit.name)
        unit = unit.parent
    return ", ".join(names)


def _decimal(value):
    return Decimal(value).normalize() if value is not None else None


def _category_path(category) -> str:
    if category is None:
        return ""
    parts = [category.group, category.subgroup, category.name]
    return " › ".join(dict.fromkeys(part for part in parts if part))


def row_values(product: Product, *, marketplace_categories: dict[int, str]) -> dict[str, object]:
    """Every field of FIELDS for one product (the approved version and its current offer)."""
    offer = product.offer
    cooperative = product.cooperative
    certificate = current_certificate(product.certificates.all())
    urls = image_urls(product)
    weight = product.weight_grams
    values: dict[str, object] = {
        "sku": offer.sku,
        "name": product.name,
        "category": _category_path(product.category),
        "marketplace_category": marketplace_categories.get(product.category_id, ""),
        "description": product.description.strip(),
        "price_vnd": int(offer.price_vnd) if offer.price_vnd is not None else None,
        "stock": offer.sellable_stock,
        "weight_grams": weight,
        "weight_kg": round(weight / 1000, 3) if weight else None,
        "length_cm": _decimal(product.package_length_cm),
        "width_cm": _decimal(product.package_width_cm),
        "height_cm": _decimal(product.package_height_cm),
        "image_urls": "\n".join(urls),
        "brand": cooperative.name if cooperative else "",
        "producer": cooperative.name if cooperative else "",
        "producer_address": cooperative.address if cooperative else "",
        "origin": _place(product.origin_commune or (cooperative.commune if cooperative else None)),
        "country": "Việt Nam",
        "ocop_stars": certificate.stars if certificate else None,
        "certificate_number": certificate.decision_number if certificate else "",
        "certificate_expires_on": (
            certificate.expires_on.strftime("%d/%m/%Y") if certificate and certificate.expires_on else ""
        ),
        "shelf_life_days": product.shelf_life_days,
        "ingredients": product.ingredients.strip(),
        "storage_instructions": product.storage_instructions.strip(),
    }
    for number in range(1, MAX_IMAGES + 1):
        values[f"image_{number}"] = urls[number - 1] if number <= len(urls) else ""
    return values


# --- Writing the workbook ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkbookSummary:
    exported: int
    skipped: int


def _cell(sheet, value, *, bold=False):
    """A write-only cell that is never a formula (a description starting with "=" stays text)
    and never holds characters Excel refuses."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:EXCEL_CELL_MAX]
    cell = WriteOnlyCell(sheet, value)
    if isinstance(value, str):
        cell.data_type = "s"
    if bold:
        cell.font = Font(bold=True)
    return cell


def build_upload_workbook(*, cooperative, channel: Channel, destination) -> WorkbookSummary:
    """Write the upload workbook of `cooperative` for `channel` to `destination` (a path or a
    binary file object): sheet "Sản phẩm", one row per approved product that is ready to sell,
    headers from `column_mapping`; sheet "Chưa xuất", every other product with its reasons.
    Streams row by row (openpyxl write-only): memory does not grow with the catalogue."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    _ensure_export_channel(channel)
    columns = column_mapping(channel.code)
    marketplace_categories = dict(
        CategoryMapping.objects.filter(channel=channel)
        .exclude(marketplace_category_path="")
        .values_list("ocop_category_id", "marketplace_category_path")
    )
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(PRODUCTS_SHEET)
    skipped_sheet = workbook.create_sheet(SKIPPED_SHEET)
    for index, (key, header) in enumerate(columns, start=1):
        wide = key in ("description", "image_urls", "name") or key.startswith("image_")
        sheet.column_dimensions[get_column_letter(index)].width = 40 if wide else max(12, min(30, len(header) + 4))
    sheet.freeze_panes = "A2"
    sheet.append([_cell(sheet, header, bold=True) for _key, header in columns])
    for letter, width in zip("ABC", (20, 40, 90), strict=True):
        skipped_sheet.column_dimensions[letter].width = width
    skipped_headers = (DEFAULT_COLUMNS["sku"], DEFAULT_COLUMNS["name"], SKIPPED_REASON_HEADER)
    skipped_sheet.append([_cell(skipped_sheet, header, bold=True) for header in skipped_headers])
    exported = skipped = 0
    for product in cooperative_products(cooperative=cooperative).iterator(chunk_size=200):
        reasons = not_ready_reasons(product)
        offer = getattr(product, "offer", None)
        if reasons:
            values = (offer.sku if offer else "", product.name, "\n".join(reasons))
            skipped_sheet.append([_cell(skipped_sheet, value) for value in values])
            skipped += 1
            continue
        values = row_values(product, marketplace_categories=marketplace_categories)
        if not values["image_urls"]:
            values = (offer.sku, product.name, _("The photos cannot be read: upload them again and send for review."))
            skipped_sheet.append([_cell(skipped_sheet, value) for value in values])
            skipped += 1
            continue
        sheet.append([_cell(sheet, values[key]) for key, _header in columns])
        exported += 1
    workbook.save(destination)
    return WorkbookSummary(exported=exported, skipped=skipped)


# --- "It is live at this address" ------------------------------------------------------------------


def export_account(*, cooperative, channel: Channel) -> MarketplaceAccount:
    """The cooperative's shop on an export channel, created on first use. There is nothing to
    authorise (no API): it is connected from the start and holds no tokens."""
    _ensure_export_channel(channel)
    if cooperative is None:
        raise ExportError(_("Export channels are worked by a cooperative."))
    account, created = MarketplaceAccount.objects.get_or_create(
        cooperative=cooperative,
        channel=channel,
        defaults={"status": MarketplaceAccount.Status.CONNECTED, "connected_at": timezone.now()},
    )
    if not created and account.status != MarketplaceAccount.Status.CONNECTED:
        account.status = MarketplaceAccount.Status.CONNECTED
        account.save(update_fields=["status", "updated_at"])
    return account


def validate_listing_url(channel: Channel, url: str) -> str:
    """The address, cleaned, if it can be a product page on `channel`; ExportError otherwise."""
    url = (url or "").strip()
    domains = channel_domains(channel.code)
    names = {"channel": channel.name, "domains": ", ".join(domains) or "—"}
    if not url:
        raise ExportError(_("Paste the address of the product's page on %(channel)s.") % names)
    if len(url) > LISTING_URL_MAX:
        raise ExportError(
            _("This address is longer than %(max)d characters. Copy only the address of the product's page.")
            % {"max": LISTING_URL_MAX}
        )
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as error:
        raise ExportError(
            _(
                "“%(url)s” is not a web address. Open the product on %(channel)s and copy the address from the "
                "browser's address bar (it starts with https://)."
            )
            % {"url": url[:100], **names}
        ) from error
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if not any(host == domain or host.endswith("." + domain) for domain in domains):
        raise ExportError(
            _(
                "This address is not on %(channel)s: a product page on %(channel)s is on %(domains)s. Open the "
                "product on %(channel)s as buyers see it and copy the address from the browser."
            )
            % names
        )
    if parts.path.strip("/") == "":
        raise ExportError(
            _("This is the home page of %(channel)s, not the product's page. Open the product and copy its address.")
            % names
        )
    return url


@transaction.atomic
def listing_confirm_url(*, product: Product, account: MarketplaceAccount, url: str, user=None) -> Listing:
    """Record that `product` is live on the export channel at `url`. The listing is LIVE from
    now (first_live_at is kept from the first time); the price it was listed at is remembered
    so the page can say when it changed. Only the marketplace's own pages count."""
    channel = account.channel
    _ensure_export_channel(channel)
    if account.cooperative_id is None or product.cooperative_id != account.cooperative_id:
        raise ExportError(_("This product belongs to another cooperative."))
    if not product.live:
        raise ExportError(
            _("Only products approved by the trade department can be sold on %(channel)s.") % {"channel": channel.name}
        )
    url = validate_listing_url(channel, url)
    taken = (
        Listing.objects.filter(channel=channel, external_url=url)
        .exclude(product=product)
        .exclude(reported_state=Listing.Reported.WITHDRAWN)  # a wrong product corrected: the address is free
        .select_related("product")
    )
    other = taken.first()
    if other is not None:
        if other.product.cooperative_id == product.cooperative_id:
            message = _("This address is already recorded for “%(product)s”. Each product has its own page.") % {
                "product": other.product.name
            }
        else:
            message = _("This address is already recorded for another product. Each product has its own page.")
        raise ExportError(message)
    listing, _created = Listing.objects.get_or_create(
        product=product, account=account, defaults={"channel_id": account.channel_id}
    )
    listing = Listing.objects.select_for_update().get(pk=listing.pk)
    now = timezone.now()
    offer = Offer.objects.filter(product=product).first()
    listing.desired_state = Listing.Desired.PUBLISHED
    listing.reported_state = Listing.Reported.LIVE
    listing.external_url = url
    listing.first_live_at, listing.live_until = listing.first_live_at or now, None
    listing.last_synced_at = now
    listing.raw_status = listing.raw_reason = listing.last_error = listing.explanation = ""
    listing.who_must_act = WhoMustAct.NOBODY
    listing.synced_revision_id = product.live_revision_id
    listing.synced_price_vnd = offer.price_vnd if offer else None
    listing.synced_stock = offer.sellable_stock if offer else None
    listing.save()
    facts.product_facts_refresh([product.pk])
    log(product, "ocop.export_listing_live", user=user, data={"channel": channel.name, "url": url})
    return listing


@transaction.atomic
def listing_take_down(*, product: Product, account: MarketplaceAccount, user=None) -> Listing:
    """Record that the person took the product down from the export channel."""
    _ensure_export_channel(account.channel)
    listing = Listing.objects.select_for_update().filter(product=product, account=account).first()
    if listing is None or account.cooperative_id is None or product.cooperative_id != account.cooperative_id:
        raise ExportError(_("This product has no address recorded on %(channel)s.") % {"channel": account.channel.name})
    now = timezone.now()
    if listing.reported_state == Listing.Reported.LIVE:
        listing.live_until = now
    listing.desired_state = Listing.Desired.WITHDRAWN
    listing.reported_state = Listing.Reported.WITHDRAWN
    listing.last_synced_at = now
    listing.who_must_act = WhoMustAct.NOBODY
    listing.explanation = ""
    listing.save()
    facts.product_facts_refresh([product.pk])
    log(product, "ocop.export_listing_withdrawn", user=user, data={"channel": account.channel.name})
    return listing


# --- The seller centre's order export ---------------------------------------------------------------


@dataclass(frozen=True)
class OrderColumn:
    key: str
    header: str  # the name used in messages when the column is missing
    aliases: tuple[str, ...]
    required: bool = False


ORDER_COLUMNS: tuple[OrderColumn, ...] = (
    OrderColumn(
        "order_code",
        "Mã đơn hàng",
        ("Mã đơn", "Mã ĐH", "Số đơn hàng", "Mã đơn hàng sàn", "Order ID", "Order code", "Order number"),
        required=True,
    ),
    OrderColumn(
        "status",
        "Trạng thái",
        ("Trạng thái đơn hàng", "Tình trạng", "Tình trạng đơn hàng", "Status", "Order status"),
        required=True,
    ),
    OrderColumn(
        "sku",
        "Mã SKU",
        ("SKU", "SKU sản phẩm", "Mã SKU sản phẩm", "SKU người bán", "Mã hàng", "Seller SKU"),
        required=True,
    ),
    OrderColumn("quantity", "Số lượng", ("SL", "Số lượng sản phẩm", "Quantity", "Qty"), required=True),
    OrderColumn("product_name", "Tên sản phẩm", ("Sản phẩm", "Tên hàng", "Product name")),
    OrderColumn("unit_price", "Đơn giá", ("Giá", "Giá bán", "Đơn giá (VNĐ)", "Giá bán (VNĐ)", "Unit price", "Price")),
    OrderColumn("line_total", "Thành tiền", ("Thành tiền (VNĐ)", "Line total", "Subtotal")),
    OrderColumn(
        "order_total",
        "Tổng tiền đơn hàng",
        ("Tổng tiền", "Tổng thanh toán", "Tổng giá trị đơn hàng", "Tổng cộng", "Order total", "Total"),
    ),
    OrderColumn(
        "ordered_at",
        "Ngày đặt hàng",
        ("Ngày đặt", "Thời gian đặt hàng", "Ngày tạo đơn", "Ngày tạo", "Order date", "Created at", "Order time"),
    ),
    OrderColumn(
        "updated_at",
        "Ngày cập nhật",
        ("Thời gian cập nhật", "Cập nhật lúc", "Ngày cập nhật trạng thái", "Updated at", "Last updated"),
    ),
)
ORDER_COLUMNS_BY_KEY = {column.key: column for column in ORDER_COLUMNS}

# The statuses seller centres write, folded with match_key, and what they mean here. A status
# not listed is an error (never a guess). settings.EXPORT_ORDER_STATUSES[channel_code] adds to
# or overrides these: {"Chờ lấy hàng": "paid", …} with values pending, paid, shipped,
# completed, cancelled, returned.
DEFAULT_ORDER_STATUSES: dict[str, OrderStatus] = {
    "Chờ xác nhận": OrderStatus.PENDING,
    "Chưa xác nhận": OrderStatus.PENDING,
    "Chờ duyệt": OrderStatus.PENDING,  # Voso's seller guide: a new order awaits the seller
    "Chờ thanh toán": OrderStatus.PENDING,
    "Mới": OrderStatus.PENDING,
    "Đơn mới": OrderStatus.PENDING,
    "Đã xác nhận": OrderStatus.PAID,
    "Đã duyệt": OrderStatus.PAID,  # Voso: the seller confirmed it
    "Chờ xuất kho": OrderStatus.PAID,  # Voso: waybill made, waiting to leave the warehouse
    "Đã thanh toán": OrderStatus.PAID,
    "Đang xử lý": OrderStatus.PAID,
    "Chờ lấy hàng": OrderStatus.PAID,
    "Chờ đóng gói": OrderStatus.PAID,
    "Đã đóng gói": OrderStatus.PAID,
    "Chờ giao hàng": OrderStatus.PAID,
    "Đang giao": OrderStatus.SHIPPED,
    "Đang giao hàng": OrderStatus.SHIPPED,
    "Đang vận chuyển": OrderStatus.SHIPPED,
    "Đã lấy hàng": OrderStatus.SHIPPED,
    "Đã giao": OrderStatus.COMPLETED,
    "Đã giao hàng": OrderStatus.COMPLETED,
    "Giao thành công": OrderStatus.COMPLETED,
    "Giao hàng thành công": OrderStatus.COMPLETED,
    "Đã nhận hàng": OrderStatus.COMPLETED,
    "Hoàn thành": OrderStatus.COMPLETED,
    "Đã hoàn thành": OrderStatus.COMPLETED,
    "Thành công": OrderStatus.COMPLETED,
    "Đã hủy": OrderStatus.CANCELLED,
    "Hủy": OrderStatus.CANCELLED,
    "Đã hủy đơn": OrderStatus.CANCELLED,
    "Hủy đơn": OrderStatus.CANCELLED,
    "Trả hàng": OrderStatus.RETURNED,
    "Đã trả hàng": OrderStatus.RETURNED,
    "Hoàn hàng": OrderStatus.RETURNED,
    "Đã hoàn hàng": OrderStatus.RETURNED,
    "Trả hàng/Hoàn tiền": OrderStatus.RETURNED,
    "Chuyển hoàn": OrderStatus.RETURNED,
    "Đã hoàn tiền": OrderStatus.RETURNED,
}

# How far along an order is, to refuse going backwards when the file gives no update time.
_STATUS_RANK = {
    Order.Status.PENDING: 0,
    Order.Status.PAID: 1,
    Order.Status.SHIPPED: 2,
    Order.Status.COMPLETED: 3,
    Order.Status.RETURNED: 4,
    Order.Status.CANCELLED: 4,
}


def order_statuses(channel_code: str) -> dict[str, OrderStatus]:
    """Folded status text → canonical status for the channel (defaults + settings)."""
    statuses = {match_key(text): status for text, status in DEFAULT_ORDER_STATUSES.items()}
    configured = (getattr(settings, "EXPORT_ORDER_STATUSES", None) or {}).get(channel_code) or {}
    for text, status in configured.items():
        statuses[match_key(text)] = OrderStatus(status)
    return statuses


def _order_header_keys(channel_code: str) -> dict[str, str]:
    """Folded header → column key, defaults plus settings.EXPORT_ORDER_COLUMN_ALIASES[channel]."""
    keys = {}
    for column in ORDER_COLUMNS:
        for alias in (column.header, column.key, *column.aliases):
            keys[match_key(alias)] = column.key
    configured = (getattr(settings, "EXPORT_ORDER_COLUMN_ALIASES", None) or {}).get(channel_code) or {}
    for key, aliases in configured.items():
        if key not in ORDER_COLUMNS_BY_KEY:
            raise ImproperlyConfigured(f"EXPORT_ORDER_COLUMN_ALIASES[{channel_code!r}] names unknown column {key!r}")
        for alias in [aliases] if isinstance(aliases, str) else aliases:
            keys[match_key(alias)] = key
    return keys


@dataclass
class OrderImportReport:
    """What an order import found and did. Nothing was saved unless `saved`."""

    filename: str
    rows: int = 0
    orders: int = 0
    lines: int = 0
    new_orders: int = 0
    updated_orders: int = 0
    unchanged_orders: int = 0
    errors: list[RowProblem] = field(default_factory=list)
    saved: bool = False

    @property
    def is_valid(self) -> bool:
        return not self.errors

    def add_error(self, row_number: int, column_header: str, message: str) -> None:
        if len(self.errors) < 1000:
            self.errors.append(RowProblem(row_number, column_header, message))


class _FileError(Exception):
    def __init__(self, message: str, row_number: int = 1, column_header: str = ""):
        super().__init__(message)
        self.message, self.row_number, self.column_header = message, row_number, column_header


_UNDECODABLE = re.compile("[\udc80-\udcff]")


@contextlib.contextmanager
def _binary(file):
    """A binary stream over a path, an uploaded file or a file object, rewound; files opened
    here are closed again, the caller's are left open."""
    if isinstance(file, (str, Path)):
        with open(file, "rb") as handle:
            yield handle
        return
    if isinstance(file, bytes):
        yield io.BytesIO(file)
        return
    stream = file.file if hasattr(file, "storage") else file
    stream.seek(0)
    yield stream


def _file_kind(filename: str) -> str:
    suffix = Path(filename or "").suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return "xlsx"
    if suffix in {".csv", ".txt"}:
        return "csv"
    if suffix == ".xls":
        raise _FileError(
            _(
                "The file '%(name)s' is in the old Excel format (.xls). Open it in Excel and save it as "
                "'Excel Workbook (.xlsx)' or 'CSV UTF-8', then upload it again."
            )
            % {"name": filename}
        )
    raise _FileError(
        _("The file '%(name)s' is not a spreadsheet we can read. Upload an .xlsx or .csv file.") % {"name": filename}
    )


def _sniff_delimiter(head: bytes) -> str:
    """`,` or `;` (Excel on Vietnamese Windows writes `;`), whichever the header line uses most
    outside quotes; tab as well."""
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff")
    counts = {",": 0, ";": 0, "\t": 0}
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            if any(counts.values()):
                break
        elif char in counts and not quoted:
            counts[char] += 1
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _csv_rows(stream) -> Iterator[tuple[int, tuple]]:
    delimiter = _sniff_delimiter(stream.read(64 * 1024))
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    number = 0
    try:
        for number, row in enumerate(csv.reader(text, delimiter=delimiter), start=1):
            if any(_UNDECODABLE.search(value) for value in row):
                raise _FileError(
                    _(
                        "The file is not saved as UTF-8, so its Vietnamese letters cannot be read (first in row "
                        "%(row)d). In Excel choose File › Save As › 'CSV UTF-8 (Comma delimited)', or upload the "
                        ".xlsx file."
                    )
                    % {"row": number},
                    row_number=number,
                )
            yield number, tuple(row)
    except csv.Error as error:
        raise _FileError(
            _("Row %(row)d cannot be read as CSV (%(reason)s). Check the quotes in that row.")
            % {"row": number + 1, "reason": error},
            row_number=number + 1,
        ) from error
    finally:
        text.detach()


def _xlsx_rows(stream) -> Iterator[tuple[int, tuple]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
        raise _FileError(
            _(
                "The file cannot be opened as an Excel workbook (.xlsx): it may be damaged or be another kind of "
                "file. Open it in Excel, save it again as .xlsx and upload it again."
            )
        ) from error
    expected = 1
    try:
        if not workbook.worksheets:
            raise _FileError(_("The workbook has no sheet. Put the orders on the first sheet."))
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            expected = number
            yield number, row
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
        raise _FileError(
            _("The Excel file is damaged from row %(row)d on. Save it again in Excel and upload it again.")
            % {"row": expected + 1},
            row_number=expected + 1,
        ) from error
    finally:
        workbook.close()


def _file_rows(file, filename: str) -> Iterator[tuple[int, tuple]]:
    kind = _file_kind(filename)
    with _binary(file) as stream:
        yield from (_xlsx_rows(stream) if kind == "xlsx" else _csv_rows(stream))


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell_text(value) -> str:
    """A cell as NFC text; whole numbers typed into text columns come back from Excel as
    floats ('240501.0'), so they lose the decimal part."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return clean_text(value)


_CURRENCY = re.compile(r"(?i)(₫|vnđ|vnd|đồng|đ)")
_GROUPED = re.compile(r"\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*")
_TRAILING_ZEROS = re.compile(r"(\d+)[.,]0+")
_GROUPED_WITH_ZEROS = re.compile(r"(\d{1,3}(?:([.,])\d{3})+)([.,])0+")


def _whole_number(value) -> int | None:
    """A whole, non-negative number from a cell: 150000, 150000.0, "150.000", "150,000 ₫".
    None when the cell cannot be read as one (never a guess: "1,5" is not 15 nor 1)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, (float, Decimal)):
        return int(value) if value == int(value) and value >= 0 else None
    text = _CURRENCY.sub("", unicodedata.normalize("NFC", str(value))).replace("\u00a0", "").replace(" ", "")
    if text.isdigit():
        return int(text)
    if _GROUPED.fullmatch(text):
        return int(re.sub(r"[.,]", "", text))
    match = _GROUPED_WITH_ZEROS.fullmatch(text)
    if match and match.group(2) != match.group(3):  # "150,000.00": grouped, then zero decimals
        return int(re.sub(r"[.,]", "", match.group(1)))
    match = _TRAILING_ZEROS.fullmatch(text)
    return int(match.group(1)) if match else None


_DMY = re.compile(
    r"(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})(?:[ T,]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
)
_YMD = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?:\.\d+)?)?"
)
_TIME_FIRST = re.compile(
    r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?[ ,]+(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})"
)


def _aware(moment: datetime.datetime) -> datetime.datetime:
    if timezone.is_aware(moment):
        return moment
    return timezone.make_aware(moment, timezone.get_default_timezone())


def _parse_datetime(value) -> datetime.datetime | None | str:
    """A date-time from an Excel cell or text (dd/mm/yyyy [HH:MM[:SS]], yyyy-mm-dd…, or the
    time first); local time (settings.TIME_ZONE) unless it says otherwise. None when blank,
    "invalid" when unreadable."""
    if _is_blank(value):
        return None
    if isinstance(value, datetime.datetime):
        return _aware(value)
    if isinstance(value, datetime.date):
        return _aware(datetime.datetime.combine(value, datetime.time()))
    if isinstance(value, (int, float)):
        return "invalid"  # a date cell that lost its format: do not guess
    text = clean_text(value)
    for pattern in (_DMY, _YMD, _TIME_FIRST):
        match = pattern.fullmatch(text)
        if match:
            parts = {key: int(part) for key, part in match.groupdict().items() if part is not None}
            try:
                return _aware(
                    datetime.datetime(
                        parts["y"], parts["m"], parts["d"], parts.get("H", 0), parts.get("M", 0), parts.get("S", 0)
                    )
                )
            except ValueError:
                return "invalid"
    try:
        return _aware(datetime.datetime.fromisoformat(text))
    except ValueError:
        return "invalid"


@dataclass
class _OrderLineRow:
    row_number: int
    sku: str
    name: str
    quantity: int
    unit_price_vnd: int


@dataclass
class _OrderRows:
    """One order as the file states it, gathered from its rows."""

    external_id: str
    first_row: int
    status: OrderStatus
    raw_status: str
    status_row: int
    ordered_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    total_vnd: int | None = None
    lines: list[_OrderLineRow] = field(default_factory=list)


@dataclass
class _Header:
    row_number: int
    positions: dict[str, int]
    labels: dict[str, str]

    def label(self, key: str) -> str:
        return self.labels.get(key) or ORDER_COLUMNS_BY_KEY[key].header


def _read_header(rows, header_keys, report: OrderImportReport) -> _Header | None:
    first = None
    for number, cells in rows:
        first = first or number
        keys = [header_keys.get(match_key(_cell_text(cell))) for cell in cells]
        if "order_code" in keys or sum(1 for key in keys if key) >= 3:
            positions: dict[str, int] = {}
            labels: dict[str, str] = {}
            for index, (cell, key) in enumerate(zip(cells, keys, strict=True)):
                if key is None:
                    continue  # other columns (buyer, address, shipping…) are never read
                if key in positions:
                    report.add_error(
                        number,
                        _cell_text(cell),
                        _("The columns '%(first)s' and '%(second)s' both mean '%(meaning)s'. Keep only one of them.")
                        % {
                            "first": labels[key],
                            "second": _cell_text(cell),
                            "meaning": ORDER_COLUMNS_BY_KEY[key].header,
                        },
                    )
                    continue
                positions[key], labels[key] = index, _cell_text(cell)
            for column in ORDER_COLUMNS:
                if column.required and column.key not in positions:
                    report.add_error(
                        number,
                        column.header,
                        _("The column '%(column)s' is missing. Add it and upload the file again.")
                        % {"column": column.header},
                    )
            if "unit_price" not in positions and "line_total" not in positions:
                report.add_error(
                    number,
                    ORDER_COLUMNS_BY_KEY["unit_price"].header,
                    _("The file has no price: add the column '%(unit)s' or '%(total)s'.")
                    % {
                        "unit": ORDER_COLUMNS_BY_KEY["unit_price"].header,
                        "total": ORDER_COLUMNS_BY_KEY["line_total"].header,
                    },
                )
            return _Header(number, positions, labels) if report.is_valid else None
        if number - first + 1 >= HEADER_SEARCH_ROWS:
            break
    report.add_error(
        first or 1,
        ORDER_COLUMNS_BY_KEY["order_code"].header,
        _(
            "No header row was found: one of the first rows must name the columns, with at least "
            "'%(order)s', '%(status)s', '%(sku)s' and '%(quantity)s'."
        )
        % {key: ORDER_COLUMNS_BY_KEY[column].header for key, column in _HEADER_HINT.items()},
    )
    return None


_HEADER_HINT = {"order": "order_code", "status": "status", "sku": "sku", "quantity": "quantity"}


def _read_orders(
    file, filename: str, *, cooperative, channel: Channel, report: OrderImportReport
) -> dict[str, _OrderRows]:
    """Read and check the whole file; every problem goes into `report`."""
    statuses = order_statuses(channel.code)
    rows = _file_rows(file, filename)
    header = _read_header(rows, _order_header_keys(channel.code), report)
    if header is None:
        return {}
    skus = {
        sku.upper(): sku for sku in Offer.objects.filter(product__cooperative=cooperative).values_list("sku", flat=True)
    }
    orders: dict[str, _OrderRows] = {}
    accepted_statuses = ", ".join(DEFAULT_ORDER_STATUSES)
    for number, cells in rows:
        if all(_is_blank(cell) for cell in cells):
            continue
        report.rows += 1
        if report.rows > MAX_ORDER_ROWS:
            raise _FileError(
                _("The file has more than %(max)d rows. Export a shorter period and upload each file.")
                % {"max": MAX_ORDER_ROWS},
                row_number=number,
            )
        width = len(cells)

        def cell(key, cells=cells, width=width):
            index = header.positions.get(key)
            return cells[index] if index is not None and index < width else None

        errors_before = len(report.errors)

        def error(key, message, number=number):
            report.add_error(number, header.label(key), message)

        code = _cell_text(cell("order_code"))
        if not code:
            error("order_code", _("The order code is empty."))
        elif len(code) > 64:
            error("order_code", _("The order code has more than 64 characters."))
        raw_status = _cell_text(cell("status"))
        status = statuses.get(match_key(raw_status)) if raw_status else None
        if not raw_status:
            error("status", _("The status is empty."))
        elif status is None:
            error(
                "status",
                _("The status “%(status)s” is not one we know. Known statuses: %(known)s.")
                % {"status": raw_status, "known": accepted_statuses},
            )
        sku_text = _cell_text(cell("sku"))
        sku = skus.get(sku_text.upper())
        if not sku_text:
            error("sku", _("The SKU is empty."))
        elif sku is None:
            error(
                "sku",
                _(
                    "The SKU %(sku)s is not one of %(cooperative)s's products. Use the SKUs of the spreadsheet "
                    "made by OCOP Connect (column 'Mã SKU') when you list products on %(channel)s."
                )
                % {"sku": sku_text, "cooperative": cooperative.name, "channel": channel.name},
            )
        raw_quantity = cell("quantity")
        quantity = None if _is_blank(raw_quantity) else _whole_number(raw_quantity)
        if quantity is None or quantity < 1 or quantity > 1_000_000:
            error(
                "quantity",
                _("The quantity “%(value)s” is not a whole number of at least 1.")
                % {"value": _cell_text(raw_quantity)},
            )
        unit_price = _money(cell("unit_price"), "unit_price", error)
        line_total = _money(cell("line_total"), "line_total", error)
        order_total = _money(cell("order_total"), "order_total", error)
        if unit_price is None and line_total is None and len(report.errors) == errors_before:
            key = "unit_price" if "unit_price" in header.positions else "line_total"
            error(key, _("The price is empty."))
        ordered_at = _datetime(cell("ordered_at"), "ordered_at", error)
        updated_at = _datetime(cell("updated_at"), "updated_at", error)
        if len(report.errors) != errors_before:
            continue
        if unit_price is None:
            unit_price = line_total // quantity
        order = orders.get(code)
        if order is None:
            order = orders[code] = _OrderRows(
                external_id=code,
                first_row=number,
                status=status,
                raw_status=raw_status,
                status_row=number,
                ordered_at=ordered_at,
                updated_at=updated_at,
                total_vnd=order_total,
            )
        elif status != order.status:
            error(
                "status",
                _("Order %(order)s has the status “%(first)s” in row %(row)d and “%(second)s” here.")
                % {"order": code, "first": order.raw_status, "row": order.status_row, "second": raw_status},
            )
            continue
        order.ordered_at = order.ordered_at or ordered_at
        order.updated_at = max(filter(None, (order.updated_at, updated_at)), default=None)
        if order.total_vnd is None:
            order.total_vnd = order_total
        order.lines.append(
            _OrderLineRow(number, sku, _cell_text(cell("product_name")), quantity, unit_price)  # type: ignore[arg-type]
        )
        report.lines += 1
    report.orders = len(orders)
    return orders


def _money(value, key, error) -> int | None:
    if _is_blank(value):
        return None
    amount = _whole_number(value)
    if amount is None:
        error(key, _("“%(value)s” is not an amount in whole đồng (e.g. 150000).") % {"value": _cell_text(value)})
    return amount


def _datetime(value, key, error) -> datetime.datetime | None:
    moment = _parse_datetime(value)
    if moment == "invalid":
        error(key, _("“%(value)s” is not a date: write dd/mm/yyyy hh:mm.") % {"value": _cell_text(value)})
        return None
    return moment


def _remote_order(order: _OrderRows, *, now: datetime.datetime) -> RemoteOrder:
    seen: dict[str, int] = {}
    lines = []
    for line in order.lines:
        # The same SKU twice in one order (two promotions) keeps two lines, in file order.
        seen[line.sku] = seen.get(line.sku, 0) + 1
        line_id = line.sku if seen[line.sku] == 1 else f"{line.sku}#{seen[line.sku]}"
        lines.append(
            RemoteOrderLine(
                external_line_id=line_id[:64],
                sku=line.sku,
                quantity=line.quantity,
                unit_price_vnd=line.unit_price_vnd,
                name=line.name,
            )
        )
    total = order.total_vnd
    if total is None:
        total = sum(line.quantity * line.unit_price_vnd for line in order.lines)
    return RemoteOrder(
        external_id=order.external_id,
        status=order.status,
        raw_status=order.raw_status,
        created_at=order.ordered_at or now,
        updated_at=order.updated_at,
        total_vnd=total,
        lines=tuple(lines),
    )


def _unchanged_or_older(existing: Order | None, remote: RemoteOrder, has_update_time: bool) -> bool:
    """True when storing `remote` would change nothing, or would move the order backwards
    (an older export uploaded after a newer one, when the file gives no update time)."""
    if existing is None:
        return False
    status = services.ORDER_STATUS_BY_REMOTE[remote.status]
    known_lines = {line.external_line_id for line in existing.lines.all()}
    new_lines = any(line.external_line_id not in known_lines for line in remote.lines)
    if (
        not new_lines
        and existing.status == status
        and existing.raw_status == remote.raw_status[:40]
        and existing.total_vnd == remote.total_vnd
    ):
        return True
    return not has_update_time and _STATUS_RANK[status] < _STATUS_RANK[existing.status]


def import_order_export(*, cooperative, channel: Channel, file, filename: str) -> OrderImportReport:
    """Check the seller centre's order export and, only when every row is good, store its
    orders (one transaction) through services.order_upsert under the cooperative's export
    account. The seller centre's order code is the order's external id and each line's SKU
    its line id, so importing the same file again changes nothing and stock moves once."""
    _ensure_export_channel(channel)
    report = OrderImportReport(filename=filename)
    size = getattr(file, "size", None)
    if size is not None and size > MAX_ORDER_FILE_BYTES:
        report.add_error(
            1,
            "",
            _("The file is larger than %(max)d MB. Export a shorter period.")
            % {"max": MAX_ORDER_FILE_BYTES // (1024 * 1024)},
        )
        return report
    try:
        orders = _read_orders(file, filename, cooperative=cooperative, channel=channel, report=report)
    except _FileError as error:
        report.add_error(error.row_number, error.column_header, error.message)
        return report
    if not report.is_valid:
        return report
    if not orders:
        report.add_error(1, "", _("The file has no order rows."))
        return report
    now = timezone.now()
    with transaction.atomic():
        account = export_account(cooperative=cooperative, channel=channel)
        existing = {
            order.external_id: order
            for order in Order.objects.filter(channel=channel, account=account, external_id__in=list(orders))
            .prefetch_related("lines")
            .iterator(chunk_size=500)
        }
        for code, order_rows in orders.items():
            remote = _remote_order(order_rows, now=now)
            current = existing.get(code)
            if _unchanged_or_older(current, remote, order_rows.updated_at is not None):
                report.unchanged_orders += 1
                continue
            services.order_upsert(account=account, channel=channel, cooperative_id=cooperative.pk, remote=remote)
            if current is None:
                report.new_orders += 1
            else:
                report.updated_orders += 1
    report.saved = True
    return report


# Shown on the channel page, so that the person knows which column names are read.
ORDER_COLUMNS_HELP = gettext_lazy(
    "One row per product of an order. Columns read: order code, status, SKU and quantity (required), unit price or "
    "line total, and if present product name, order total, order date and update date. Other columns (buyer, "
    "address, phone…) are ignored and never stored."
)
