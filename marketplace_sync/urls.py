from django.urls import path

from . import views

urlpatterns = [
    path("webhooks/<slug:channel_code>/", views.webhook, name="marketplace_webhook"),
    path("marketplace/callback/<slug:channel_code>/", views.oauth_callback, name="marketplace_oauth_callback"),
]
