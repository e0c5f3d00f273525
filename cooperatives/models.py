"""Administrative units, cooperatives (OCOP subjects) and the people who act for them."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .validators import is_personal_id_number, normalise_tax_code, validate_tax_code


class AdministrativeUnit(models.Model):
    """A province, district or commune as the statistics office codes it, with its history.

    Units are data, never constants: the 1 July 2025 reform abolished districts and merged
    Yên Bái into Lào Cai, and new communes kept the code of one predecessor. So a code alone
    is not a key; (level, code) is unique among current units, and (level, code, valid_to)
    among those that ended.
    """

    class Level(models.TextChoices):
        PROVINCE = "province", _("Province")
        DISTRICT = "district", _("District")
        COMMUNE = "commune", _("Commune")

    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    code = models.CharField(_("code"), max_length=10, help_text=_("Statistics office code, e.g. 04252."))
    name = models.CharField(_("name"), max_length=120)
    unit_type = models.CharField(_("type"), max_length=40, help_text=_("Xã, Phường, Thị trấn, Huyện…"))
    name_en = models.CharField(_("English name"), max_length=120, blank=True)
    former_names = models.CharField(_("former names"), max_length=255, blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("part of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    valid_from = models.DateField(
        _("in force from"), null=True, blank=True, help_text=_("Empty when it began before our records.")
    )
    valid_to = models.DateField(
        _("in force until"), null=True, blank=True, help_text=_("Last day in force; empty while current.")
    )
    successors = models.ManyToManyField(
        "self",
        through="AdministrativeUnitSuccession",
        symmetrical=False,
        related_name="predecessors",
        verbose_name=_("successors"),
    )

    class Meta:
        verbose_name = _("administrative unit")
        verbose_name_plural = _("administrative units")
        ordering = ["level", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["level", "code"], condition=Q(valid_to__isnull=True), name="adminunit_current_code_unique"
            ),
            models.UniqueConstraint(
                fields=["level", "code", "valid_to"],
                condition=Q(valid_to__isnull=False),
                name="adminunit_historic_code_unique",
            ),
        ]

    def __str__(self) -> str:
        if self.valid_to:
            return _("%(name)s (until %(date)s)") % {"name": self.name, "date": self.valid_to.strftime("%d/%m/%Y")}
        return self.name

    def is_in_force(self, on=None) -> bool:
        on = on or timezone.localdate()
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on <= self.valid_to)


class AdministrativeUnitSuccession(models.Model):
    """The unit `predecessor` became (all or part of) `successor` on `effective_on`."""

    predecessor = models.ForeignKey(AdministrativeUnit, on_delete=models.CASCADE, related_name="successions_out")
    successor = models.ForeignKey(AdministrativeUnit, on_delete=models.CASCADE, related_name="successions_in")
    effective_on = models.DateField(_("effective on"))
    is_partial = models.BooleanField(
        _("only part of it"), default=False, help_text=_("The predecessor was split between several successors.")
    )

    class Meta:
        verbose_name = _("administrative unit succession")
        verbose_name_plural = _("administrative unit successions")
        constraints = [models.UniqueConstraint(fields=["predecessor", "successor"], name="adminunit_succession_unique")]

    def __str__(self) -> str:
        return f"{self.predecessor} → {self.successor}"


class Cooperative(models.Model):
    """An OCOP subject (chủ thể OCOP) of any legal form; `kind` says which."""

    class Kind(models.TextChoices):
        COOPERATIVE = "cooperative", _("Cooperative (HTX)")
        ENTERPRISE = "enterprise", _("Enterprise")
        COOPERATIVE_GROUP = "cooperative_group", _("Cooperative group")
        HOUSEHOLD = "household", _("Household business")

    name = models.CharField(_("name"), max_length=255)
    kind = models.CharField(_("legal form"), max_length=20, choices=Kind.choices, blank=True)
    slug = models.SlugField(_("address on the site"), max_length=120, unique=True)
    tax_code = models.CharField(
        _("tax code"),
        max_length=14,
        blank=True,
        validators=[validate_tax_code],
        help_text=_("10 digits, or 13 for a branch (10 + 3), e.g. 5200123456 or 5200123456-001."),
    )
    address = models.CharField(_("address"), max_length=255, blank=True)
    commune = models.ForeignKey(
        AdministrativeUnit,
        verbose_name=_("commune"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cooperatives",
        limit_choices_to={"level": AdministrativeUnit.Level.COMMUNE, "valid_to__isnull": True},
    )
    contact_name = models.CharField(_("contact person"), max_length=120, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)
    website = models.URLField(_("website"), blank=True)
    description = models.TextField(_("public profile"), blank=True)
    # Direct sales on the province's showcase ("Mua trực tiếp"): off until the trade department
    # has the cooperative's bank details to pay out what it is owed.
    sells_direct = models.BooleanField(
        _("sells directly on the showcase"),
        default=False,
        help_text=_(
            "Visitors can pay for its products on the province's site; the money is paid out by bank transfer."
        ),
    )
    bank_account_name = models.CharField(_("account holder"), max_length=255, blank=True)
    bank_account_number = models.CharField(_("bank account number"), max_length=40, blank=True)
    bank_name = models.CharField(_("bank and branch"), max_length=255, blank=True)
    stripe_account_id = models.CharField(
        _("Stripe connected account"),
        max_length=64,
        blank=True,
        help_text=_("Optional, acct_…: Stripe then pays the cooperative itself (destination charges)."),
    )
    # Lower-cased, accent-free name: how the register import recognises a cooperative
    # that has no tax code yet, so a re-import never creates it twice.
    match_name = models.CharField(max_length=255, editable=False, db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("cooperative")
        verbose_name_plural = _("cooperatives")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tax_code"], condition=~Q(tax_code=""), name="cooperative_tax_code_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        from .text import match_key

        self.tax_code = normalise_tax_code(self.tax_code)
        self.match_name = match_key(self.name)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "tax_code", "match_name"}
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        if (
            self.sells_direct
            and not (self.bank_account_number and self.bank_account_name)
            and not self.stripe_account_id
        ):
            raise ValidationError(
                {"sells_direct": _("Record the bank account the money is transferred to before switching this on.")}
            )
        if self.stripe_account_id and not self.stripe_account_id.startswith("acct_"):
            raise ValidationError({"stripe_account_id": _("A Stripe connected account id starts with acct_.")})
        if is_personal_id_number(normalise_tax_code(self.tax_code)) and self.kind != self.Kind.HOUSEHOLD:
            raise ValidationError(
                {
                    "tax_code": _(
                        "A 12-digit personal identification number is a tax code only for a household "
                        "business. An enterprise or cooperative has 10 digits (13 for a branch)."
                    )
                }
            )


class Membership(models.Model):
    """A person who acts for a cooperative in the member portal.

    A member belongs to the cooperative. A helper (community digital team, postal staff)
    assists it with the cooperative's recorded consent; every action a helper takes is
    recorded as "by helper X for cooperative Y".
    """

    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        HELPER = "helper", _("Helper")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships"
    )
    cooperative = models.ForeignKey(
        Cooperative, verbose_name=_("cooperative"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    helper_organisation = models.CharField(
        _("helper's organisation"),
        max_length=160,
        blank=True,
        help_text=_("For helpers: e.g. the commune's community digital team, the post office."),
    )
    consent_date = models.DateField(
        _("consent date"), null=True, blank=True, help_text=_("When the cooperative agreed to this helper.")
    )
    consent_note = models.CharField(_("consent recorded as"), max_length=255, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "cooperative"], name="membership_user_cooperative_unique"),
            models.CheckConstraint(
                condition=~Q(role="helper") | Q(consent_date__isnull=False), name="membership_helper_has_consent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.cooperative} ({self.get_role_display()})"
