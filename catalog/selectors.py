"""Reads of the catalog, with their joins, so every list costs a fixed number of queries."""

import datetime
from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.images import get_image_model
from wagtail.models import TaskState, WorkflowState

from . import readiness
from .models import CatalogLogEntry, Certificate, Product

THUMBNAIL_SPEC = "fill-160x160"


class ProductState:
    """Where a product stands in moderation, in the words the member portal uses."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    NEEDS_CHANGES = "needs_changes"
    APPROVED = "approved"
    APPROVED_WITH_DRAFT = "approved_with_draft"

    LABELS = {
        DRAFT: _("Draft"),
        IN_REVIEW: _("Waiting for review"),
        NEEDS_CHANGES: _("Needs changes"),
        APPROVED: _("Approved"),
        APPROVED_WITH_DRAFT: _("Approved · changes not yet sent"),
    }


@dataclass
class ModerationStatus:
    state: str
    comment: str = ""
    reviewer: str = ""
    reviewed_at: datetime.datetime | None = None

    @property
    def label(self):
        return ProductState.LABELS[self.state]


def _active_workflow_state(product: Product) -> WorkflowState | None:
    states = getattr(product, "_current_workflow_states", None)
    if states is None:
        return product.current_workflow_state
    return states[0] if states else None


def moderation_status(product: Product) -> ModerationStatus:
    """The product's state, with the officer's comment when changes were asked for."""
    state = _active_workflow_state(product)
    if state is not None and state.status == WorkflowState.STATUS_IN_PROGRESS:
        return ModerationStatus(ProductState.IN_REVIEW)
    if state is not None and state.status == WorkflowState.STATUS_NEEDS_CHANGES:
        task_state = state.current_task_state
        reviewer = task_state.finished_by if task_state else None
        return ModerationStatus(
            ProductState.NEEDS_CHANGES,
            comment=(task_state.comment if task_state else "") or "",
            reviewer=(reviewer.get_full_name() or reviewer.get_username()) if reviewer else "",
            reviewed_at=task_state.finished_at if task_state else None,
        )
    if product.live:
        return ModerationStatus(
            ProductState.APPROVED_WITH_DRAFT if product.has_unpublished_changes else ProductState.APPROVED
        )
    return ModerationStatus(ProductState.DRAFT)


def _with_workflow_states(queryset: QuerySet) -> QuerySet:
    return queryset.prefetch_related(
        Prefetch(
            "_workflow_states",
            queryset=WorkflowState.objects.active().select_related(
                "current_task_state__task", "current_task_state__finished_by"
            ),
            to_attr="_current_workflow_states",
        )
    )


def _draft_of(product: Product) -> Product:
    """The latest content, for display in lists, without a query per product.

    Wagtail's get_latest_revision_as_object() deserialises with a query per foreign key (to
    drop dangling references) and fetches the row again; for a list we already hold the row
    and the revision, so we deserialise once, unchecked, keeping what Wagtail keeps from the
    row (DraftStateMixin.with_content_json)."""
    if not product.has_unpublished_changes or product.latest_revision is None:
        return product  # the row is the newest content, as in get_latest_revision_as_object()
    draft = Product.from_serializable_data(product.latest_revision.content, check_fks=False)
    draft.pk = product.pk
    draft.latest_revision = product.latest_revision
    draft.live = product.live
    draft.has_unpublished_changes = product.has_unpublished_changes
    draft.first_published_at = product.first_published_at
    return draft


def _photo_ids(draft: Product) -> list[int]:
    return [photo.image_id for photo in sorted(draft.images.all(), key=lambda photo: photo.sort_order or 0)]


@dataclass
class PortalProductRow:
    product: Product
    draft: Product
    status: ModerationStatus
    photo_ids: list[int]
    cover: object | None = None
    checklist: list = field(default_factory=list)

    @property
    def missing(self) -> list:
        return [item for item in self.checklist if not item.ok]


def portal_products(*, cooperative, day: datetime.date | None = None) -> list[PortalProductRow]:
    """The cooperative's products as its members see them: the newest draft, its state, its
    cover photo and what is still missing. A fixed number of queries whatever the count."""
    day = day or timezone.localdate()
    products = list(
        _with_workflow_states(
            Product.objects.filter(cooperative=cooperative)
            .select_related("offer", "latest_revision", "category")
            .prefetch_related("certificates", "images")
        ).order_by("name", "pk")
    )
    rows = []
    for product in products:
        draft = _draft_of(product)
        photo_ids = _photo_ids(draft)
        subject = readiness.ReadinessSubject(
            product=draft,
            offer=getattr(product, "offer", None),
            certificates=product.certificates.all(),
            photo_count=len(photo_ids),
            day=day,
        )
        rows.append(
            PortalProductRow(product, draft, moderation_status(product), photo_ids, None, readiness.checklist(subject))
        )
    covers = images_with_renditions({row.photo_ids[0] for row in rows if row.photo_ids}, THUMBNAIL_SPEC)
    for row in rows:
        row.cover = covers.get(row.photo_ids[0]) if row.photo_ids else None
    return rows


def images_with_renditions(image_ids, spec: str) -> dict:
    """Wagtail images by id, with the rendition `spec` fetched in the same query batch."""
    if not image_ids:
        return {}
    images = get_image_model().objects.filter(pk__in=image_ids).prefetch_renditions(spec)
    return {image.pk: image for image in images}


def portal_product(*, cooperative, product_id: int) -> Product:
    """One of the cooperative's products, or 404. Never looks outside the cooperative."""
    try:
        return _with_workflow_states(
            Product.objects.select_related("offer", "category", "cooperative", "origin_commune")
        ).get(cooperative=cooperative, pk=product_id)
    except Product.DoesNotExist as error:
        raise Http404 from error


