"""The public site: Wagtail pages. Products are not copied into the page tree; the product
list is a routable page that reads approved products from the catalog."""

from django.core.paginator import Paginator
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.fields import RichTextField
from wagtail.models import Page

from catalog import selectors as catalog_selectors
from marketplace_sync import coverage

PRODUCTS_PER_PAGE = 24


class HomePage(Page):
    intro = RichTextField(_("introduction"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]
    subpage_types = ["cms.ProductIndexPage", "cms.StandardPage", "cms.ProgressPage"]
    max_count = 1

    class Meta:
        verbose_name = _("home page")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["product_index"] = ProductIndexPage.objects.live().descendant_of(self).first()
        context["progress_page"] = ProgressPage.objects.live().descendant_of(self).first()
        context["coverage"] = coverage.coverage_table().total
        return context


class ProductIndexPage(RoutablePageMixin, Page):
    """Approved OCOP products of the province, read from the catalog."""

    intro = RichTextField(_("introduction"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]
    parent_page_types = ["cms.HomePage"]
    subpage_types: list[str] = []
    max_count = 1

    class Meta:
        verbose_name = _("product list page")

    @path("")
    def product_list(self, request):
        paginator = Paginator(catalog_selectors.public_product_list(), PRODUCTS_PER_PAGE)
        page_obj = paginator.get_page(request.GET.get("page"))
        return self.render(
            request,
            context_overrides={"page_obj": page_obj, "products": page_obj.object_list},
            template="cms/product_index_page.html",
        )

    @path("<int:product_id>/")
    def product_detail(self, request, product_id):
        product = catalog_selectors.public_product_detail(product_id=product_id)
        return self.render(
            request,
            context_overrides={"product": product},
            template="cms/product_detail.html",
        )


class StandardPage(Page):
    body = RichTextField(_("body"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("body")]
    parent_page_types = ["cms.HomePage", "cms.StandardPage"]

    class Meta:
        verbose_name = _("standard page")


class ProgressPage(Page):
    """The province's progress toward "100% of OCOP products on e-commerce, each with sales",
    for the public: aggregate figures and their definitions, no per-buyer data."""

    intro = RichTextField(_("introduction"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]
    parent_page_types = ["cms.HomePage"]
    subpage_types: list[str] = []
    max_count = 1

    class Meta:
        verbose_name = _("progress page")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["table"] = coverage.coverage_table(by="commune")
        context["channels"] = coverage.coverage_table(by="channel").rows
        return context
