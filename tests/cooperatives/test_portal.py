"""The member portal's shell: signing in, choosing a cooperative, the language."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_member_signs_in_and_lands_on_their_cooperative(client, member_a, coop_a):
    response = client.post(reverse("portal:login"), {"username": "thanhvien_a", "password": "portal-pass-123"})
    assert response.status_code == 302
    response = client.get(response["Location"], follow=True)
    assert response.request["PATH_INFO"] == reverse("portal:cooperative", kwargs={"cooperative_id": coop_a.pk})
    assert coop_a.name in response.content.decode()


def test_a_wrong_password_is_explained_in_vietnamese(client, member_a):
    response = client.post(reverse("portal:login"), {"username": "thanhvien_a", "password": "sai"})
    assert response.status_code == 200
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in response.content.decode()


def test_the_portal_switches_to_english_and_back(client, member_a, coop_a):
    client.force_login(member_a)
    url = reverse("portal:product_list", kwargs={"cooperative_id": coop_a.pk})
    assert "Sản phẩm" in client.get(url).content.decode()

    response = client.post(reverse("set_language"), {"language": "en", "next": url})
    english = client.get(response["Location"])
    assert response["Location"].startswith("/en/portal/")
    assert english.status_code == 200 and "Add a product" in english.content.decode()

    response = client.post(reverse("set_language"), {"language": "vi", "next": response["Location"]})
    assert response["Location"] == url


def test_a_staff_account_in_the_portal_is_told_where_to_go(client, officer):
    client.force_login(officer)
    page = client.get(reverse("portal:home")).content.decode()
    assert reverse("wagtailadmin_home") in page
