"""The public site: Wagtail pages. Products are not copied into the page tree; the product
list is a routable page that reads approved products from the catalog."""

from django.conf import settings
from django.core.paginator import Paginator
from django.db import models
from django.shortcuts import get_object_or_404
from django.urls import translate_url
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, InlinePanel
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.fields import RichTextField
from wagtail.models import Orderable, Page
from wagtail.search import index

from catalog import public_cache
from catalog import selectors as catalog_selectors
from cooperatives.models import Cooperative
from marketplace_sync import coverage
from marketplace_sync import selectors as sync_selectors

from . import selectors, seo, showcase
from .choosers import approved_product_chooser

PRODUCTS_PER_PAGE = 24
NEWS_PER_PAGE = 10
NEWS_ON_HOME = 3


class HomePage(Page):
    intro = RichTextField(_("introduction"), blank=True)

    content_panels = Page.content_panels + [
        FieldPanel("intro"),
        InlinePanel(
            "featured_products",
            heading=_("Featured products"),
            label=_("Featured product"),
            max_num=selectors.FEATURED_PRODUCTS_ON_HOME,
            help_text=_(
                "Shown on the home page in this order, approved products only. With none chosen, the home page "
                "shows the newest approved products."
            ),
        ),
    ]
    subpage_types = ["cms.ProductIndexPage", "cms.StandardPage", "cms.ProgressPage", "cms.NewsIndexPage"]
    max_count = 1

    class Meta:
        verbose_name = _("home page")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["product_index"] = ProductIndexPage.objects.live().descendant_of(self).first()
        context["progress_page"] = ProgressPage.objects.live().descendant_of(self).first()
        # Today's figure: the day is part of the key, as certificates expire overnight.
        today = timezone.localdate().isoformat()
        context["coverage"] = public_cache.cached(f"home-coverage:{today}", lambda: coverage.coverage_table().total)
        # Read through the relation, not the table: a preview shows the editor's unpublished choice.
        chosen = [featured.product_id for featured in self.featured_products.all()]
        context["featured_products"] = selectors.featured_products(chosen)
        context["news_index"] = NewsIndexPage.objects.live().descendant_of(self).first()
        context["latest_news"] = selectors.newest_first(NewsPage.objects.live().public().descendant_of(self))[
            :NEWS_ON_HOME
        ]
        return context


class HomeFeaturedProduct(Orderable):
    """A product the editors put on the home page. Part of the home page's revisions, so a new
    choice shows only once the page is published; a product that is not (or no longer)
    approved is skipped when the page is shown, never removed from the editors' list."""

    page = ParentalKey(HomePage, on_delete=models.CASCADE, related_name="featured_products")
    product = models.ForeignKey(
        "catalog.Product",
        verbose_name=_("product"),
        on_delete=models.CASCADE,
        related_name="+",
        limit_choices_to={"live": True},  # the form refuses a draft, whatever is posted
    )

    panels = [FieldPanel("product", widget=approved_product_chooser.widget_class)]

    class Meta(Orderable.Meta):
        verbose_name = _("featured product")
        verbose_name_plural = _("featured products")


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
        products = catalog_selectors.public_product_list()
        form = showcase.ProductFilterForm(request.GET or None, products=products)
        paginator = Paginator(form.filter(), PRODUCTS_PER_PAGE)
        page_obj = paginator.get_page(request.GET.get("page"))
        return self.render(
            request,
            context_overrides={
                "page_obj": page_obj,
                "products": page_obj.object_list,
                "form": form,
                "filter_query": form.query_without_page(),
            },
            template="cms/product_index_page.html",
        )

    @path("hop-tac-xa/<slug:slug>/")
    def cooperative_detail(self, request, slug):
        """A producer's profile with all its approved products."""
        cooperative = get_object_or_404(Cooperative.objects.select_related("commune"), slug=slug)
        products = catalog_selectors.public_product_list().filter(cooperative=cooperative)
        return self.render(
            request,
            context_overrides={"cooperative": cooperative, "products": products},
            template="cms/cooperative_detail.html",
        )

    @path("<int:product_id>/")
    def product_detail(self, request, product_id):
        product = catalog_selectors.public_product_detail(product_id=product_id)
        url = self.get_full_url(request) + self.reverse_subpage("product_detail", args=[product.pk]).lstrip("/")
        photos = list(product.images.all())[:3]
        image_urls = [request.build_absolute_uri(photo.image.get_rendition("fill-800x800").url) for photo in photos]
        certificate = catalog_selectors.current_certificate(product.certificates.all())
        expired = [c for c in product.certificates.all() if c.expires_on and c.verified_at]
        expired_certificate = None if certificate else max(expired, key=lambda c: c.expires_on, default=None)
        return self.render(
            request,
            context_overrides={
                "product": product,
                "certificate": certificate,
                "expired_certificate": expired_certificate,
                "buy_links": sync_selectors.public_buy_links(product=product),
                "canonical_url": url,
                "alternates": {code: translate_url(url, code) for code, _name in settings.LANGUAGES},
                "og_image": image_urls[0] if image_urls else "",
                "json_ld": seo.product_json_ld(product, url=url, image_urls=image_urls, certificate=certificate),
                "qr_svg": seo.qr_svg(url),
            },
            template="cms/product_detail.html",
        )


class StandardPage(Page):
    body = RichTextField(_("body"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("body")]
    parent_page_types = ["cms.HomePage", "cms.StandardPage"]
    subpage_types = ["cms.StandardPage"]

    class Meta:
        verbose_name = _("standard page")


class NewsIndexPage(Page):
    """The trade department's news about the programme, newest first."""

    intro = RichTextField(_("introduction"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = ["cms.NewsPage"]
    max_count = 1

    class Meta:
        verbose_name = _("news list page")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        news = selectors.newest_first(NewsPage.objects.live().public().child_of(self), with_thumbnails=True)
        context["page_obj"] = Paginator(news, NEWS_PER_PAGE).get_page(request.GET.get("page"))
        return context


class NewsPage(Page):
    date = models.DateField(_("date"), default=timezone.localdate, help_text=_("News items are listed newest first."))
    intro = models.TextField(
        _("summary"), max_length=300, help_text=_("One or two sentences, shown in the news list and on the home page.")
    )
    body = RichTextField(_("body"), blank=True)
    image = models.ForeignKey(
        "wagtailimages.Image",
        verbose_name=_("image"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",  # no reverse accessor on Image: it is shared by every app
    )

    content_panels = Page.content_panels + [
        FieldPanel("date"),
        FieldPanel("intro"),
        FieldPanel("image"),
        FieldPanel("body"),
    ]
    search_fields = Page.search_fields + [index.SearchField("intro"), index.SearchField("body")]
    parent_page_types = ["cms.NewsIndexPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("news item")
        verbose_name_plural = _("news items")


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
        today = timezone.localdate().isoformat()
        context["table"] = public_cache.cached(
            f"progress-communes:{today}", lambda: coverage.coverage_table(by="commune")
        )
        context["channels"] = public_cache.cached(
            f"progress-channels:{today}", lambda: coverage.coverage_table(by="channel").rows
        )
        return context
