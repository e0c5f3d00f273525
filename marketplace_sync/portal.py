"""The marketplaces' section of the member portal, and their block on each product's page."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from catalog.portal import ProductPanel, register_product_panel
from cooperatives.portal import PortalSection, register_section

from . import export_views, selectors
from . import portal_views as views

urlpatterns = [
    path("cua-hang/", views.shops, name="shops"),
    path("cua-hang/<slug:channel_code>/ket-noi/", views.shop_connect, name="shop_connect"),
    path("cua-hang/tai-khoan/<int:account_id>/ngat-ket-noi/", views.shop_disconnect, name="shop_disconnect"),
    path("don-hang/", views.orders, name="orders"),
    path("don-hang/mua-thu/<int:listing_id>/", views.sandbox_order, name="sandbox_order"),
    path("tien-do/", views.coverage_page, name="coverage"),
    path("ban-truc-tiep/", views.ledger, name="ledger"),
]


def home_card(request):
    cooperative = request.portal.cooperative
    return {
        "shops": selectors.portal_shops(cooperative=cooperative),
        "totals": selectors.order_totals(cooperative=cooperative),
    }


def listings_panel(request, product):
    return {"listings": selectors.product_listings(product=product)}


register_section(
    PortalSection(
        key="shops",
        label=_("Shops"),
        url_name="portal:shops",
        urlpatterns=urlpatterns,
        order=20,
        home_template="marketplace_sync/portal/home_card.html",
        home_context=home_card,
    )
)
register_section(
    PortalSection(
        key="export_channels",
        label=_("Sell by spreadsheet"),
        url_name="portal:export_channels",
        urlpatterns=export_views.portal_urlpatterns,
        order=25,
    )
)
register_section(PortalSection(key="orders", label=_("Orders"), url_name="portal:orders", order=30))
register_section(PortalSection(key="coverage", label=_("Progress"), url_name="portal:coverage", order=35))
register_section(PortalSection(key="ledger", label=_("Direct sales"), url_name="portal:ledger", order=32))
register_product_panel(ProductPanel("marketplace_sync/portal/listings_panel.html", listings_panel, order=10))
