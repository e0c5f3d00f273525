"""Isolation between cooperatives, and between the two front doors.

Every member-portal URL pattern is enumerated from the URL configuration, so a page added
later is covered without anyone remembering to add it here: a pattern with a parameter this
test does not know makes it fail.
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from catalog import services
from catalog.models import Certificate, Offer, Product
from marketplace_sync.models import Channel, Listing, MarketplaceAccount, Order
from tests import factories

pytestmark = pytest.mark.django_db


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def _top(route_prefix):
    """The URL resolver mounted at `route_prefix`, also inside i18n_patterns (the portal)."""
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) == route_prefix:
            return pattern
        if isinstance(pattern, URLResolver) and str(pattern.pattern) == "":  # the language prefix
            for inner in pattern.url_patterns:
                if str(inner.pattern) == route_prefix:
                    return inner
    raise LookupError(route_prefix)


PORTAL_ROUTES = list(_walk(_top("portal/").url_patterns, "portal/"))
ADMIN_ROUTES = list(_walk(_top("admin/").url_patterns, "admin/"))
PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
# URL parameters that name one cooperative's object (a channel code names no one's object).
OBJECT_PARAMETERS = ("product_id", "image_id", "certificate_id", "account_id", "listing_id")


def _fill(route: str, values: dict) -> str:
    def value(match):
        name = match.group("name")
        if name not in values:
            raise AssertionError(f"The isolation test does not know the portal URL parameter {name!r} in {route!r}")
        return str(values[name])

    return "/" + PARAMETER.sub(value, route)


@pytest.fixture
def world(coop_a, coop_b, member_a, member_b):
    """Cooperative B with a product that has a photo, an offer and a certificate with a scan."""
    product_b = factories.make_product(coop_b, member_b, name="Gạo nếp Tú Lệ BÍ MẬT")
    services.offer_update(
        product=product_b, user=member_b, change=services.OfferChange(price_vnd=123456, stock=9, safety_buffer=0)
    )
    certificate_b = factories.add_valid_certificate(product_b, number="816/QĐ-UBND")
    certificate_b.scan.save("scan.pdf", factories.SimpleUploadedFile("scan.pdf", b"%PDF-1.4 secret"), save=True)
    image_b = services.latest_content(product_b).images.all()[0].image_id
    shopee = Channel.objects.get(code="shopee")
    account_b = MarketplaceAccount.objects.create(
        cooperative=coop_b, channel=shopee, status="connected", shop_id="B-SHOP", shop_name="Gian hàng BÍ MẬT"
    )
    listing_b = Listing.objects.create(
        product=product_b, account=account_b, channel=shopee, external_id="B-ITEM", reported_state="live"
    )
    Order.objects.create(
        channel=shopee,
        account=account_b,
        cooperative=coop_b,
        external_id="DON-BI-MAT",
        status=Order.Status.PAID,
        total_vnd=123456,
        ordered_at=timezone.now(),
    )
    product_a = factories.make_product(coop_a, member_a, name="Chè Khe Năm")
    return {
        "product_a": product_a,
        "product_b": product_b,
        "b": {
            "cooperative_id": coop_b.pk,
            "product_id": product_b.pk,
            "image_id": image_b,
            "certificate_id": certificate_b.pk,
            "account_id": account_b.pk,
            "listing_id": listing_b.pk,
            "channel_code": "shopee",
        },
    }


def _snapshot(product):
    product.refresh_from_db()
    offer = Offer.objects.get(product=product)
    return (
        product.name,
        product.live,
        product.latest_revision_id,
        offer.price_vnd,
        offer.stock,
        Certificate.objects.filter(product=product).count(),
        product.images.count(),
    )


def test_every_portal_url_of_another_cooperative_is_404_for_get_and_post(client, member_a, world):
    client.force_login(member_a)
    before = _snapshot(world["product_b"])
    checked = 0
    for route, _pattern in PORTAL_ROUTES:
        if "<cooperative_id>" not in route and "<int:cooperative_id>" not in route:
            continue
        # B's objects under B's cooperative, and B's objects smuggled under A's own cooperative.
        for cooperative_id in (world["b"]["cooperative_id"], world["product_a"].cooperative_id):
            if cooperative_id == world["product_a"].cooperative_id and not any(
                f"{name}>" in route for name in OBJECT_PARAMETERS
            ):
                continue  # A's own pages: nothing of B's in the URL
            url = _fill(route, {**world["b"], "cooperative_id": cooperative_id})
            # POST is refused with 403/404 everywhere; a GET on a POST-only page may also be
            # answered 405 (method not allowed), which says nothing about B either.
            for method, refusals in ((client.post, (403, 404)), (client.get, (403, 404, 405))):
                response = method(url)
                assert response.status_code in refusals, f"{method.__name__.upper()} {url} → {response.status_code}"
                assert "BÍ MẬT" not in response.content.decode()
                checked += 1
    assert checked > 20
    assert _snapshot(world["product_b"]) == before


def test_a_members_lists_and_pages_never_show_another_cooperatives_data(client, member_a, coop_a, world):
    client.force_login(member_a)
    pages = [
        reverse("portal:home"),
        reverse("portal:cooperative", kwargs={"cooperative_id": coop_a.pk}),
        reverse("portal:product_list", kwargs={"cooperative_id": coop_a.pk}),
    ]
    product_a = world["product_a"]
    for name in (
        "product",
        "product_edit",
        "product_photos",
        "product_offer",
        "product_certificates",
        "product_history",
    ):
        pages.append(reverse(f"portal:{name}", kwargs={"cooperative_id": coop_a.pk, "product_id": product_a.pk}))
    pages += [
        reverse("portal:shops", kwargs={"cooperative_id": coop_a.pk}),
        reverse("portal:orders", kwargs={"cooperative_id": coop_a.pk}),
    ]
    for url in pages:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert "BÍ MẬT" not in body and "123.456" not in body and "816/QĐ-UBND" not in body, url
        assert "Tú Lệ" not in body and "B-SHOP" not in body and "B-ITEM" not in body, url


def test_a_member_cannot_reach_anothers_certificate_scan(client, member_a, world):
    client.force_login(member_a)
    url = reverse(
        "portal:certificate_scan",
        kwargs={k: world["b"][k] for k in ("cooperative_id", "product_id", "certificate_id")},
    )
    response = client.get(url)
    assert response.status_code == 404
    assert b"secret" not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_the_owner_can_download_their_own_scan(client, member_b, world):
    client.force_login(member_b)
    url = reverse(
        "portal:certificate_scan",
        kwargs={k: world["b"][k] for k in ("cooperative_id", "product_id", "certificate_id")},
    )
    response = client.get(url)
    assert response.status_code == 200
    assert b"secret" in b"".join(response.streaming_content)


def test_a_helper_reaches_only_the_cooperatives_they_assist(client, helper, coop_a, coop_b, coop_c, world):
    client.force_login(helper)
    choose = client.get(reverse("portal:home")).content.decode()
    assert coop_a.name in choose and coop_c.name in choose and coop_b.name not in choose
    for cooperative, expected in ((coop_a, 200), (coop_c, 200), (coop_b, 404)):
        response = client.get(reverse("portal:product_list", kwargs={"cooperative_id": cooperative.pk}))
        assert response.status_code == expected, cooperative.name
    response = client.get(
        reverse("portal:product", kwargs={"cooperative_id": coop_a.pk, "product_id": world["product_b"].pk})
    )
    assert response.status_code == 404


def test_an_ended_membership_closes_the_door(client, member_a, coop_a):
    member_a.memberships.update(is_active=False)
    client.force_login(member_a)
    response = client.get(reverse("portal:product_list", kwargs={"cooperative_id": coop_a.pk}))
    assert response.status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, coop_a):
    response = client.get(reverse("portal:product_list", kwargs={"cooperative_id": coop_a.pk}))
    assert response.status_code == 302 and reverse("portal:login") in response["Location"]


# --- The Wagtail admin is for staff only --------------------------------------------------------

# Pages of the admin that anyone may load, signed in or not: they show no data.
PUBLIC_ADMIN_ROUTES = {"admin/login/", "admin/password_reset/", "admin/sprite/", "admin/jsi18n/"}
REGEX_GROUP = re.compile(r"\(\?P<\w+>[^)]*\)")


def _sample_admin_url(route: str) -> str:
    route = REGEX_GROUP.sub("1", route)  # re_path groups first: "(?P<name>…)" also looks like "<name>"
    route = PARAMETER.sub(lambda m: "1" if m.group("converter") in (None, "int") else "x", route)
    return "/" + route.replace("^", "").replace("$", "").replace("\\.", ".")


@pytest.mark.parametrize("who", ["member_a", "helper"])
def test_members_and_helpers_are_refused_by_every_admin_url(client, who, request, world):
    user = request.getfixturevalue(who)
    client.force_login(user)
    anonymous = Client()
    reached = []
    for route, _pattern in ADMIN_ROUTES:
        url = _sample_admin_url(route)
        if any(route.startswith(public) for public in PUBLIC_ADMIN_ROUTES):
            # Public pages: the same answer as for someone not signed in.
            assert client.get(url).status_code == anonymous.get(url).status_code, url
            continue
        for method in (client.get, client.post):
            response = method(url)
            refused = response.status_code in (403, 404, 405) or (
                response.status_code == 302 and response["Location"].startswith("/admin/login/")
            )
            if not refused:
                reached.append(f"{method.__name__.upper()} {url} → {response.status_code}")
    assert reached == []
    assert len(ADMIN_ROUTES) > 100
    # and nothing of cooperative B leaked or changed on the way
    assert Product.objects.get(pk=world["product_b"].pk).name == "Gạo nếp Tú Lệ BÍ MẬT"
