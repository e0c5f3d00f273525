"""Every change to the catalog goes through a function here.

Product content is moderated: a change is saved as a new draft revision (Wagtail's
EditAction), and the live row only changes when the trade department approves. While a
product waits for review its content is locked. Offers (price, stock) and certificates
change at once. Callers (portal views, admin views, commands) check who may act on which
cooperative; these functions record who acted.
"""

import datetime
import logging
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail.actions.create import CreateAction
from wagtail.actions.edit import EditAction
from wagtail.images import get_image_model
from wagtail.log_actions import log
from wagtail.models import WorkflowState

from . import hooks
from .images import prepare_product_photo
from .models import Certificate, Offer, Product, ProductImage, RegisterImport

logger = logging.getLogger(__name__)

MAX_PHOTOS = 9  # the smallest per-listing limit among the marketplaces we publish to (TikTok Shop)

CONTENT_FIELDS = (
    "name",
    "category",
    "description",
    "ingredients",
    "shelf_life_days",
    "storage_instructions",
    "weight_grams",
    "package_length_cm",
    "package_width_cm",
    "package_height_cm",
)


class CatalogError(Exception):
    """A change the user asked for cannot be made; `message` says why and what to do."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


# --- Reading the content being edited -------------------------------------------------------


def latest_content(product: Product) -> Product:
    """The newest version of the product's content: the latest draft revision when there is
    one (a live product's row holds the approved version, not the draft)."""
    if product.latest_revision_id:
        return product.get_latest_revision_as_object()
    return product


def is_in_review(product: Product) -> bool:
    state = product.current_workflow_state
    return state is not None and state.status == WorkflowState.STATUS_IN_PROGRESS


def _ensure_editable(product: Product) -> None:
    if is_in_review(product):
        raise CatalogError(
            _("This product is waiting for review and cannot be changed now. Withdraw it from review to edit it.")
        )


def _save_draft(draft: Product, user) -> Product:
    """Save `draft` as the product's newest revision (and as its row while it has never gone live)."""
    return EditAction(draft, user=user).execute(skip_permission_checks=True)


# --- Products -------------------------------------------------------------------------------


@transaction.atomic
def product_create(*, cooperative, user, name: str, **content) -> Product:
    """A new product of `cooperative`, as a draft with an offer waiting for price and stock."""
    unknown = set(content) - set(CONTENT_FIELDS)
    if unknown:
        raise TypeError(f"not product content: {sorted(unknown)}")
    product = Product(cooperative=cooperative, name=name, live=False, has_unpublished_changes=True, **content)
    product.full_clean(exclude=["cooperative"])
    product = CreateAction(product, user=user).execute(skip_permission_checks=True)
    Offer.objects.create(product=product, sku=Offer.sku_for(product.pk), updated_by=user)
    return product


@transaction.atomic
def product_update_content(*, product: Product, user, changes: dict, is_illustrative: bool = False) -> Product:
    """Apply `changes` (CONTENT_FIELDS only) to the newest draft and save it as a revision.

    A description written by a person replaces the demo's illustrative one, so the product
    stops being labelled illustrative; the demo loader passes `is_illustrative=True`."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    _ensure_editable(product)
    draft = latest_content(product)
    changed = False
    if "description" in changes and draft.is_illustrative != is_illustrative:
        draft.is_illustrative = is_illustrative
        changed = True
    for name, value in changes.items():
        if name not in CONTENT_FIELDS:
            raise TypeError(f"not product content: {name}")
        if getattr(draft, name) != value:
            setattr(draft, name, value)
            changed = True
    if not changed:
        return draft
    draft.full_clean(exclude=["cooperative"])
    return _save_draft(draft, user)


def _photos(draft: Product) -> list[ProductImage]:
    return sorted(draft.images.all(), key=lambda photo: (photo.sort_order or 0, photo.image_id))


def _set_photos(draft: Product, photos: list[ProductImage]) -> None:
    for position, photo in enumerate(photos):
        photo.sort_order = position
    draft.images = photos


@transaction.atomic
def product_add_photo(*, product: Product, user, upload, alt_text: str = "", is_illustrative: bool = False):
    """Check and normalise an uploaded photo (catalog.images), keep it as a Wagtail image
    (renditions are made on demand), and add it at the end of the draft's photos."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    _ensure_editable(product)
    draft = latest_content(product)
    photos = _photos(draft)
    if len(photos) >= MAX_PHOTOS:
        raise CatalogError(_("A product can have at most %(max)d photos. Remove one first.") % {"max": MAX_PHOTOS})
    prepared = prepare_product_photo(upload)  # raises ImageRejected with the reason
    image = get_image_model()(
        title=f"{draft.name} ({len(photos) + 1})"[:255],
        file=ContentFile(prepared.content, name=prepared.filename),
        width=prepared.width,
        height=prepared.height,
        uploaded_by_user=user,
    )
    image._set_image_file_metadata()
    image.save()
    photos.append(ProductImage(image=image, alt_text=alt_text or draft.name, is_illustrative=is_illustrative))
    _set_photos(draft, photos)
    _save_draft(draft, user)
    return image


@transaction.atomic
def product_remove_photo(*, product: Product, user, image_id: int) -> None:
    product = Product.objects.select_for_update().get(pk=product.pk)
    _ensure_editable(product)
    draft = latest_content(product)
    photos = _photos(draft)
    remaining = [photo for photo in photos if photo.image_id != image_id]
    if len(remaining) == len(photos):
        raise CatalogError(_("This photo is not part of the product."))
    _set_photos(draft, remaining)
    _save_draft(draft, user)


@transaction.atomic
def product_move_photo(*, product: Product, user, image_id: int, offset: int) -> None:
    """Move a photo `offset` places (-1 earlier, +1 later). The first photo is the cover."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    _ensure_editable(product)
    draft = latest_content(product)
    photos = _photos(draft)
    positions = [photo.image_id for photo in photos]
    if image_id not in positions:
        raise CatalogError(_("This photo is not part of the product."))
    old = positions.index(image_id)
    new = min(max(old + offset, 0), len(photos) - 1)
    if new == old:
        return
    photos.insert(new, photos.pop(old))
    _set_photos(draft, photos)
    _save_draft(draft, user)


def submission_problems(draft: Product, *, photo_count: int) -> list[str]:
    """What must be there before an officer can judge the content. The rest of the readiness
    checklist (price, stock, certificate) does not block review: it blocks going on sale."""
    problems = []
    if not (draft.description or "").strip():
        problems.append(_("Write a description."))
    if photo_count == 0:
        problems.append(_("Add at least one photo."))
    if draft.category_id is None:
        problems.append(_("Choose the OCOP group."))
    return problems


@transaction.atomic
def product_submit_for_review(*, product: Product, user) -> WorkflowState:
    """Send the newest draft to the trade department (Wagtail's approval workflow)."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    state = product.current_workflow_state
    if state is not None and state.status == WorkflowState.STATUS_IN_PROGRESS:
        raise CatalogError(_("This product is already waiting for review."))
    if product.live and not product.has_unpublished_changes:
        raise CatalogError(_("Nothing has changed since the last approval: there is nothing to review."))
    draft = latest_content(product)
    problems = submission_problems(draft, photo_count=len(draft.images.all()))
    if problems:
        raise CatalogError(" ".join([_("Before sending for review:"), *problems]))
    if product.latest_revision_id is None:
        # Products imported from the register have no revision yet; the workflow reviews one.
        product.save_revision(user=user, log_action=False)
    if state is not None and state.status == WorkflowState.STATUS_NEEDS_CHANGES:
        state.resume(user)
        return state
    workflow = product.get_workflow()
    if workflow is None:
        raise CatalogError(_("No approval workflow is set up. Please tell the trade department."))
    return workflow.start(product, user)


@transaction.atomic
def product_withdraw_from_review(*, product: Product, user) -> None:
    """Take a product back from review (e.g. to fix something): it becomes a draft again."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    state = product.current_workflow_state
    if state is None:
        raise CatalogError(_("This product is not waiting for review."))
    state.cancel(user=user)


# --- Offer: price and stock, changed at once ---------------------------------------------


@dataclass(frozen=True)
class OfferChange:
    price_vnd: int | None
    stock: int
    safety_buffer: int


@transaction.atomic
def offer_update(
    *, product: Product, user, change: OfferChange, confirm_stock: bool = True, is_illustrative: bool = False
) -> Offer:
    """Set price and stock now, without review, and record the change in the product's history.
    `is_illustrative` marks demo values, which are labelled wherever they show."""
    offer = Offer.objects.select_for_update().get(product=product)
    old = OfferChange(offer.price_vnd, offer.stock, offer.safety_buffer)
    offer.price_vnd, offer.stock, offer.safety_buffer = change.price_vnd, change.stock, change.safety_buffer
    offer.full_clean(exclude=["product"])
    if confirm_stock:
        offer.stock_confirmed_at = timezone.now()
    offer.is_illustrative = is_illustrative
    offer.updated_by = user
    offer.save()
    if old != change:
        hooks.notify(hooks.OFFER_CHANGED, product=product, offer=offer)
        log(
            product,
            "ocop.offer_change",
            user=user,
            data={
                "old_price": old.price_vnd,
                "new_price": change.price_vnd,
                "old_stock": old.stock,
                "new_stock": change.stock,
                "old_buffer": old.safety_buffer,
                "new_buffer": change.safety_buffer,
            },
        )
    return offer


# --- Certificates -------------------------------------------------------------------------


@transaction.atomic
def certificate_add(
    *,
    product: Product,
    user,
    stars: int,
    decision_number: str,
    issuing_body: str,
    decision_date: datetime.date,
    expires_on: datetime.date | None = None,
    kind: str = "",
    scan=None,
    source: str = Certificate.Source.MEMBER,
) -> Certificate:
    """A certificate entered by the cooperative waits for the trade department to verify it;
    one entered by an officer is verified at once."""
    certificate = Certificate(
        product=product,
        stars=stars,
        decision_number=decision_number,
        issuing_body=issuing_body,
        decision_date=decision_date,
        expires_on=expires_on,
        kind=kind,
        source=source,
        created_by=user,
    )
    if scan is not None:
        certificate.scan = scan
    if source == Certificate.Source.OFFICER:
        certificate.verified_at, certificate.verified_by = timezone.now(), user
    if decision_number and product.certificates.filter(decision_number=decision_number).exists():
        raise CatalogError(
            _("This product already has a certificate with decision number %(number)s.") % {"number": decision_number}
        )
    if certificate.decision_date and not certificate.expires_on:
        certificate.expires_on = Certificate.default_expiry(certificate.decision_date)
    if certificate.expires_on and certificate.decision_date and certificate.expires_on <= certificate.decision_date:
        raise CatalogError(_("The expiry date must be after the decision date."))
    certificate.full_clean(exclude=["product"])
    certificate.save()
    log(product, "ocop.certificate_add", user=user, data={"certificate_id": certificate.pk, "stars": stars})
    return certificate


@transaction.atomic
def certificate_attach_scan(*, certificate: Certificate, user, scan) -> Certificate:
    """Attach the scanned certificate to a certificate the register already knows."""
    certificate.scan = scan
    certificate.save(update_fields=["scan"])
    log(certificate.product, "ocop.certificate_scan", user=user, data={"certificate_id": certificate.pk})
    return certificate


@transaction.atomic
def certificate_verify(*, certificate: Certificate, user) -> Certificate:
    certificate.verified_at, certificate.verified_by = timezone.now(), user
    certificate.save(update_fields=["verified_at", "verified_by"])
    log(certificate.product, "ocop.certificate_verify", user=user, data={"certificate_id": certificate.pk})
    return certificate


# --- Register import (admin upload, checked and applied by the Celery worker) -------------------


def _enqueue_register_task(task, register_import_id: int) -> None:
    """Send the task once the transaction commits. If the broker cannot be reached, the
    import ends as FAILED with a message the officer understands, instead of an error page
    and an import that waits forever."""

    def send():
        try:
            task.delay(register_import_id)
        except Exception:
            logger.exception("Could not queue %s for register import %s", task.name, register_import_id)
            RegisterImport.objects.filter(pk=register_import_id).update(
                status=RegisterImport.Status.FAILED,
                failure=_(
                    "The background worker could not be reached, so the file was not processed. Nothing was "
                    "saved. Please try again in a few minutes or tell the platform operator."
                ),
                finished_at=timezone.now(),
            )

    transaction.on_commit(send)


@transaction.atomic
def register_import_upload(*, uploaded_file, user) -> RegisterImport:
    """Keep the officer's file and have the worker check it once this transaction commits."""
    from .tasks import check_register_import_task

    register_import = RegisterImport.objects.create(
        file=uploaded_file, original_filename=uploaded_file.name[:255], uploaded_by=user
    )
    _enqueue_register_task(check_register_import_task, register_import.pk)
    return register_import


@transaction.atomic
def register_import_apply(*, register_import: RegisterImport, user) -> RegisterImport:
    """Import a checked file. The worker checks it again as part of the import: the database
    may have changed since (another import, an officer's edit)."""
    from .tasks import apply_register_import_task

    register_import = RegisterImport.objects.select_for_update().get(pk=register_import.pk)
    if register_import.status != RegisterImport.Status.VALID:
        raise CatalogError(_("Only a file that passed the check can be imported. Check it again first."))
    register_import.status = RegisterImport.Status.PENDING
    register_import.processed_rows = 0  # the progress shown is the import's, not the check's
    register_import.save(update_fields=["status", "processed_rows"])
    _enqueue_register_task(apply_register_import_task, register_import.pk)
    return register_import


def register_import_run(*, register_import_id: int, apply: bool) -> RegisterImport:
    """The worker's side. A repeated delivery is harmless: a check can run twice, and
    importing the same file again changes nothing."""
    from .register import run_register_import

    register_import = RegisterImport.objects.get(pk=register_import_id)
    return run_register_import(register_import, apply=apply)
