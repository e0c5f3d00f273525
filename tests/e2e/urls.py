"""The site's URLs plus the uploaded files, so that the journey's screenshots show the photos:
the test settings run with DEBUG off, where Django serves no media (production leaves that to
the web server)."""

from django.conf import settings
from django.urls import re_path
from django.views.static import serve

from config.urls import urlpatterns as site_urlpatterns


def media(request, path):
    # MEDIA_ROOT is read per request: every test gets its own folder (tests/conftest.py).
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [re_path(r"^media/(?P<path>.*)$", media), *site_urlpatterns]
