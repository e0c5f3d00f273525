"""The catalog's section of the member portal."""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from cooperatives.portal import PortalSection, register_section

from . import portal_views as views
from . import selectors

product_urls = [
    path("", views.product_detail, name="product"),
    path("thong-tin/", views.product_edit, name="product_edit"),
    path("anh/", views.product_photos, name="product_photos"),
    path("anh/<int:image_id>/xoa/", views.product_photo_remove, name="product_photo_remove"),
    path("anh/<int:image_id>/doi-cho/", views.product_photo_move, name="product_photo_move"),
    path("gia-ton-kho/", views.product_offer, name="product_offer"),
    path("chung-nhan/", views.product_certificates, name="product_certificates"),
    path("chung-nhan/<int:certificate_id>/tai-len/", views.certificate_scan_upload, name="certificate_scan_upload"),
    path("chung-nhan/<int:certificate_id>/ban-scan/", views.certificate_scan_download, name="certificate_scan"),
    path("gui-duyet/", views.product_submit, name="product_submit"),
    path("rut-lai/", views.product_withdraw, name="product_withdraw"),
    path("lich-su/", views.product_history, name="product_history"),
]

urlpatterns = [
    path("san-pham/", views.product_list, name="product_list"),
    path("san-pham/them/", views.product_add, name="product_add"),
    path("san-pham/<int:product_id>/", include(product_urls)),
]


@dataclass(frozen=True)
class ProductPanel:
    """A block another app adds to a product's page in the portal (e.g. its marketplace
    listings), without the catalog importing that app."""

    template: str
    context: Callable  # (request, product) -> dict
    order: int = 100


_product_panels: list[ProductPanel] = []


def register_product_panel(panel: ProductPanel) -> ProductPanel:
    _product_panels.append(panel)
    _product_panels.sort(key=lambda item: item.order)
    return panel


def product_panels(request, product) -> list[dict]:
    return [{"template": panel.template, **panel.context(request, product)} for panel in _product_panels]


def home_card(request):
    rows = selectors.portal_products(cooperative=request.portal.cooperative)
    counts = {}
    for row in rows:
        counts[row.status.state] = counts.get(row.status.state, 0) + 1
    return {
        "total": len(rows),
        "states": [(state, label, counts.get(state, 0)) for state, label in selectors.ProductState.LABELS.items()],
        "needs_attention": [row for row in rows if row.status.state == selectors.ProductState.NEEDS_CHANGES],
    }


register_section(
    PortalSection(
        key="products",
        label=_("Products"),
        url_name="portal:product_list",
        urlpatterns=urlpatterns,
        order=10,
        home_template="catalog/portal/home_card.html",
        home_context=home_card,
    )
)
