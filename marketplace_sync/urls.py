from django.urls import path

from . import api, direct_views, export_views, views

urlpatterns = [
    path("webhooks/stripe/", direct_views.stripe_webhook, name="stripe_webhook"),
    path("webhooks/<slug:channel_code>/", views.webhook, name="marketplace_webhook"),
    path("marketplace/callback/<slug:channel_code>/", views.oauth_callback, name="marketplace_oauth_callback"),
    path("api/v1/coverage/", api.coverage_v1, name="api_coverage_v1"),
    *export_views.urlpatterns,  # /feeds/google-merchant.xml, /feeds/meta-catalog.csv
]

# The buyer's pages of a direct purchase: under the language prefix (config/urls.py).
direct_urlpatterns = [
    path("mua-truc-tiep/<int:product_id>/", direct_views.buy, name="direct_buy"),
    path("mua-truc-tiep/don/<str:reference>/", direct_views.result, name="direct_result"),
    path("mua-truc-tiep/don/<str:reference>/huy/", direct_views.cancel, name="direct_cancel"),
]
