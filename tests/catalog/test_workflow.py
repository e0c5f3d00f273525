"""Moderation: a member submits, an officer approves or asks for changes in the Wagtail admin,
and only approved content is ever public."""

import pytest
from django.urls import reverse
from wagtail.models import WorkflowState

from catalog import services
from catalog.models import CatalogLogEntry, Product
from catalog.selectors import ProductState, moderation_status
from cooperatives.models import Membership
from tests import factories

pytestmark = pytest.mark.django_db


def _portal(client, user):
    client.force_login(user)
    return client


def _submit_in_portal(client, product):
    url = reverse("portal:product_submit", kwargs={"cooperative_id": product.cooperative_id, "product_id": product.pk})
    return client.post(url)


def _officer_decides(client, officer, product, action, comment=""):
    product.refresh_from_db()
    task_state = product.current_workflow_state.current_task_state
    client.force_login(officer)
    url = reverse("wagtailsnippets_catalog_product:workflow_action", args=[product.pk, action, task_state.pk])
    return client.post(url, {"comment": comment})


def _public_list(client):
    return client.get("/san-pham/").content.decode()


def test_submit_then_approve_publishes_the_submitted_content(client, member_a, coop_a, officer):
    # given a complete draft made in the portal
    product = factories.make_product(coop_a, member_a)
    assert not product.live
    assert product.name not in _public_list(client)

    # when the member sends it for review
    response = _submit_in_portal(_portal(client, member_a), product)
    assert response.status_code == 302
    product.refresh_from_db()
    assert moderation_status(product).state == ProductState.IN_REVIEW

    # and the officer approves it in the admin
    response = _officer_decides(client, officer, product, "approve")
    assert response.status_code in (200, 302)

    # then it is live with the submitted description and photo, and shown publicly
    product.refresh_from_db()
    assert product.live and not product.has_unpublished_changes
    assert product.description == factories.DESCRIPTION
    assert product.images.count() == 1
    client.logout()
    assert product.name in _public_list(client)


def test_reject_keeps_the_public_version_and_shows_the_comment_to_the_member(client, member_a, coop_a, officer):
    # given an approved product
    product = factories.make_product(coop_a, member_a, name="Chè Bát tiên Hưng Khánh")
    _submit_in_portal(_portal(client, member_a), product)
    _officer_decides(client, officer, product, "approve")

    # when the member renames it and the officer asks for changes
    services.product_update_content(product=product, user=member_a, changes={"name": "Chè Bát tiên SIÊU NGON GIẢM GIÁ"})
    _submit_in_portal(_portal(client, member_a), product)
    _officer_decides(
        client, officer, product, "reject", comment="Tên không được có quảng cáo; giữ tên theo chứng nhận."
    )

    # then the public still sees the approved name, not the draft
    product.refresh_from_db()
    assert product.name == "Chè Bát tiên Hưng Khánh"
    client.logout()
    page = _public_list(client)
    assert "Chè Bát tiên Hưng Khánh" in page
    assert "SIÊU NGON" not in page

    # and the member sees "needs changes" with the officer's comment in the portal
    status = moderation_status(product)
    assert status.state == ProductState.NEEDS_CHANGES
    response = _portal(client, member_a).get(
        reverse("portal:product", kwargs={"cooperative_id": coop_a.pk, "product_id": product.pk})
    )
    assert "Tên không được có quảng cáo" in response.content.decode()


def test_resubmitting_after_changes_resumes_the_same_workflow(client, member_a, coop_a, officer):
    product = factories.make_product(coop_a, member_a)
    _submit_in_portal(_portal(client, member_a), product)
    _officer_decides(client, officer, product, "reject", comment="Thêm ảnh bao bì.")
    services.product_add_photo(product=product, user=member_a, upload=factories.jpeg_upload("bao-bi.jpg"))

    _submit_in_portal(_portal(client, member_a), product)
    product.refresh_from_db()

    assert moderation_status(product).state == ProductState.IN_REVIEW
    assert WorkflowState.objects.for_instance(product).count() == 1
    _officer_decides(client, officer, product, "approve")
    product.refresh_from_db()
    assert product.live and product.images.count() == 2


