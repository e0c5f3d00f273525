"""Tax codes (mã số thuế): the check digit, branches, and the household exception."""

import itertools

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from cooperatives.models import Cooperative
from cooperatives.validators import normalise_tax_code, tax_code_check_digit, validate_tax_code

# Published tax codes of real enterprises (national business registration portal).
REAL_CODES = ["0100109106", "0300588569", "0100100079"]  # Viettel, Vinamilk, and a Hà Nội state enterprise


def refusal_code(value: str) -> str:
    with pytest.raises(ValidationError) as refused:
        validate_tax_code(value)
    return refused.value.code


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_tax_codes_are_valid(code):
    validate_tax_code(code)
    validate_tax_code(f"{code}-001")
    validate_tax_code(f"{code}001")


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("0100109106", "0100109106"),
        ("0100109106001", "0100109106-001"),  # 13 bare digits: a branch
        ("0100109106-001", "0100109106-001"),
        (" 0100 109 106 ", "0100109106"),
        ("0100.109.106", "0100109106"),
        ("0100109106 - 001", "0100109106-001"),
    ],
)
def test_tax_codes_are_normalised(written, stored):
    assert normalise_tax_code(written) == stored
    validate_tax_code(written)


def test_empty_tax_code_is_allowed():
    validate_tax_code("")


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("0100109107", "tax_code_checksum"),  # Viettel with the wrong last digit
        ("0300588560", "tax_code_checksum"),
        ("010010910", "tax_code_format"),  # 9 digits
        ("01001091060", "tax_code_format"),  # 11 digits
        ("01001O9106", "tax_code_format"),  # letter O for zero
        ("0100109106-ABC", "tax_code_format"),
        ("0100109106-000", "tax_code_branch"),
        ("0100109106000", "tax_code_branch"),
    ],
)
def test_malformed_or_wrong_tax_codes_are_refused(value, code):
    assert refusal_code(value) == code


def test_a_two_digit_branch_is_refused():
    assert refusal_code("0100109106-01") == "tax_code_format"


def test_nine_digits_that_would_need_check_digit_10_never_make_a_valid_code():
    impossible = next(
        "".join(digits)
        for digits in itertools.product("0123456789", repeat=9)
        if "".join(digits) != "000000000" and tax_code_check_digit("".join(digits)) is None
    )
    for last in "0123456789":
        assert refusal_code(impossible + last) == "tax_code_checksum"
        assert refusal_code(f"{impossible}{last}-001") == "tax_code_checksum"


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_the_check_digit_is_the_only_valid_last_digit(first_nine):
    check = tax_code_check_digit(first_nine)
    for last in range(10):
        if last == check:
            validate_tax_code(f"{first_nine}{last}")
        else:
            assert refusal_code(f"{first_nine}{last}") == "tax_code_checksum"


@pytest.mark.django_db
def test_a_personal_id_number_is_a_tax_code_only_for_a_household():
    household = Cooperative(
        name="Hộ kinh doanh Nguyễn Văn A",
        slug="ho-nguyen-van-a",
        kind=Cooperative.Kind.HOUSEHOLD,
        tax_code="015090001234",
    )
    household.full_clean()

    for kind in (Cooperative.Kind.COOPERATIVE, Cooperative.Kind.ENTERPRISE, ""):
        cooperative = Cooperative(
            name="HTX Chè Suối Giàng", slug="htx-che-suoi-giang", kind=kind, tax_code="015090001234"
        )
        with pytest.raises(ValidationError) as refused:
            cooperative.full_clean()
        assert "tax_code" in refused.value.message_dict


@pytest.mark.django_db
def test_a_cooperative_with_a_wrong_tax_code_is_refused_by_full_clean():
    cooperative = Cooperative(
        name="HTX Chè Suối Giàng", slug="htx-che-suoi-giang", kind=Cooperative.Kind.COOPERATIVE, tax_code="0100109107"
    )
    with pytest.raises(ValidationError) as refused:
        cooperative.full_clean()
    assert [error.code for error in refused.value.error_dict["tax_code"]] == ["tax_code_checksum"]
