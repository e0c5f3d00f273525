"""Tax codes (mã số thuế).

An enterprise or cooperative has 10 digits; a branch or dependent unit has 13, the parent's
10 plus a 3-digit branch number (written 0123456789-001). The 10th digit checks the first
nine: 10 - (Σ dᵢ·wᵢ mod 11) with weights 31, 29, 23, 19, 17, 13, 7, 5, 3; a remainder of 0
would need a check digit of 10, which is never issued. Since 1 July 2025 a household business
uses its representative's 12-digit personal identification number as its tax code (Circular
86/2024/TT-BTC, art. 5(5) and 38(2)).
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
_SEPARATORS = re.compile(r"[\s._/]")


def tax_code_check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None when no valid code can start with them."""
    remainder = sum(int(d) * w for d, w in zip(first_nine, _WEIGHTS, strict=True)) % 11
    check = 10 - remainder
    return None if check == 10 else check


def normalise_tax_code(value: str) -> str:
    """Digits only, with the branch written after a dash: '0100109106-001'. A dash always
    separates the branch, so '0100109106-01' stays a (bad) branch code, never 12 digits."""
    text = _SEPARATORS.sub("", value or "")
    if "-" in text:
        base, _dash, branch = text.partition("-")
        return f"{base}-{branch}"
    if len(text) == 13 and text.isdigit():
        return f"{text[:10]}-{text[10:]}"
    return text


def is_personal_id_number(value: str) -> bool:
    return len(value) == 12 and value.isdigit()


def validate_tax_code(value: str) -> None:
    code = normalise_tax_code(value)
    if not code:
        return
    if is_personal_id_number(code):
        return  # checked against the cooperative's legal form in Cooperative.clean()
    base, _dash, branch = code.partition("-")
    well_formed = base.isdigit() and len(base) == 10 and (not _dash or (branch.isdigit() and len(branch) == 3))
    if not well_formed:
        raise ValidationError(
            _("A tax code has 10 digits, or 13 for a branch (e.g. 5200123456 or 5200123456-001)."),
            code="tax_code_format",
        )
    if code.endswith("-000"):
        raise ValidationError(_("A branch number runs from 001 to 999."), code="tax_code_branch")
    if tax_code_check_digit(base[:9]) != int(base[9]):
        raise ValidationError(
            _("This tax code is not valid: its last digit does not match. Please check it against the registration."),
            code="tax_code_checksum",
        )
