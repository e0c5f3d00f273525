from django.urls import include, path

from . import portal, views

app_name = "portal"

urlpatterns = [
    path("dang-nhap/", views.PortalLoginView.as_view(), name="login"),
    path("dang-xuat/", views.PortalLogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path(
        "hop-tac-xa/<int:cooperative_id>/",
        include([path("", views.cooperative_home, name="cooperative"), *portal.cooperative_urlpatterns()]),
    ),
]
