from django import template
from django.conf import settings

from catalog.selectors import current_certificate as _current_certificate

register = template.Library()


@register.simple_tag
def current_certificate(product):
    """The certificate giving the product its star today (certificates are prefetched)."""
    return _current_certificate(product.certificates.all())


@register.simple_tag(takes_context=True)
def language_links(context) -> list[tuple[str, str, str]]:
    """(code, name, address of this page in that language) for the public site's switcher.

    Plain links, not the set_language form: a page without a CSRF token can be cached and shared
    between visitors, and the address alone decides the language (Vietnamese unprefixed, English
    under /en/)."""
    request = context["request"]
    path = request.get_full_path()
    links = []
    for code, name in settings.LANGUAGES:
        bare = path
        for other, _name in settings.LANGUAGES:
            if bare.startswith(f"/{other}/"):
                bare = bare[len(other) + 1 :]
        links.append((code, name, bare if code == settings.LANGUAGE_CODE else f"/{code}{bare}"))
    return links
