from wagtail import hooks

from .choosers import approved_product_chooser


@hooks.register("register_admin_viewset")
def register_approved_product_chooser():
    return approved_product_chooser
