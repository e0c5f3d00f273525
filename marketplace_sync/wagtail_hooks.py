"""The sync queue as the trade department sees it in the Wagtail admin."""

import django_filters
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel
from wagtail.admin.ui.components import Component
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet

from cooperatives.selectors import current_communes

from . import admin_views, coverage, coverage_views, ledger_views, selectors
from .models import CategoryMapping, InboundEvent, Listing, MarketplaceAccount, SyncJob


class ListingFilterSet(WagtailFilterSet):
    commune = django_filters.ModelChoiceFilter(
        label=_("Commune"), field_name="product__cooperative__commune", queryset=lambda request: current_communes()
    )

    class Meta:
        model = Listing
        fields = ["channel", "reported_state", "who_must_act", "account__cooperative", "commune"]


class ListingViewSet(ModelViewSet):
    model = Listing
    icon = "upload"
    menu_label = _("Listings")
    add_view_enabled = False
    edit_view_enabled = False
    inspect_view_enabled = True
    filterset_class = ListingFilterSet
    list_display = [
        "product",
        "channel",
        Column("reported_state", label=_("State"), accessor="get_reported_state_display"),
        Column("who_must_act", label=_("Who must act"), accessor="get_who_must_act_display"),
        "account",
        DateColumn("last_synced_at", label=_("Last synced")),
    ]
    list_export = ["product", "channel", "reported_state", "who_must_act", "raw_status", "raw_reason", "external_url"]
    search_fields = ["product__name", "external_id", "account__cooperative__name"]
    inspect_template_name = "marketplace_sync/admin/listing_inspect.html"
    form_fields = ["desired_state"]  # no edit view; changes go through "push now" and the services

    def get_queryset(self, request):
        return Listing.objects.select_related("product", "channel", "account__cooperative")


class AccountViewSet(ModelViewSet):
    model = MarketplaceAccount
    icon = "link"
    menu_label = _("Shop connections")
    add_view_enabled = False
    list_display = [
        "cooperative",
        "channel",
        "shop_name",
        Column("status", label=_("Status"), accessor="get_status_display"),
        DateColumn("authorization_expires_at", label=_("Connection expires")),
    ]
    list_filter = ["channel", "status"]
    form_fields = ["status"]
    search_fields = ["shop_name", "shop_id", "cooperative__name"]

    def get_queryset(self, request):
        return MarketplaceAccount.objects.select_related("cooperative", "channel").order_by("authorization_expires_at")


class CategoryMappingViewSet(ModelViewSet):
    model = CategoryMapping
    icon = "list-ul"
    menu_label = _("Category mappings")
    add_view_enabled = False
    list_display = ["ocop_category", "channel", "marketplace_category_id", "marketplace_category_path"]
    list_filter = ["channel"]
    panels = [FieldPanel("marketplace_category_id"), FieldPanel("marketplace_category_path"), FieldPanel("note")]
    search_fields = ["marketplace_category_id", "marketplace_category_path", "ocop_category__name"]

    def get_queryset(self, request):
        return CategoryMapping.objects.select_related("channel", "ocop_category")


class SyncJobViewSet(ModelViewSet):
    model = SyncJob
    icon = "history"
    menu_label = _("Sync queue")
    add_view_enabled = False
    edit_view_enabled = False
    list_display = [
        "listing",
        Column("action", label=_("Action"), accessor="get_action_display"),
        Column("status", label=_("Status"), accessor="get_status_display"),
        "attempts",
        "last_error",
        DateColumn("created_at", label=_("Queued")),
    ]
    list_filter = ["status", "action", "listing__channel"]
    form_fields = ["status"]  # no edit view: the queue is read-only

    def get_queryset(self, request):
        return SyncJob.objects.select_related("listing__product", "listing__channel", "listing__account")


class InboundEventViewSet(ModelViewSet):
    model = InboundEvent
    icon = "mail"
    menu_label = _("Inbound events")
    add_view_enabled = False
    edit_view_enabled = False
    list_display = ["source", "event_id", "kind", "status", DateColumn("received_at", label=_("Received"))]
    list_filter = ["source", "status", "kind"]
    form_fields = ["status"]  # no edit view: events are read-only


class MarketplacesGroup(ViewSetGroup):
    menu_label = _("Marketplaces")
    menu_icon = "upload"
    menu_order = 220
    items = (
        ListingViewSet("listings"),
        SyncJobViewSet("sync_jobs"),
        AccountViewSet("shop_connections"),
        CategoryMappingViewSet("category_mappings"),
        InboundEventViewSet("inbound_events"),
    )


@hooks.register("register_admin_viewset")
def register_marketplace_viewsets():
    return MarketplacesGroup()


@hooks.register("register_admin_urls")
def register_marketplace_admin_urls():
    return [
        path("listings/<int:pk>/push/", admin_views.listing_push_now, name="marketplace_listing_push"),
        path("listings/<int:pk>/retry/", admin_views.listing_retry, name="marketplace_listing_retry"),
        path("coverage/", coverage_views.coverage_dashboard, name="coverage_dashboard"),
        path("direct-sales/ledger/", ledger_views.ledger_view, name="direct_sales_ledger"),
        path("coverage/products/", coverage_views.coverage_products_view, name="coverage_products"),
        path("coverage/worklists/<slug:name>/", coverage_views.worklist_view, name="coverage_worklist"),
    ]


class CoverageMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(coverage_views.PERMISSION)


@hooks.register("register_admin_menu_item")
def register_coverage_menu_item():
    return CoverageMenuItem(_("Coverage"), reverse("coverage_dashboard"), icon_name="table", order=190)


class LedgerMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(ledger_views.VIEW_PERMISSION)


@hooks.register("register_admin_menu_item")
def register_ledger_menu_item():
    return LedgerMenuItem(_("Direct sales"), reverse("direct_sales_ledger"), icon_name="doc-full", order=195)


class CoveragePanel(Component):
    """On the admin home: the headline toward the 100% target."""

    name = "ocop_coverage"
    template_name = "marketplace_sync/admin/coverage_panel.html"
    order = 100

    def get_context_data(self, parent_context):
        table = coverage.coverage_table()
        return {"total": table.total, "table": table, "url": reverse("coverage_dashboard")}


class QueuePanel(Component):
    """On the admin home: how much is waiting or failing, per marketplace."""

    name = "marketplace_queue"
    template_name = "marketplace_sync/admin/queue_panel.html"
    order = 150

    def get_context_data(self, parent_context):
        return {
            "rows": selectors.queue_depth_by_channel(),
            "expiring": MarketplaceAccount.objects.filter(status="connected", expiry_warned_at__isnull=False)
            .select_related("cooperative", "channel")
            .order_by("authorization_expires_at")[:10],
            "listings_url": reverse("listings:index"),
        }


@hooks.register("construct_homepage_panels")
def add_queue_panel(request, panels):
    if request.user.has_perm("marketplace_sync.view_listing"):
        panels.append(CoveragePanel())
        panels.append(QueuePanel())


@hooks.register("register_log_actions")
def register_marketplace_log_actions(actions):
    actions.register_action(
        "ocop.export_listing_live", _("Recorded live on an export channel"), _("Recorded live on an export channel")
    )
    actions.register_action(
        "ocop.export_listing_withdrawn", _("Recorded taken down on an export channel"),
        _("Recorded taken down on an export channel"),
    )  # fmt: skip
