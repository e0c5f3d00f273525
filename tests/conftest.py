"""Shared fixtures. Tests build their data through the same services the platform uses."""

import pytest

from cooperatives.models import Membership
from cooperatives.roles import OFFICERS, SITE_EDITORS, VIEWERS
from tests import factories


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    # Uploaded files (photos, scans, register files) go to a fresh folder per test.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def officer(db):
    return factories.make_staff_user("canbo", OFFICERS)


@pytest.fixture
def viewer(db):
    return factories.make_staff_user("xembaocao", VIEWERS)


@pytest.fixture
def site_editor(db):
    return factories.make_staff_user("bientap", SITE_EDITORS)


@pytest.fixture
def coop_a(db):
    return factories.make_cooperative("HTX Chè Khe Năm")


@pytest.fixture
def coop_b(db):
    return factories.make_cooperative("HTX Dịch vụ nông nghiệp Tú Lệ")


@pytest.fixture
def coop_c(db):
    return factories.make_cooperative("HTX Thái Sơn")


@pytest.fixture
def member_a(coop_a):
    return factories.make_portal_user("thanhvien_a", coop_a, full_name="Hà Thị Lan")


@pytest.fixture
def member_b(coop_b):
    return factories.make_portal_user("thanhvien_b", coop_b, full_name="Lò Văn Pằng")


@pytest.fixture
def helper(coop_a, coop_c):
    """A community digital team helper who assists cooperatives A and C (not B)."""
    user = factories.make_portal_user("hotro", coop_a, role=Membership.Role.HELPER, full_name="Nguyễn Minh Đức")
    from cooperatives.services import membership_add

    membership_add(
        user=user,
        cooperative=coop_c,
        role=Membership.Role.HELPER,
        helper_organisation="Bưu điện xã",
        consent_date=factories.datetime.date(2026, 2, 1),
    )
    return user
