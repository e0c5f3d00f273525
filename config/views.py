"""Project-wide views."""

from django.conf import settings
from django.http import HttpResponse
from django.views.i18n import set_language as django_set_language


def set_language(request):
    """Django's set_language, fixed for i18n_patterns(prefix_default_language=False): it can only
    translate a `next` URL written in the default language, so switching from /en/… back to
    Vietnamese left the visitor on the English page. The language prefix is removed first."""
    if request.method == "POST" and "next" in request.POST:
        data = request.POST.copy()
        for code, _name in settings.LANGUAGES:
            prefix = f"/{code}/"
            if data["next"].startswith(prefix):
                data["next"] = data["next"][len(prefix) - 1 :]
                break
        request.POST = data
    return django_set_language(request)


def healthz(request):
    """Liveness probe, and the benchmarks' ceiling: the cheapest answer the whole middleware
    stack can give. It touches neither the database nor the templates."""
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")
