"""The project's URLs with the export pages and feeds mounted as marketplace_sync will mount
them: the feeds at the site root, the portal pages under a cooperative's prefix in the
"portal" namespace (so `portal:export_channel` reverses as it will in the project)."""

from django.urls import include, path

from config import urls as project_urls
from cooperatives import urls as portal_urls
from marketplace_sync import export_views

_portal = [
    path("hop-tac-xa/<int:cooperative_id>/", include(export_views.portal_urlpatterns)),
    *portal_urls.urlpatterns,
]

urlpatterns = [
    path("portal/", include((_portal, "portal"))),
    *export_views.urlpatterns,
    *[pattern for pattern in project_urls.urlpatterns if str(pattern.pattern) != "portal/"],
]