def portal_certificate(*, product: Product, certificate_id: int) -> Certificate:
    try:
        return product.certificates.get(pk=certificate_id)
    except Certificate.DoesNotExist as error:
        raise Http404 from error


def product_checklist(product: Product, draft: Product, *, day: datetime.date | None = None) -> list:
    subject = readiness.ReadinessSubject(
        product=draft,
        offer=getattr(product, "offer", None),
        certificates=list(product.certificates.all()),
        photo_count=len(draft.images.all()),
        day=day or timezone.localdate(),
    )
    return readiness.checklist(subject)


def product_history(product: Product, *, limit: int = 50) -> QuerySet:
    """The audit log of one product: who did what, for which cooperative, in which role."""
    return CatalogLogEntry.objects.for_instance(product).select_related("user")[:limit]


def review_comments(product: Product) -> QuerySet:
    """Every officer's decision with its comment, newest first, so a member can see what was
    asked before."""
    return (
        TaskState.objects.for_instance(product)
        .exclude(status=TaskState.STATUS_IN_PROGRESS)
        .select_related("finished_by")
        .order_by("-finished_at")
    )


# --- Stars and certificates -------------------------------------------------------------------


def current_certificate(certificates, *, day: datetime.date | None = None) -> Certificate | None:
    """The certificate that gives the product its star today: the latest valid one."""
    day = day or timezone.localdate()
    valid = [c for c in certificates if c.validity_on(day) == Certificate.Validity.VALID]
    return max(valid, key=lambda c: (c.decision_date, c.pk), default=None)


# --- Public site --------------------------------------------------------------------------------


def public_product_list() -> QuerySet:
    """Approved products only (the live row is the approved version), with what a list shows."""
    return (
        Product.objects.filter(live=True)
        .select_related("cooperative", "cooperative__commune", "origin_commune", "category")
        .prefetch_related("certificates")
        .order_by("name", "pk")
    )


def public_product_detail(*, product_id: int) -> Product:
    try:
        return public_product_list().prefetch_related("images__image").get(pk=product_id)
    except Product.DoesNotExist as error:
        raise Http404 from error


def with_moderation_status(queryset: QuerySet) -> QuerySet:
    """Prefetch what `moderation_status` reads, so a list shows it without a query per row."""
    return _with_workflow_states(queryset)
