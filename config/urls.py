from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from cms import views as cms_views
from marketplace_sync.urls import direct_urlpatterns

from . import views
from .views import set_language

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("", include("marketplace_sync.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("sitemap.xml", cms_views.sitemap, name="sitemap"),
    path("healthz/", views.healthz, name="healthz"),
]

if settings.DEBUG:
    from django.conf.urls.static import static
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# The member portal and the public site: Vietnamese at /…, English under /en/….
urlpatterns += i18n_patterns(
    path("portal/", include("cooperatives.urls")),
    path("search/", cms_views.search, name="search"),
    path("", include(direct_urlpatterns)),
    path("", include(wagtail_urls)),
    prefix_default_language=False,
)
