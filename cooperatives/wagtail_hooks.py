"""Cooperatives, their portal accounts and the administrative units in the Wagtail admin."""

from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.admin.ui.tables import BooleanColumn, Column
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet

from . import admin_views
from .models import AdministrativeUnit, Cooperative, Membership


class CooperativeViewSet(ModelViewSet):
    model = Cooperative
    icon = "group"
    menu_label = _("Cooperatives")
    list_display = ["name", "kind", "tax_code", "commune", Column("updated_at", label=_("Updated"))]
    list_filter = ["kind"]
    search_fields = ["name", "tax_code", "address"]
    list_export = ["name", "kind", "tax_code", "address", "commune", "phone", "email"]
    inspect_view_enabled = True
    panels = [
        FieldPanel("name"),
        FieldRowPanel([FieldPanel("kind"), FieldPanel("tax_code")]),
        FieldPanel("slug"),
        FieldPanel("address"),
        FieldPanel("commune"),
        MultiFieldPanel(
            [
                FieldPanel("contact_name"),
                FieldRowPanel([FieldPanel("phone"), FieldPanel("email")]),
                FieldPanel("website"),
            ],
            heading=_("Contacts"),
        ),
        FieldPanel("description"),
        MultiFieldPanel(
            [
                FieldPanel("sells_direct"),
                FieldPanel("bank_account_name"),
                FieldRowPanel([FieldPanel("bank_account_number"), FieldPanel("bank_name")]),
                FieldPanel("stripe_account_id"),
            ],
            heading=_("Direct sales on the showcase"),
        ),
    ]

    def get_queryset(self, request):
        return Cooperative.objects.select_related("commune")


class MembershipViewSet(ModelViewSet):
    model = Membership
    icon = "user"
    menu_label = _("Portal accounts")
    list_display = ["user", "cooperative", "role", "helper_organisation", "consent_date", BooleanColumn("is_active")]
    list_filter = ["role", "is_active"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "cooperative__name"]
    form_fields = ["user", "cooperative", "role", "helper_organisation", "consent_date", "consent_note", "is_active"]

    def get_queryset(self, request):
        return Membership.objects.select_related("user", "cooperative")


class AdministrativeUnitViewSet(ModelViewSet):
    model = AdministrativeUnit
    icon = "site"
    menu_label = _("Administrative units")
    list_display = ["code", "name", "level", "parent", "valid_from", "valid_to"]
    list_filter = ["level"]
    search_fields = ["code", "name", "former_names"]
    inspect_view_enabled = True
    form_fields = ["name", "name_en", "former_names"]
    list_per_page = 100

    def get_queryset(self, request):
        return AdministrativeUnit.objects.select_related("parent")


class CooperativesGroup(ViewSetGroup):
    menu_label = _("Cooperatives")
    menu_icon = "group"
    menu_order = 210
    items = (
        CooperativeViewSet("cooperatives"),
        MembershipViewSet("portal_accounts"),
        AdministrativeUnitViewSet("administrative_units"),
    )


@hooks.register("register_admin_viewset")
def register_cooperatives_viewsets():
    return CooperativesGroup()


class PortalAccountMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm("cooperatives.add_membership")


@hooks.register("register_admin_menu_item")
def portal_account_menu_item():
    return PortalAccountMenuItem(
        _("New portal account"), reverse("cooperatives_portal_account_create"), icon_name="user", order=215
    )


@hooks.register("register_admin_urls")
def register_cooperatives_admin_urls():
    return [path("portal-accounts/new/", admin_views.portal_account_create, name="cooperatives_portal_account_create")]
