"""What is still missing before a product can go on sale: the readiness checklist.

Each check is a plain function from a `ReadinessSubject` to a `ReadinessItem`. The catalog
registers the checks every channel needs; the marketplace connectors register their own
(title length, image size, category mapping…) under their channel code through
`register_check`, so the catalog never imports them (dependencies point one way).
"""

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

# Our own floor, not a marketplace's: a buyer who cannot taste or touch the product needs at
# least a few sentences about it, and marketplaces demote listings with thin descriptions.
DESCRIPTION_MIN_CHARS = 100
RECOMMENDED_PHOTOS = 3


class Responsible:
    """Who must act to clear an item."""

    COOPERATIVE = "cooperative"
    TRADE_DEPARTMENT = "trade_department"


@dataclass(frozen=True)
class ReadinessItem:
    code: str
    label: str
    ok: bool
    message: str = ""
    who_acts: str = Responsible.COOPERATIVE
    channel: str = ""  # "" = needed on every channel


@dataclass
class ReadinessSubject:
    """The product content being prepared (the latest draft, with its photos), its offer and
    its certificates, as of `day`."""

    product: object
    offer: object | None
    certificates: Iterable = field(default_factory=list)
    photo_count: int = 0
    day: datetime.date = field(default_factory=timezone.localdate)


Check = Callable[[ReadinessSubject], ReadinessItem]

_checks: list[tuple[str, Check]] = []


def register_check(check: Check, *, channel: str = "") -> Check:
    """Add a check for one channel ("" = every channel). Usable as a decorator."""
    _checks.append((channel, check))
    return check


def checklist(subject: ReadinessSubject, *, channel: str = "") -> list[ReadinessItem]:
    """The checks every channel needs, plus those of `channel` when given."""
    return [check(subject) for check_channel, check in _checks if check_channel in ("", channel)]


def is_ready(items: Iterable[ReadinessItem]) -> bool:
    return all(item.ok for item in items)


@register_check
def has_cooperative(subject: ReadinessSubject) -> ReadinessItem:
    ok = subject.product.cooperative_id is not None
    return ReadinessItem(
        "cooperative",
        _("Producer"),
        ok,
        "" if ok else _("The register does not name the producer. The trade department must assign a cooperative."),
        who_acts=Responsible.TRADE_DEPARTMENT,
    )


@register_check
def has_category(subject: ReadinessSubject) -> ReadinessItem:
    ok = subject.product.category_id is not None
    return ReadinessItem("category", _("OCOP group"), ok, "" if ok else _("Choose the product's OCOP group."))


@register_check
def has_photos(subject: ReadinessSubject) -> ReadinessItem:
    count = subject.photo_count
    if count == 0:
        message = _("Add at least one photo of the product (%(n)d or more is better).") % {"n": RECOMMENDED_PHOTOS}
    elif count < RECOMMENDED_PHOTOS:
        message = ngettext(
            "%(count)d photo. Buyers trust products with %(n)d or more: the package, the label, the product itself.",
            "%(count)d photos. Buyers trust products with %(n)d or more: the package, the label, the product itself.",
            count,
        ) % {"count": count, "n": RECOMMENDED_PHOTOS}
    else:
        message = ""
    return ReadinessItem("photos", _("Photos"), count > 0, message)


@register_check
def has_description(subject: ReadinessSubject) -> ReadinessItem:
    length = len((subject.product.description or "").strip())
    ok = length >= DESCRIPTION_MIN_CHARS
    message = (
        ""
        if ok
        else _(
            "The description has %(length)d characters; write at least %(min)d: what it is, how it is made, "
            "how to use it."
        )
        % {"length": length, "min": DESCRIPTION_MIN_CHARS}
    )
    return ReadinessItem("description", _("Description"), ok, message)


@register_check
def has_weight(subject: ReadinessSubject) -> ReadinessItem:
    ok = bool(subject.product.weight_grams)
    return ReadinessItem(
        "weight",
        _("Weight"),
        ok,
        "" if ok else _("Enter the weight with packaging, in grams: shipping costs are calculated from it."),
    )


@register_check
def has_package_size(subject: ReadinessSubject) -> ReadinessItem:
    product = subject.product
    ok = all((product.package_length_cm, product.package_width_cm, product.package_height_cm))
    return ReadinessItem(
        "package_size",
        _("Package size"),
        ok,
        "" if ok else _("Enter the package length, width and height in cm."),
    )


@register_check
def has_price(subject: ReadinessSubject) -> ReadinessItem:
    ok = subject.offer is not None and subject.offer.price_vnd is not None
    return ReadinessItem("price", _("Price"), ok, "" if ok else _("Enter the selling price in VND."))


@register_check
def has_stock(subject: ReadinessSubject) -> ReadinessItem:
    sellable = subject.offer.sellable_stock if subject.offer is not None else 0
    ok = sellable > 0
    return ReadinessItem(
        "stock",
        _("Stock"),
        ok,
        "" if ok else _("Enter how many you have to sell (more than the safety buffer)."),
    )


@register_check
def has_valid_certificate(subject: ReadinessSubject) -> ReadinessItem:
    from .models import Certificate

    validities = [certificate.validity_on(subject.day) for certificate in subject.certificates]
    ok = Certificate.Validity.VALID in validities
    if ok:
        message = ""
    elif Certificate.Validity.UNVERIFIED in validities:
        message = _("The certificate you uploaded is waiting for the trade department to check it.")
        return ReadinessItem(
            "certificate", _("OCOP certificate"), False, message, who_acts=Responsible.TRADE_DEPARTMENT
        )
    elif Certificate.Validity.UNKNOWN in validities:
        message = _("The decision date of the certificate is unknown. Upload a scan of the certificate.")
    elif Certificate.Validity.EXPIRED in validities:
        message = _("The OCOP certificate has expired. Upload the new certificate after re-rating.")
    else:
        message = _("Upload the OCOP certificate (a photo or scan of the decision).")
    return ReadinessItem("certificate", _("OCOP certificate"), ok, message)