def test_content_is_locked_while_in_review_but_price_and_stock_change_at_once(client, member_a, coop_a):
    product = factories.make_product(coop_a, member_a)
    services.product_submit_for_review(product=product, user=member_a)

    with pytest.raises(services.CatalogError):
        services.product_update_content(product=product, user=member_a, changes={"name": "Tên khác"})

    services.offer_update(
        product=product, user=member_a, change=services.OfferChange(price_vnd=185000, stock=40, safety_buffer=2)
    )
    product.offer.refresh_from_db()
    assert (product.offer.price_vnd, product.offer.stock) == (185000, 40)


def test_offer_change_survives_approval_of_an_older_revision(client, member_a, coop_a, officer):
    product = factories.make_product(coop_a, member_a)
    _submit_in_portal(_portal(client, member_a), product)
    services.offer_update(
        product=product, user=member_a, change=services.OfferChange(price_vnd=99000, stock=7, safety_buffer=0)
    )
    _officer_decides(client, officer, product, "approve")
    product.offer.refresh_from_db()
    assert (product.offer.price_vnd, product.offer.stock) == (99000, 7)


def test_a_member_cannot_approve(client, member_a, coop_a):
    product = factories.make_product(coop_a, member_a)
    services.product_submit_for_review(product=product, user=member_a)
    response = _officer_decides(client, member_a, product, "approve")
    product.refresh_from_db()
    assert not product.live
    assert response.status_code in (302, 403, 404)


def test_incomplete_product_cannot_be_sent_for_review(member_a, coop_a):
    product = factories.make_product(coop_a, member_a, complete=False)
    with pytest.raises(services.CatalogError) as error:
        services.product_submit_for_review(product=product, user=member_a)
    assert "photo" in str(error.value.message).lower() or "ảnh" in str(error.value.message).lower()
    assert moderation_status(product).state == ProductState.DRAFT


def test_audit_log_names_the_helper_and_the_cooperative(client, helper, coop_a, officer):
    # when a helper works for cooperative A in the portal
    client.force_login(helper)
    response = client.post(
        reverse("portal:product_add", kwargs={"cooperative_id": coop_a.pk}),
        {"name": "Mật ong hoa tự nhiên", "category": factories.category().pk},
    )
    assert response.status_code == 302
    product = Product.objects.get(name="Mật ong hoa tự nhiên")
    client.post(
        reverse("portal:product_edit", kwargs={"cooperative_id": coop_a.pk, "product_id": product.pk}),
        {"name": product.name, "category": product.category_id, "description": factories.DESCRIPTION},
    )
    client.post(
        reverse("portal:product_photos", kwargs={"cooperative_id": coop_a.pk, "product_id": product.pk}),
        {"photos": factories.jpeg_upload()},
    )
    client.post(reverse("portal:product_submit", kwargs={"cooperative_id": coop_a.pk, "product_id": product.pk}))

    # then every log entry of those actions says: by this helper, for cooperative A
    entries = list(CatalogLogEntry.objects.for_instance(product).order_by("timestamp", "pk"))
    actions = [entry.action for entry in entries]
    assert "wagtail.create" in actions and "wagtail.workflow.start" in actions
    for entry in entries:
        assert entry.user_id == helper.pk
        assert entry.acting["role"] == Membership.Role.HELPER
        assert entry.acting["cooperative"] == coop_a.name
        assert entry.cooperative_id == coop_a.pk

    # and the officer's decision is logged without a helper attribution
    _officer_decides(client, officer, product, "approve")
    approval = CatalogLogEntry.objects.for_instance(product).get(action="wagtail.workflow.approve")
    assert approval.user_id == officer.pk and approval.acting == {}
    # and the history page reads "helper … for HTX Chè Khe Năm"
    client.force_login(helper)
    history = client.get(
        reverse("portal:product_history", kwargs={"cooperative_id": coop_a.pk, "product_id": product.pk})
    ).content.decode()
    assert "Nguyễn Minh Đức" in history and coop_a.name in history
