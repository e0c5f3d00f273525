"""The chooser editors use to feature products: approved products only, so a draft's name
never appears in the site editors' modal and a draft cannot be picked."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.viewsets.chooser import ChooserViewSet


class ApprovedProductChooserViewSet(ChooserViewSet):
    model = "catalog.Product"
    icon = "tag"
    choose_one_text = _("Choose an approved product")
    choose_another_text = _("Choose another product")
    register_widget = False  # the snippet chooser stays the default for every other product field
    per_page = 20

    def get_object_list(self):
        from catalog.selectors import public_product_list

        return public_product_list()


approved_product_chooser = ApprovedProductChooserViewSet("approved_product_chooser")
