"""The showcase's product list filters: by 2025 commune, OCOP group, star, channel and price.

Every filter is a database condition, and the choices come from what approved products actually
have, so a visitor never picks a filter that shows nothing. A fixed number of queries whatever
the catalogue's size."""

from django import forms
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog import public_cache
from marketplace_sync import coverage
from marketplace_sync.models import Channel, Listing


class ProductFilterForm(forms.Form):
    commune = forms.ChoiceField(label=_("Commune"), required=False)
    group = forms.ChoiceField(label=_("OCOP group"), required=False)
    stars = forms.ChoiceField(
        label=_("Stars"), required=False, choices=[("", _("All")), ("3", "3"), ("4", "4"), ("5", "5")]
    )
    channel = forms.ChoiceField(label=_("Sold on"), required=False)
    price_min = forms.IntegerField(label=_("Price from (₫)"), required=False, min_value=0)
    price_max = forms.IntegerField(label=_("Price up to (₫)"), required=False, min_value=0)

    def __init__(self, *args, products: QuerySet, **kwargs):
        super().__init__(*args, **kwargs)
        self.products = products
        # The choices change only with the public content (rolling 423 old communes up to the
        # 2025 ones is the costly part).
        choices = public_cache.cached("showcase-filter-choices", lambda: _choices(products))
        self.units = choices["units"]
        self.fields["commune"].choices = [("", _("All")), *choices["communes"]]
        self.fields["group"].choices = [("", _("All")), *choices["groups"]]
        self.fields["channel"].choices = [("", _("All")), *choices["channels"]]

    def filter(self) -> QuerySet:
        products = self.products
        if not self.is_valid():
            return products
        data = self.cleaned_data
        if data["commune"]:
            wanted = [unit for unit, (code, _label) in self.units.items() if code == data["commune"] and unit]
            products = products.annotate(unit_id=Coalesce("origin_commune_id", "cooperative__commune_id")).filter(
                unit_id__in=wanted
            )
        if data["group"]:
            products = products.filter(category__group_code=data["group"])
        if data["stars"]:
            valid = coverage.valid_certificates(timezone.localdate()).filter(
                product=OuterRef("pk"), stars=int(data["stars"])
            )
            products = products.filter(Exists(valid))
        if data["channel"]:
            live = Listing.objects.filter(
                product=OuterRef("pk"), channel__code=data["channel"], reported_state=Listing.Reported.LIVE
            ).exclude(external_url="")
            products = products.filter(Exists(live))
        if data["price_min"] is not None:
            products = products.filter(offer__price_vnd__gte=data["price_min"])
        if data["price_max"] is not None:
            products = products.filter(offer__price_vnd__lte=data["price_max"])
        return products

    def query_without_page(self) -> str:
        """The filters as a query string, for the pager's links."""
        if not self.is_bound:
            return ""
        query = self.data.copy()
        query.pop("page", None)
        return query.urlencode()


def _choices(products: QuerySet) -> dict:
    units = coverage.unit_rollup(set(_unit_ids(products)), "commune")
    communes = sorted({value for key, value in units.items() if key is not None and value[0] != "-"},
                      key=lambda item: item[1])  # fmt: skip
    # order_by(): the list's own ordering would join the DISTINCT and return every row.
    groups = (
        products.exclude(category=None).order_by().values_list("category__group_code", "category__group").distinct()
    )
    live = Listing.objects.filter(reported_state=Listing.Reported.LIVE).exclude(external_url="")
    channels = Channel.objects.filter(
        kind__in=(Channel.Kind.API, Channel.Kind.EXPORT), is_active=True, code__in=live.values("channel__code")
    ).order_by("sort_order")
    return {
        "units": units,
        "communes": [(code, str(label)) for code, label in communes],
        "groups": sorted(set(groups), key=lambda item: item[1]),
        "channels": list(channels.values_list("code", "name")),
    }


def _unit_ids(products: QuerySet) -> list[int]:
    return list(
        products.annotate(unit_id=Coalesce("origin_commune_id", "cooperative__commune_id"))
        .order_by()
        .values_list("unit_id", flat=True)
        .distinct()
    )
