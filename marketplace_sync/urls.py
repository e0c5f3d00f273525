from django.urls import path

from . import api, export_views, views

urlpatterns = [
    path("webhooks/<slug:channel_code>/", views.webhook, name="marketplace_webhook"),
    path("marketplace/callback/<slug:channel_code>/", views.oauth_callback, name="marketplace_oauth_callback"),
    path("api/v1/coverage/", api.coverage_v1, name="api_coverage_v1"),
    *export_views.urlpatterns,  # /feeds/google-merchant.xml, /feeds/meta-catalog.csv
]
