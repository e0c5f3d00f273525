"""Creating a member-portal account from the admin, in one step."""

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Cooperative, Membership


class PortalAccountForm(forms.Form):
    cooperative = forms.ModelChoiceField(Cooperative.objects.order_by("name"), label=_("Cooperative"))
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    username = forms.CharField(
        label=_("Username"), max_length=150, help_text=_("Often the person's phone number, e.g. 0912345678.")
    )
    role = forms.ChoiceField(choices=Membership.Role.choices, label=_("Role"))
    helper_organisation = forms.CharField(label=_("Helper's organisation"), required=False, max_length=160)
    consent_date = forms.DateField(
        label=_("Consent date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("For a helper: when the cooperative agreed to their help."),
    )
    consent_note = forms.CharField(label=_("Consent recorded as"), required=False, max_length=255)


def portal_account_create(request):
    if not request.user.has_perm("cooperatives.add_membership"):
        raise PermissionDenied
    form = PortalAccountForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            user, password = services.portal_account_create(**form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            created = {"user": user, "password": password, "cooperative": form.cleaned_data["cooperative"]}
            form = PortalAccountForm()
    return render(request, "cooperatives/admin/portal_account_create.html", {"form": form, "created": created})
