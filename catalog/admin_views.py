"""Admin views of the catalog that Wagtail's viewsets do not provide."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import services
from .models import Certificate


@require_POST
def certificate_verify(request, pk):
    if not request.user.has_perm("catalog.change_certificate"):
        raise PermissionDenied
    certificate = get_object_or_404(Certificate.objects.select_related("product"), pk=pk)
    services.certificate_verify(certificate=certificate, user=request.user)
    messages.success(
        request,
        _("Certificate %(number)s of %(product)s verified.")
        % {"number": certificate.decision_number, "product": certificate.product.name},
    )
    return redirect("wagtailsnippets_catalog_product:edit", certificate.product_id)


urlpatterns = [
    path("catalog/certificates/<int:pk>/verify/", certificate_verify, name="catalog_certificate_verify"),
]
