from django import template

from catalog.selectors import current_certificate as _current_certificate

register = template.Library()


@register.simple_tag
def current_certificate(product):
    """The certificate giving the product its star today (certificates are prefetched)."""
    return _current_certificate(product.certificates.all())
