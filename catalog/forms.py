"""Forms of the member portal. They parse and validate input; services make the change."""

import re

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Certificate, OcopCategory, Product
from .services import CONTENT_FIELDS

SCAN_MAX_BYTES = 10 * 1024 * 1024
SCAN_SIGNATURES = {
    b"%PDF": "pdf",
    b"\xff\xd8\xff": "jpeg",
    b"\x89PNG\r\n\x1a\n": "png",
}


def _category_choices():
    return OcopCategory.objects.filter(scheme=OcopCategory.Scheme.QD148_2023).order_by("seq")


class VndField(forms.IntegerField):
    """Whole đồng, accepting the way people write prices: "250.000", "250,000", "250 000 ₫"."""

    def to_python(self, value):
        if isinstance(value, str):
            cleaned = re.sub(r"[\s.,₫đĐ]|vnd|VND", "", value)
            if value.strip() and not cleaned.isdigit():
                raise forms.ValidationError(
                    _("Write the price in whole đồng, digits only, e.g. 250000 or 250.000."), code="invalid"
                )
            value = cleaned
        return super().to_python(value)


class ProductCreateForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["name", "category"]
        help_texts = {"name": _("As printed on the package, e.g. “Chè Shan tuyết Suối Giàng 100 g”.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = _category_choices()
        self.fields["category"].required = True


class ProductContentForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = list(CONTENT_FIELDS)
        widgets = {
            "description": forms.Textarea(attrs={"rows": 8}),
            "ingredients": forms.Textarea(attrs={"rows": 3}),
            "storage_instructions": forms.Textarea(attrs={"rows": 3}),
            "weight_grams": forms.NumberInput(attrs={"inputmode": "numeric", "min": 1}),
            "shelf_life_days": forms.NumberInput(attrs={"inputmode": "numeric", "min": 1}),
            "package_length_cm": forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.1"}),
            "package_width_cm": forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.1"}),
            "package_height_cm": forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.1"}),
        }
        help_texts = {
            "description": _("What it is, where and how it is made, its taste or use. At least 100 characters."),
            "weight_grams": _("With the packaging, as it will be shipped."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = _category_choices()


class OfferForm(forms.Form):
    price_vnd = VndField(
        label=_("Price (VND)"),
        required=False,
        min_value=1000,
        max_value=99_999_999,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("The price a buyer pays, in whole đồng."),
    )
    stock = forms.IntegerField(
        label=_("Stock"),
        min_value=0,
        max_value=999_999,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text=_("How many you can sell now."),
    )
    safety_buffer = forms.IntegerField(
        label=_("Safety buffer"),
        min_value=0,
        max_value=999_999,
        initial=0,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text=_("Units never offered online, so that two buyers cannot get the last one."),
    )

    def clean(self):
        cleaned = super().clean()
        stock, buffer = cleaned.get("stock"), cleaned.get("safety_buffer")
        if stock is not None and buffer is not None and buffer > stock and stock > 0:
            self.add_error("safety_buffer", _("The safety buffer cannot be larger than the stock."))
        return cleaned


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (the camera button and the gallery button both send
    "photos"); each is checked as a file here and as a photo by catalog.images."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*", "multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(file, initial) for file in files if file] or [
            super().clean(None, initial)
        ]


class PhotoUploadForm(forms.Form):
    photos = MultipleFileField(
        label=_("Photos"),
        help_text=_("Take them with the phone camera in daylight, or choose saved ones. JPEG, PNG, WebP or HEIC."),
    )


def _check_scan(scan):
    if scan.size > SCAN_MAX_BYTES:
        raise forms.ValidationError(
            _("The scan is larger than %(mb)d MB. Take the photo again at a lower resolution or save the PDF smaller.")
            % {"mb": SCAN_MAX_BYTES // (1024 * 1024)}
        )
    head = scan.read(16)
    scan.seek(0)
    heic = head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc")
    webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if not (heic or webp or any(head.startswith(signature) for signature in SCAN_SIGNATURES)):
        raise forms.ValidationError(_("The scan must be a PDF or a photo (JPEG, PNG, WebP, HEIC)."))
    return scan


class CertificateForm(forms.ModelForm):
    class Meta:
        model = Certificate
        fields = ["stars", "decision_number", "issuing_body", "decision_date", "expires_on", "kind", "scan"]
        widgets = {
            "decision_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "expires_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "stars": forms.Select(choices=[("", "—"), (3, "3 ★"), (4, "4 ★"), (5, "5 ★")]),
        }
        help_texts = {
            "expires_on": _("Leave empty: 36 months after the decision date unless the decision says otherwise."),
            "issuing_body": _("E.g. UBND tỉnh Yên Bái."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("stars", "decision_number", "issuing_body", "decision_date", "scan"):
            self.fields[name].required = True

    def clean_scan(self):
        return _check_scan(self.cleaned_data["scan"])

    def clean(self):
        cleaned = super().clean()
        decision_date, expires_on = cleaned.get("decision_date"), cleaned.get("expires_on")
        if decision_date and decision_date > timezone.localdate():
            self.add_error("decision_date", _("The decision date is in the future. Check the date on the decision."))
        if decision_date and expires_on and expires_on <= decision_date:
            self.add_error("expires_on", _("The expiry date must be after the decision date."))
        return cleaned


class CertificateScanForm(forms.Form):
    scan = forms.FileField(label=_("Scan of the certificate"))

    def clean_scan(self):
        return _check_scan(self.cleaned_data["scan"])
