"""The OCOP catalog: products (moderated), offers (not moderated), certificates, images.

What a product *is* — its name, group, description, photos, weight and package — is content
the trade department approves before anyone sees it: Product uses Wagtail's draft, revision,
workflow and locking mixins, and only the live (approved) version is ever shown or sent out.
What a product *costs and how many are left* changes with every sale and must not wait for
review, so it lives in Offer, a separate table outside revisions (a column on Product would
be overwritten when an older revision is published; see docs/architecture.md).
"""

import datetime
import uuid
from pathlib import Path

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.models import (
    DraftStateMixin,
    LockableMixin,
    Orderable,
    RevisionMixin,
    WorkflowMixin,
)
from wagtail.models.audit_log import BaseLogEntry, BaseLogEntryManager

from cooperatives.audit import current_acting
from cooperatives.models import AdministrativeUnit, Cooperative

CERTIFICATE_VALIDITY_MONTHS = 36


def certificate_scan_path(instance, filename: str) -> str:
    """Scans are stored under a random name: the file is served only through views that check
    who may see it, and its address reveals nothing."""
    extension = Path(filename).suffix.lower()[:6]
    return f"certificates/{uuid.uuid4().hex}{extension}"


class OcopCategory(models.Model):
    """One leaf of an OCOP classification scheme (QĐ 1048/2019 or QĐ 148/2023).

    Products are classified under the current scheme; leaves of the old scheme point to
    their current counterpart so that registers and statistics written with old labels
    still land in the right place.
    """

    class Scheme(models.TextChoices):
        QD1048_2019 = "QD1048_2019", _("Decision 1048/2019")
        QD148_2023 = "QD148_2023", _("Decision 148/2023 (wording of 26/2026)")

    scheme = models.CharField(_("scheme"), max_length=20, choices=Scheme.choices)
    seq = models.PositiveSmallIntegerField(_("number in the scheme"))
    group_code = models.CharField(_("group code"), max_length=8)
    group = models.CharField(_("group (ngành)"), max_length=120)
    subgroup = models.CharField(_("subgroup (nhóm)"), max_length=200)
    name = models.CharField(_("product set (bộ sản phẩm / phân nhóm)"), max_length=255)
    managing_ministry = models.CharField(_("managing ministry"), max_length=200, blank=True)
    source = models.TextField(_("source"), blank=True)
    current = models.ForeignKey(
        "self",
        verbose_name=_("current counterpart"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="legacy_labels",
        help_text=_("For an old-scheme leaf: the leaf of the current scheme it became."),
    )

    class Meta:
        verbose_name = _("OCOP category")
        verbose_name_plural = _("OCOP categories")
        ordering = ["scheme", "seq"]
        constraints = [models.UniqueConstraint(fields=["scheme", "seq"], name="ocopcategory_scheme_seq_unique")]

    def __str__(self) -> str:
        return f"{self.group} › {self.name}"


class Product(WorkflowMixin, DraftStateMixin, LockableMixin, RevisionMixin, ClusterableModel):
    """An OCOP product. Its descriptive content is moderated (see the module docstring)."""

    cooperative = models.ForeignKey(
        Cooperative,
        verbose_name=_("cooperative"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="products",
        help_text=_("Empty when the register does not name the producer yet."),
    )
    name = models.CharField(_("product name"), max_length=255)
    category = models.ForeignKey(
        OcopCategory,
        verbose_name=_("OCOP group"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="products",
        limit_choices_to={"scheme": OcopCategory.Scheme.QD148_2023},
    )
    description = models.TextField(_("description"), blank=True)
    ingredients = models.TextField(_("ingredients"), blank=True)
    shelf_life_days = models.PositiveIntegerField(_("shelf life (days)"), null=True, blank=True)
    storage_instructions = models.TextField(_("storage instructions"), blank=True)
    weight_grams = models.PositiveIntegerField(
        _("weight with packaging (g)"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    package_length_cm = models.DecimalField(
        _("package length (cm)"),
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1)],
    )
    package_width_cm = models.DecimalField(
        _("package width (cm)"),
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1)],
    )
    package_height_cm = models.DecimalField(
        _("package height (cm)"),
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1)],
    )
    origin_commune = models.ForeignKey(
        AdministrativeUnit,
        verbose_name=_("commune of origin (as certified)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level": AdministrativeUnit.Level.COMMUNE},
        help_text=_("The commune as written at certification; it may be a commune that no longer exists."),
    )
    is_illustrative = models.BooleanField(
        _("illustrative demo content"),
        default=False,
        help_text=_("Set by the demo loader: the description and photos were made up to show the platform."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Normalised for search without diacritics (catalog/search.py); kept by save().
    search_name = models.TextField(editable=False, blank=True, default="")
    search_text = models.TextField(editable=False, blank=True, default="")

    # Reverse relations to Wagtail's generic tables, so lists can prefetch them in one query
    # (Wagtail's own properties `workflow_states`/`revisions` query per object).
    _workflow_states = GenericRelation(
        "wagtailcore.WorkflowState",
        content_type_field="base_content_type",
        object_id_field="object_id",
        related_query_name="product",
        for_concrete_model=False,
    )
    _revisions = GenericRelation(
        "wagtailcore.Revision",
        content_type_field="base_content_type",
        object_id_field="object_id",
        related_query_name="product",
        for_concrete_model=False,
    )

    class Meta:
        verbose_name = _("OCOP product")
        verbose_name_plural = _("OCOP products")
        ordering = ["name", "pk"]
        indexes = [
            # Trigram indexes serve `contains` on PostgreSQL; elsewhere a plain index (unused).
            GinIndex(fields=["search_name"], opclasses=["gin_trgm_ops"], name="product_search_name_trgm"),
            GinIndex(fields=["search_text"], opclasses=["gin_trgm_ops"], name="product_search_text_trgm"),
            # The showcase's list: approved products by name, a page at a time without sorting
            # every approved product first.
            models.Index(fields=["name", "id"], condition=Q(live=True), name="product_live_by_name"),
            # The home page's newest approved products (when editors chose none).
            models.Index(fields=["-first_published_at", "-id"], condition=Q(live=True), name="product_live_newest"),
        ]

    def __str__(self) -> str:
        return self.name

    SEARCH_SOURCES = {"name", "description", "category"}

    def save(self, *args, **kwargs):
        from .search import search_fields_for

        for field, value in search_fields_for(self).items():
            setattr(self, field, value)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and self.SEARCH_SOURCES & {f.removesuffix("_id") for f in update_fields}:
            kwargs["update_fields"] = {*update_fields, "search_name", "search_text"}
        super().save(*args, **kwargs)


class ProductImage(Orderable):
    """A product photo. Part of the moderated content: it goes live with the product."""

    product = ParentalKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ForeignKey(
        "wagtailimages.Image", verbose_name=_("image"), on_delete=models.PROTECT, related_name="+"
    )
    alt_text = models.CharField(_("what the photo shows"), max_length=255, blank=True)
    is_illustrative = models.BooleanField(_("illustrative placeholder"), default=False)

    class Meta(Orderable.Meta):
        verbose_name = _("product photo")
        verbose_name_plural = _("product photos")


class Offer(models.Model):
    """Price and stock: not moderated, changed at once by the cooperative and by every sale."""

    product = models.OneToOneField(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="offer")
    sku = models.CharField(
        _("SKU"), max_length=64, unique=True, help_text=_("Stable stock-keeping code; never changes once given.")
    )
    price_vnd = models.PositiveBigIntegerField(
        _("price (VND)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1000), MaxValueValidator(99_999_999)],
        help_text=_("Whole đồng, e.g. 250000."),
    )
    stock = models.PositiveIntegerField(_("stock"), default=0)
    safety_buffer = models.PositiveIntegerField(
        _("safety buffer"),
        default=0,
        help_text=_("Units held back so that a marketplace never sells the last ones twice."),
    )
    stock_confirmed_at = models.DateTimeField(_("stock last confirmed"), null=True, blank=True)
    is_illustrative = models.BooleanField(_("illustrative demo price and stock"), default=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        constraints = [
            models.CheckConstraint(
                condition=Q(price_vnd__isnull=True) | Q(price_vnd__gte=1000), name="offer_price_at_least_1000_vnd"
            ),
        ]

    def __str__(self) -> str:
        return self.sku

    @staticmethod
    def sku_for(product_id: int) -> str:
        """The SKU a product gets when its offer is created: the province code keeps SKUs
        unique when several provinces share one marketplace account or feed."""
        return f"OCOP-{settings.OCOP_PROVINCE_CODE}-{product_id:06d}"

    @property
    def sellable_stock(self) -> int:
        return max(self.stock - self.safety_buffer, 0)


class CertificateQuerySet(models.QuerySet):
    def valid_on(self, day: datetime.date):
        """Verified certificates in force on `day` (decision date known and not expired). The
        star may still be unknown (the register does not always say): see validity_on."""
        return self.filter(verified_at__isnull=False, decision_date__lte=day, expires_on__gte=day)


class Certificate(models.Model):
    """An OCOP certificate: the star rating a decision gave a product, for 36 months."""

    class Kind(models.TextChoices):
        FIRST_RATING = "first", _("First rating")
        RE_RATING = "rerating", _("Re-rating")
        UPGRADE = "upgrade", _("Upgrade")

    class Source(models.TextChoices):
        REGISTER = "register", _("Province's OCOP register")
        MEMBER = "member", _("Uploaded by the cooperative")
        OFFICER = "officer", _("Entered by the trade department")

    class Validity(models.TextChoices):
        VALID = "valid", _("Valid")
        EXPIRED = "expired", _("Expired")
        NOT_YET = "not_yet", _("Not yet in force")
        UNKNOWN = "unknown", _("Validity unknown")
        UNVERIFIED = "unverified", _("Waiting for verification")

    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="certificates"
    )
    stars = models.PositiveSmallIntegerField(
        _("stars"),
        null=True,
        blank=True,
        validators=[MinValueValidator(3), MaxValueValidator(5)],
        help_text=_("3, 4 or 5. Empty when the register does not say."),
    )
    decision_number = models.CharField(_("decision number"), max_length=100, blank=True)
    issuing_body = models.CharField(_("issued by"), max_length=200, blank=True)
    decision_date = models.DateField(_("decision date"), null=True, blank=True)
    decision_year = models.PositiveSmallIntegerField(
        _("year of the decision"), null=True, blank=True, help_text=_("When only the year is known.")
    )
    expires_on = models.DateField(
        _("valid until"),
        null=True,
        blank=True,
        help_text=_("36 months after the decision unless the decision says otherwise."),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, blank=True)
    scan = models.FileField(_("scan of the certificate"), upload_to=certificate_scan_path, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.REGISTER)
    note = models.TextField(_("note"), blank=True)
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("verified by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = CertificateQuerySet.as_manager()

    class Meta:
        verbose_name = _("OCOP certificate")
        verbose_name_plural = _("OCOP certificates")
        ordering = ["-decision_date", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "decision_number"],
                condition=~Q(decision_number=""),
                name="certificate_product_decision_unique",
            ),
            models.CheckConstraint(
                condition=Q(stars__isnull=True) | Q(stars__gte=3, stars__lte=5), name="certificate_stars_3_to_5"
            ),
        ]

    def __str__(self) -> str:
        return self.decision_number or str(_("Certificate without a decision number"))

    def save(self, *args, **kwargs):
        if self.decision_date and not self.expires_on:
            self.expires_on = self.default_expiry(self.decision_date)
        if self.decision_date:
            self.decision_year = self.decision_date.year
        super().save(*args, **kwargs)

    @staticmethod
    def default_expiry(decision_date: datetime.date) -> datetime.date:
        return decision_date + relativedelta(months=CERTIFICATE_VALIDITY_MONTHS)

    def validity_on(self, day: datetime.date | None = None) -> "Certificate.Validity":
        """How this certificate stands on `day`.

        Without a decision date we cannot say when it started or ends, with one exception
        that needs no guess: a decision taken in year Y ended by 31 December of Y + 3 at the
        latest, so after that day it is certainly expired.
        """
        day = day or timezone.localdate()
        if self.decision_date is None:
            if self.decision_year and day > datetime.date(self.decision_year + 3, 12, 31):
                return self.Validity.EXPIRED
            return self.Validity.UNKNOWN
        if day < self.decision_date:
            return self.Validity.NOT_YET
        if self.expires_on and day > self.expires_on:
            return self.Validity.EXPIRED
        if self.verified_at is None:
            return self.Validity.UNVERIFIED
        return self.Validity.VALID


class RegisterEntry(models.Model):
    """Facts about a product as the province's OCOP register states them, with their source.

    Kept apart from Product so that a re-import never rewrites moderated content, and so that
    what the register said stays visible next to what the cooperative wrote.
    """

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="register_entry")
    register_code = models.CharField(_("register code"), max_length=40, blank=True)
    # The key a re-import recognises the row by when the register gives no code:
    # the decision number and the product name, both folded (see cooperatives.text.match_key).
    match_key = models.CharField(max_length=400, editable=False, db_index=True)
    producer_name = models.CharField(_("producer as registered"), max_length=255, blank=True)
    district_name = models.CharField(_("district as registered"), max_length=120, blank=True)
    commune_name = models.CharField(_("commune as registered"), max_length=120, blank=True)
    source_url = models.TextField(_("source"), blank=True)
    evidence = models.TextField(_("decision or evidence"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    imported_at = models.DateTimeField(_("imported"), default=timezone.now)

    class Meta:
        verbose_name = _("register entry")
        verbose_name_plural = _("register entries")
        constraints = [
            models.UniqueConstraint(
                fields=["register_code"], condition=~Q(register_code=""), name="registerentry_code_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.register_code or self.product.name


class RegisterImport(models.Model):
    """One upload of the register by an officer: checked first, saved only when every row is good."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the worker")
        CHECKING = "checking", _("Checking")
        INVALID = "invalid", _("Has errors: nothing saved")
        VALID = "valid", _("Checked: ready to import")
        IMPORTING = "importing", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    file = models.FileField(_("register file"), upload_to="register-imports/%Y/%m/")
    original_filename = models.CharField(_("file name"), max_length=255)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    errors = models.JSONField(_("problems found"), default=list, blank=True)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    failure = models.TextField(_("failure"), blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("uploaded by")
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("register import")
        verbose_name_plural = _("register imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.original_filename


class CatalogLogEntryManager(BaseLogEntryManager):
    def log_action(self, instance, action, **kwargs):
        kwargs["object_id"] = str(instance.pk)
        cooperative_id = getattr(instance, "cooperative_id", None)
        if cooperative_id is None and hasattr(instance, "product"):
            cooperative_id = instance.product.cooperative_id
        kwargs["cooperative_id"] = cooperative_id
        acting = current_acting()
        if acting is not None:
            kwargs["acting_role"] = acting.role
            kwargs["data"] = {**(kwargs.get("data") or {}), "acting": acting.as_log_data()}
        return super().log_action(instance, action, **kwargs)

    def for_instance(self, instance):
        return self.filter(
            content_type=ContentType.objects.get_for_model(instance, for_concrete_model=False),
            object_id=str(instance.pk),
        )


class CatalogLogEntry(BaseLogEntry):
    """Audit log of products, offers and certificates: every Wagtail log entry for them,
    plus the cooperative concerned and, from the member portal, who acted in which role."""

    object_id = models.CharField(max_length=255, db_index=True)
    cooperative = models.ForeignKey(
        Cooperative, null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False, related_name="+"
    )
    acting_role = models.CharField(max_length=10, blank=True)

    objects = CatalogLogEntryManager()

    class Meta(BaseLogEntry.Meta):
        ordering = ["-timestamp", "-id"]
        verbose_name = _("catalog log entry")
        verbose_name_plural = _("catalog log entries")

    @property
    def acting(self) -> dict:
        return self.data.get("acting") or {}
