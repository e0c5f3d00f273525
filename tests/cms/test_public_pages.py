"""The plain public product list: approved products only, with star, cooperative and commune."""

import pytest
from django.urls import reverse

from catalog import services
from cooperatives.models import AdministrativeUnit
from tests import factories

pytestmark = pytest.mark.django_db


def _approve(product, officer):
    services.product_submit_for_review(product=product, user=officer)
    product.refresh_from_db()
    task_state = product.current_workflow_state.current_task_state.specific
    task_state.task.specific.on_action(task_state, officer, "approve")
    product.refresh_from_db()
    return product


@pytest.fixture
def commune():
    return AdministrativeUnit.objects.create(
        level=AdministrativeUnit.Level.COMMUNE, code="04672", name="Xã Văn Chấn", unit_type="Xã"
    )


def test_only_approved_products_are_listed_with_star_cooperative_and_commune(
    client, coop_a, member_a, officer, commune
):
    coop_a.commune = commune
    coop_a.save()
    approved = _approve(factories.make_product(coop_a, member_a, name="Chè đã duyệt"), officer)
    factories.add_valid_certificate(approved, stars=4)
    factories.make_product(coop_a, member_a, name="Chè bản nháp")
    waiting = factories.make_product(coop_a, member_a, name="Chè chờ duyệt")
    services.product_submit_for_review(product=waiting, user=member_a)
    rejected = factories.make_product(coop_a, member_a, name="Chè bị trả lại")
    services.product_submit_for_review(product=rejected, user=member_a)
    rejected.refresh_from_db()
    task_state = rejected.current_workflow_state.current_task_state.specific
    task_state.task.specific.on_action(task_state, officer, "reject", comment="Thiếu ảnh")

    page = client.get("/san-pham/").content.decode()

    assert "Chè đã duyệt" in page and "4 ★" in page
    assert coop_a.name in page and "Xã Văn Chấn" in page
    for hidden in ("Chè bản nháp", "Chè chờ duyệt", "Chè bị trả lại"):
        assert hidden not in page
    assert client.get(f"/san-pham/{rejected.pk}/").status_code == 404
    assert client.get(f"/san-pham/{approved.pk}/").status_code == 200


def test_an_expired_certificate_shows_no_star(client, coop_a, member_a, officer):
    import datetime

    product = _approve(factories.make_product(coop_a, member_a, name="Miến đao"), officer)
    factories.add_valid_certificate(product, stars=4, decision_date=datetime.date(2020, 1, 1))
    page = client.get("/san-pham/").content.decode()
    assert "Miến đao" in page and "4 ★" not in page


def test_the_product_list_costs_the_same_queries_for_few_and_many_products(
    client, coop_a, member_a, officer, django_assert_max_num_queries
):
    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as context:
            assert client.get("/san-pham/").status_code == 200
        return len(context.captured_queries)

    for index in range(2):
        _approve(factories.make_product(coop_a, member_a, name=f"Sản phẩm {index}", complete=True), officer)
    few = count_queries()
    for index in range(2, 12):
        product = _approve(factories.make_product(coop_a, member_a, name=f"Sản phẩm {index}"), officer)
        factories.add_valid_certificate(product)
    with django_assert_max_num_queries(few):
        assert client.get("/san-pham/").status_code == 200


def test_english_is_served_under_en(client):
    response = client.get("/en/san-pham/")
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "en"
    assert client.get("/san-pham/").headers["Content-Language"] == "vi"


def test_the_portal_product_list_costs_the_same_queries_for_few_and_many(
    client, coop_a, member_a, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    factories.make_product(coop_a, member_a, name="Một")
    client.force_login(member_a)
    url = reverse("portal:product_list", kwargs={"cooperative_id": coop_a.pk})
    client.get(url)  # renditions are made on first view
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    baseline = len(context.captured_queries)  # read now: every request resets the query log
    for index in range(8):
        factories.make_product(coop_a, member_a, name=f"Sản phẩm {index}")
    client.get(url)
    with django_assert_max_num_queries(baseline):
        assert client.get(url).status_code == 200
