"""Building test data through the platform's own services (never raw fixtures)."""

import datetime
import io
import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog import services as catalog_services
from catalog.models import Certificate, OcopCategory
from cooperatives import services as cooperative_services
from cooperatives.models import Cooperative, Membership

_sequence = itertools.count(1)


def make_cooperative(name: str, **fields) -> Cooperative:
    slug = fields.pop("slug", f"coop-{next(_sequence)}")
    return Cooperative.objects.create(name=name, slug=slug, kind=Cooperative.Kind.COOPERATIVE, **fields)


def make_portal_user(username: str, cooperative: Cooperative, *, role=Membership.Role.MEMBER, full_name=""):
    user, _password = cooperative_services.portal_account_create(
        cooperative=cooperative,
        username=username,
        full_name=full_name or username.title(),
        role=role,
        helper_organisation="Tổ công nghệ số cộng đồng" if role == Membership.Role.HELPER else "",
        consent_date=datetime.date(2026, 1, 15) if role == Membership.Role.HELPER else None,
        password="portal-pass-123",
    )
    return user


def make_staff_user(username: str, group_name: str):
    user = get_user_model().objects.create_user(username=username, password="staff-pass-123", first_name=username)
    user.groups.add(Group.objects.get(name=group_name))
    return user


def jpeg_upload(name="photo.jpg", size=(800, 800), color=(180, 90, 40)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=85)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def category(seq=11) -> OcopCategory:
    """A current-scheme OCOP leaf (11 = Chè tươi, chế biến), created if the taxonomy is not loaded."""
    leaf, _created = OcopCategory.objects.get_or_create(
        scheme=OcopCategory.Scheme.QD148_2023,
        seq=seq,
        defaults={"group_code": "I", "group": "Thực phẩm", "subgroup": "Chè", "name": "Chè tươi, chế biến"},
    )
    return leaf


DESCRIPTION = (
    "Chè Shan tuyết cổ thụ hái từ những cây chè trăm tuổi trên núi cao, sao thủ công theo cách truyền thống "
    "của đồng bào Mông; nước xanh vàng, vị chát nhẹ, hậu ngọt."
)


def make_product(cooperative, user, name="Chè Shan tuyết Suối Giàng", *, complete=True):
    """A draft product; `complete` fills what review needs (description, photo, category)."""
    product = catalog_services.product_create(cooperative=cooperative, user=user, name=name, category=category())
    if complete:
        catalog_services.product_update_content(
            product=product,
            user=user,
            changes={
                "description": DESCRIPTION,
                "weight_grams": 250,
                "package_length_cm": 20,
                "package_width_cm": 10,
                "package_height_cm": 8,
            },
        )
        catalog_services.product_add_photo(product=product, user=user, upload=jpeg_upload())
    product.refresh_from_db()
    return product


def add_valid_certificate(product, *, stars=4, decision_date=None, number="2585/QĐ-UBND"):
    return Certificate.objects.create(
        product=product,
        stars=stars,
        decision_number=number,
        issuing_body="UBND tỉnh Yên Bái",
        decision_date=decision_date or datetime.date.today() - datetime.timedelta(days=100),
        source=Certificate.Source.REGISTER,
        verified_at=datetime.datetime.now(datetime.UTC),
    )
