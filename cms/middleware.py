"""Anonymous visitors' public pages, cached whole under the public content version
(catalog.public_cache): served in microseconds on a cheap phone's second visit, invalidated the
moment a product, offer, certificate or listing changes."""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils.translation import get_language

from catalog import public_cache

NOT_CACHED_PREFIXES = (
    "/admin/",
    "/portal/",
    "/en/portal/",
    "/webhooks/",
    "/marketplace/",
    "/api/",
    "/feeds/",
    "/documents/",
    "/media/",
    "/static/",
    "/i18n/",
    "/healthz/",  # a liveness probe must reach the application
    # A buyer's own checkout: a form with a CSRF token, and a result that changes by the second.
    "/mua-truc-tiep/",
    "/en/mua-truc-tiep/",
)
KEPT_HEADERS = ("Content-Type", "Content-Language", "Vary")


class PublicPageCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def _cacheable_request(self, request) -> bool:
        return (
            settings.PUBLIC_PAGE_CACHE_SECONDS > 0
            and request.method in ("GET", "HEAD")
            and not request.path.startswith(NOT_CACHED_PREFIXES)
            and not request.user.is_authenticated
            # A session or flash messages: this visitor gets a fresh page. A CSRF cookie (left by
            # the buy page) or a language cookie changes nothing on a public page, which carries
            # no CSRF token and whose language is part of the key.
            and not set(request.COOKIES) - {settings.CSRF_COOKIE_NAME, settings.LANGUAGE_COOKIE_NAME}
        )

    def __call__(self, request):
        if not self._cacheable_request(request):
            return self.get_response(request)
        raw = f"{request.get_host()}|{get_language()}|{request.get_full_path()}"
        key = f"public-page:{public_cache.version()}:{hashlib.sha256(raw.encode()).hexdigest()}"
        cached = cache.get(key)
        if cached is not None:
            status, headers, content = cached
            response = HttpResponse(content, status=status)
            for name, value in headers.items():
                response[name] = value
            response["X-Public-Cache"] = "hit"
            return response
        response = self.get_response(request)
        if response.status_code == 200 and not response.cookies and not getattr(response, "streaming", False):
            headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
            cache.set(key, (response.status_code, headers, response.content), settings.PUBLIC_PAGE_CACHE_SECONDS)
            response["X-Public-Cache"] = "miss"
        return response
