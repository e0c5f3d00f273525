from django import template

from marketplace_sync import direct_sales

register = template.Library()


@register.simple_tag
def direct_offer(product):
    """Whether the product page offers "Mua trực tiếp", and up to how many."""
    return direct_sales.direct_offer(product)
