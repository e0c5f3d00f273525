"""Changes to cooperatives and to the people who act for them."""

import secrets
import string

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .models import Cooperative, Membership

# Easy to read aloud and type on a phone: no 0/O or 1/l/I.
_PASSWORD_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


def generate_password(length: int = 12) -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def _is_staff_account(user) -> bool:
    return user.is_superuser or user.has_perm("wagtailadmin.access_admin")


@transaction.atomic
def membership_add(
    *,
    user,
    cooperative: Cooperative,
    role: str = Membership.Role.MEMBER,
    helper_organisation: str = "",
    consent_date=None,
    consent_note: str = "",
) -> Membership:
    """Let `user` act for `cooperative` in the member portal.

    Staff accounts are refused: the two front doors stay apart, so a portal account never
    opens the Wagtail admin and an officer never acts for a cooperative. A helper needs the
    date the cooperative consented to their help.
    """
    if _is_staff_account(user):
        raise ValidationError(
            _("%(user)s is a staff account of the administration and cannot also act for a cooperative.")
            % {"user": user.get_username()}
        )
    if role == Membership.Role.HELPER and consent_date is None:
        raise ValidationError(_("A helper needs the date on which the cooperative agreed to their help."))
    membership, _created = Membership.objects.update_or_create(
        user=user,
        cooperative=cooperative,
        defaults={
            "role": role,
            "helper_organisation": helper_organisation,
            "consent_date": consent_date,
            "consent_note": consent_note,
            "is_active": True,
        },
    )
    return membership


@transaction.atomic
def portal_account_create(
    *,
    cooperative: Cooperative,
    username: str,
    full_name: str,
    role: str = Membership.Role.MEMBER,
    helper_organisation: str = "",
    consent_date=None,
    consent_note: str = "",
    password: str | None = None,
):
    """Create a member-portal account and its membership. Returns (user, password) so the
    officer can hand the password over once; it is not stored in clear anywhere."""
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError(_("The username %(username)s is taken.") % {"username": username})
    password = password or generate_password()
    first_name, _sep, last_name = full_name.strip().rpartition(" ")
    user = User.objects.create_user(
        username=username,
        password=password,
        first_name=first_name or last_name,
        last_name=last_name if first_name else "",
    )
    membership_add(
        user=user,
        cooperative=cooperative,
        role=role,
        helper_organisation=helper_organisation,
        consent_date=consent_date,
        consent_note=consent_note,
    )
    return user, password
