"""Staff roles in the admin: officers moderate, viewers only read, editors edit the site."""

import pytest
from django.urls import reverse

from catalog.models import Product
from cooperatives.models import Membership
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(coop_a, member_a):
    return factories.make_product(coop_a, member_a, name="Chè Khe Năm")


def test_a_viewer_reads_products_but_cannot_change_them(client, viewer, product):
    client.force_login(viewer)
    assert client.get(reverse("wagtailsnippets_catalog_product:list")).status_code == 200
    assert client.get(reverse("wagtailsnippets_catalog_product:inspect", args=[product.pk])).status_code == 200
    response = client.post(
        reverse("wagtailsnippets_catalog_product:edit", args=[product.pk]), {"name": "Đổi tên", "action-publish": "1"}
    )
    assert response.status_code in (302, 403)
    product.refresh_from_db()
    assert product.name == "Chè Khe Năm" and not product.live
    # (the admin answers a refusal with a redirect to its home page and a message)
    assert client.get(reverse("cooperatives_portal_account_create")).status_code in (302, 403)


def test_an_officer_creates_a_portal_account_in_one_step(client, officer, coop_a):
    client.force_login(officer)
    response = client.post(
        reverse("cooperatives_portal_account_create"),
        {"cooperative": coop_a.pk, "full_name": "Vàng A Sình", "username": "0912345678", "role": "member"},
    )
    assert response.status_code == 200
    membership = Membership.objects.get(user__username="0912345678")
    assert membership.cooperative == coop_a and membership.role == Membership.Role.MEMBER
    assert membership.user.get_full_name() == "Vàng A Sình"
    # the password is shown once, and works
    password = response.context["created"]["password"]
    assert password in response.content.decode()
    assert client.login(username="0912345678", password=password)


def test_a_helper_account_needs_the_consent_date(client, officer, coop_a):
    client.force_login(officer)
    response = client.post(
        reverse("cooperatives_portal_account_create"),
        {"cooperative": coop_a.pk, "full_name": "Lò Thị Xuân", "username": "hotro2", "role": "helper"},
    )
    assert response.status_code == 200 and response.context["created"] is None
    assert not Membership.objects.filter(user__username="hotro2").exists()


def test_a_staff_account_cannot_also_act_for_a_cooperative(officer, coop_a):
    from django.core.exceptions import ValidationError

    from cooperatives.services import membership_add

    with pytest.raises(ValidationError):
        membership_add(user=officer, cooperative=coop_a)


def test_a_site_editor_cannot_moderate_products(client, site_editor, product):
    client.force_login(site_editor)
    assert client.get(reverse("wagtailsnippets_catalog_product:list")).status_code in (302, 403)
    assert Product.objects.get(pk=product.pk).live is False
