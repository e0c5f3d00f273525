"""One version number for everything the public site shows. Cached public pages are stored under
it; anything that changes what a visitor sees (a product, its offer, certificate, photos, a
listing going live or down, a sale moving stock) calls `bump()`, and every cached page is
stale at once. A page also expires on its own after PUBLIC_PAGE_CACHE_SECONDS, so a change
that forgot to bump is seen within minutes, never lost."""

import time

from django.core.cache import cache

VERSION_KEY = "public-site:version"


def version() -> int:
    current = cache.get(VERSION_KEY)
    if current is None:
        cache.add(VERSION_KEY, int(time.time() * 1000), None)
        current = cache.get(VERSION_KEY)
    return current


def bump(**_signal_kwargs) -> None:
    """Make every cached public page stale. Usable as a signal receiver."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # no version yet, or it was evicted
        cache.set(VERSION_KEY, int(time.time() * 1000), None)


def cached(name: str, compute):
    """`compute()` once per public content version (and language), for the parts of a page
    that are costly and change only with the content: a visitor with a cookie, who always gets
    a freshly rendered page, still skips them. Only when the public cache is on (a cache every
    process shares and bumps); otherwise computed every time."""
    from django.conf import settings
    from django.utils.translation import get_language

    if settings.PUBLIC_PAGE_CACHE_SECONDS <= 0:
        return compute()
    key = f"public-part:{name}:{version()}:{get_language()}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, settings.PUBLIC_PAGE_CACHE_SECONDS)
    return value
