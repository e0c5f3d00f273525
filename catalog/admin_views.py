"""Admin views of the catalog that Wagtail's viewsets do not provide: verifying a certificate,
and importing the province's OCOP register."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from . import services
from .models import Certificate, RegisterImport

REGISTER_FILE_MAX_BYTES = 50 * 1024 * 1024
ERRORS_PER_PAGE = 100


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


class RegisterUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Register file (XLSX or CSV)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".xlsx", ".csv")):
            raise forms.ValidationError(_("Choose an .xlsx or .csv file (save an .xls file as .xlsx first)."))
        if upload.size > REGISTER_FILE_MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 50 MB. Split it into several files."))
        return upload


def register_import_index(request):
    if not request.user.has_perm("catalog.view_registerimport"):
        raise PermissionDenied
    can_upload = request.user.has_perm("catalog.add_registerimport")
    form = RegisterUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not can_upload:
            raise PermissionDenied
        if form.is_valid():
            register_import = services.register_import_upload(
                uploaded_file=form.cleaned_data["file"], user=request.user
            )
            messages.success(request, _("File received. It is being checked; nothing is saved yet."))
            return redirect("catalog_register_import_detail", register_import.pk)
    return render(
        request,
        "catalog/admin/register_import_index.html",
        {
            "form": form,
            "can_upload": can_upload,
            "imports": RegisterImport.objects.select_related("uploaded_by")[:20],
            "template_xlsx": static("catalog/register-template.xlsx"),
            "template_csv": static("catalog/register-template.csv"),
        },
    )


def register_import_detail(request, pk):
    if not request.user.has_perm("catalog.view_registerimport"):
        raise PermissionDenied
    register_import = get_object_or_404(RegisterImport.objects.select_related("uploaded_by"), pk=pk)
    working = register_import.status in (
        RegisterImport.Status.PENDING,
        RegisterImport.Status.CHECKING,
        RegisterImport.Status.IMPORTING,
    )
    errors = Paginator(register_import.errors, ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    percent = None
    if register_import.total_rows:
        percent = min(100, round(100 * register_import.processed_rows / register_import.total_rows))
    return render(
        request,
        "catalog/admin/register_import_detail.html",
        {
            "register_import": register_import,
            "working": working,
            "percent": percent,
            "errors": errors,
            "warnings": register_import.summary.get("warnings_list", []),
            "can_apply": request.user.has_perm("catalog.add_registerimport")
            and register_import.status == RegisterImport.Status.VALID,
        },
    )


@require_POST
def register_import_apply(request, pk):
    if not request.user.has_perm("catalog.add_registerimport"):
        raise PermissionDenied
    register_import = get_object_or_404(RegisterImport, pk=pk)
    try:
        services.register_import_apply(register_import=register_import, user=request.user)
    except services.CatalogError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Import started. This page follows its progress."))
    return redirect("catalog_register_import_detail", pk)


urlpatterns = [
    path("catalog/certificates/<int:pk>/verify/", certificate_verify, name="catalog_certificate_verify"),
    path("catalog/register-import/", register_import_index, name="catalog_register_import"),
    path("catalog/register-import/<int:pk>/", register_import_detail, name="catalog_register_import_detail"),
    path("catalog/register-import/<int:pk>/apply/", register_import_apply, name="catalog_register_import_apply"),
]
