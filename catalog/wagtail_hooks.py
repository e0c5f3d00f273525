"""The catalog in the trade department's Wagtail admin: products to moderate, certificates to
verify, the register import. Members never see this: they use the member portal."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel, Panel
from wagtail.admin.ui.tables import BooleanColumn, Column, UpdatedAtColumn
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.log_actions import LogFormatter
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import EditView, SnippetViewSet, SnippetViewSetGroup

from . import admin_views
from .models import CatalogLogEntry, Certificate, Offer, Product
from .templatetags.catalog_tags import vnd


class ReadOnlyPanel(Panel):
    """A block of facts on the product's edit page that is not part of the moderated form."""

    def __init__(self, template_name, *args, **kwargs):
        self.template_name = template_name
        super().__init__(*args, **kwargs)

    def clone_kwargs(self):
        return {**super().clone_kwargs(), "template_name": self.template_name}

    class BoundPanel(Panel.BoundPanel):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.template_name = self.panel.template_name

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            product = self.instance
            if product.pk:
                context["offer"] = Offer.objects.filter(product=product).first()
                context["certificates"] = list(product.certificates.all())
                context["register_entry"] = getattr(product, "register_entry", None)
                context["history"] = CatalogLogEntry.objects.for_instance(product).select_related("user")[:30]
            return context


class ProductEditView(EditView):
    def save_instance(self):
        # As Wagtail's page editor does: "Approve" or "Request changes" on an unchanged form acts
        # on the version under review instead of first saving a copy of it as the officer's,
        # which (WAGTAIL_WORKFLOW_REQUIRE_REAPPROVAL_ON_EDIT) restarted the review every time.
        if self.action == "workflow-action" and not self.form.has_changed():
            self.new_revision = self.object.latest_revision
            return self.object
        return super().save_instance()


class ProductViewSet(SnippetViewSet):
    model = Product
    edit_view_class = ProductEditView
    icon = "tag"
    menu_label = _("OCOP products")
    menu_order = 200
    inspect_view_enabled = True
    list_display = ["name", "cooperative", "category", BooleanColumn("live", label=_("Approved")), UpdatedAtColumn()]
    list_filter = ["live", "has_unpublished_changes", "category"]
    list_export = ["name", "cooperative", "category", "live", "weight_grams", "updated_at"]
    search_backend_name = None
    search_fields = ["name", "cooperative__name", "register_entry__register_code"]
    list_per_page = 50
    ordering = ["name"]

    panels = [
        FieldPanel("cooperative"),
        FieldPanel("name"),
        FieldPanel("category"),
        FieldPanel("description"),
        FieldPanel("ingredients"),
        FieldRowPanel([FieldPanel("shelf_life_days"), FieldPanel("weight_grams")]),
        FieldPanel("storage_instructions"),
        MultiFieldPanel(
            [
                FieldRowPanel(
                    [FieldPanel("package_length_cm"), FieldPanel("package_width_cm"), FieldPanel("package_height_cm")]
                )
            ],
            heading=_("Package"),
        ),
        FieldPanel("origin_commune"),
        InlinePanel("images", heading=_("Photos"), label=_("Photo")),
        ReadOnlyPanel("catalog/admin/product_facts_panel.html", heading=_("Price, stock, certificates, register")),
        ReadOnlyPanel("catalog/admin/product_history_panel.html", heading=_("Who did what")),
    ]

    def get_queryset(self, request):
        return Product.objects.select_related("cooperative", "category")


class CertificateViewSet(ModelViewSet):
    model = Certificate
    icon = "doc-full"
    menu_label = _("OCOP certificates")
    add_to_admin_menu = False
    list_display = [
        "product",
        Column("stars", label=_("Stars")),
        "decision_number",
        "decision_date",
        "expires_on",
        "source",
        BooleanColumn("verified_at", label=_("Verified")),
    ]
    list_filter = ["source", "stars", "kind"]
    search_fields = ["decision_number", "product__name"]
    form_fields = [
        "product",
        "stars",
        "decision_number",
        "issuing_body",
        "decision_date",
        "decision_year",
        "expires_on",
        "kind",
        "scan",
        "note",
    ]
    inspect_view_enabled = True

    def get_queryset(self, request):
        return Certificate.objects.select_related("product")


class CatalogGroup(SnippetViewSetGroup):
    menu_label = _("OCOP catalog")
    menu_icon = "tag"
    menu_order = 200
    items = (ProductViewSet,)


register_snippet(CatalogGroup)


@hooks.register("register_admin_viewset")
def register_certificate_viewset():
    return CertificateViewSet("certificates")


@hooks.register("register_admin_urls")
def register_catalog_admin_urls():
    return admin_views.urlpatterns


class RegisterImportMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm("catalog.view_registerimport")


@hooks.register("register_admin_menu_item")
def register_import_menu_item():
    return RegisterImportMenuItem(
        _("Import register"), reverse("catalog_register_import"), icon_name="upload", order=205
    )


@hooks.register("register_log_actions")
def register_catalog_log_actions(actions):
    # Products' log entries carry who acted for which cooperative (see cooperatives.audit).
    actions.register_model(Product, CatalogLogEntry)

    @actions.register_action("ocop.offer_change")
    class OfferChange(LogFormatter):
        label = _("Change price or stock")

        def format_message(self, log_entry):
            data = log_entry.data
            price = vnd
            return _("Price %(old_price)s → %(new_price)s, stock %(old_stock)s → %(new_stock)s") % {
                "old_price": price(data.get("old_price")),
                "new_price": price(data.get("new_price")),
                "old_stock": data.get("old_stock"),
                "new_stock": data.get("new_stock"),
            }

    actions.register_action("ocop.certificate_add", _("Add certificate"), _("Certificate added"))
    actions.register_action("ocop.certificate_scan", _("Attach certificate scan"), _("Certificate scan attached"))
    actions.register_action("ocop.certificate_verify", _("Verify certificate"), _("Certificate verified"))
    actions.register_action("ocop.register_import", _("Import from register"), _("Imported from the OCOP register"))
