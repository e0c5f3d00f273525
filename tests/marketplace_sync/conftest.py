"""Fixtures for the sync engine: the four sandboxes on free ports, a real Celery worker, shops
connected through each marketplace's own authorisation flow, and approved products."""

import html
import re
import time
import urllib.parse
from dataclasses import dataclass

import pytest
import requests
from celery.contrib.testing.worker import start_worker
from django.urls import reverse

from catalog import services as catalog_services
from config.celery import app
from config.settings.base import sandbox_marketplaces, sandbox_stripe
from marketplace_sync.models import CategoryMapping, Channel, Listing, MarketplaceAccount
from marketplace_sync.sandbox.base import SandboxServer
from marketplace_sync.sandbox.registry import build_sandboxes
from tests import factories

API_CHANNELS = ("shopee", "lazada", "tiktok_shop", "tiki")
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')
# Leaf categories each sandbox accepts for tea ("Chè tươi, chế biến"): Shopee VN and Tiki VN ids
# from data/marketplaces/ocop_category_map.csv; TikTok's from its (Indonesian) tree; Lazada has no
# VN id in the data, so a leaf of its Philippines tree (25156 Green Tea) stands in, as the
# sandbox allows.
TEA_CATEGORIES = {"shopee": "100825", "lazada": "25156", "tiktok_shop": "916488", "tiki": "8274"}


@dataclass
class Sandboxes:
    server: SandboxServer
    apps: dict

    def url(self, channel: str) -> str:
        return self.server.url(channel)

    def control(self, channel: str, path: str, payload: dict | None = None) -> dict:
        response = requests.post(f"{self.url(channel)}/_sandbox/{path}", json=payload or {}, timeout=10)
        response.raise_for_status()
        return response.json()

    def items(self, channel: str, shop_id: str | None = None) -> list[dict]:
        params = {"shop_id": shop_id} if shop_id else {}
        return requests.get(f"{self.url(channel)}/_sandbox/items", params=params, timeout=10).json()["items"]


@pytest.fixture
def sandboxes(settings, live_server):
    apps = build_sandboxes(
        review_seconds=0.3,
        webhook_url=lambda channel: f"{live_server.url}/webhooks/{channel}/",
        callback_url=lambda channel: f"{live_server.url}/marketplace/callback/{channel}/",
    )
    server = SandboxServer(apps).start()
    settings.MARKETPLACES = sandbox_marketplaces("127.0.0.1", {**settings.SANDBOX_PORTS, **server.ports})
    for name, value in sandbox_stripe("127.0.0.1", server.ports).items():
        setattr(settings, name, value)
    settings.WEBHOOK_BASE_URL = live_server.url
    settings.WAGTAILADMIN_BASE_URL = live_server.url
    settings.MARKETPLACE_HTTP_TIMEOUT = (2.0, 2.0)
    yield Sandboxes(server, apps)
    server.stop()


@pytest.fixture
def worker(settings):
    queues = [settings.CELERY_TASK_DEFAULT_QUEUE, *(f"{settings.SYNC_QUEUE_PREFIX}{c}" for c in API_CHANNELS)]
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=queues) as celery:
        yield celery


def wait_until(predicate, *, timeout=30.0, interval=0.2, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def connect_shop(client, user, cooperative, channel_code: str) -> MarketplaceAccount:
    """The member connects the shop in the portal, allows it on the marketplace's own page,
    and comes back to our callback: the whole authorisation flow over real HTTP."""
    client.force_login(user)
    response = client.post(
        reverse("portal:shop_connect", kwargs={"cooperative_id": cooperative.pk, "channel_code": channel_code})
    )
    assert response.status_code == 302, response.content
    authorize_url = response["Location"]
    marketplace = requests.Session()
    page = marketplace.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    # Submit the consent form as a browser would: its hidden fields plus the shop name.
    form = {name: html.unescape(value) for name, value in HIDDEN_INPUT.findall(page.text)}
    form["shop_name"] = f"{cooperative.name} ({channel_code})"
    consent = marketplace.post(authorize_url, data=form, allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    back = urllib.parse.urlsplit(consent.headers["Location"])
    response = client.get(f"{back.path}?{back.query}")
    assert response.status_code == 302
    return MarketplaceAccount.objects.get(cooperative=cooperative, channel__code=channel_code)


def map_tea_categories():
    tea = factories.category()
    for code, category_id in TEA_CATEGORIES.items():
        CategoryMapping.objects.update_or_create(
            channel=Channel.objects.get(code=code), ocop_category=tea, defaults={"marketplace_category_id": category_id}
        )
    return tea


def approve(product, officer):
    if not product.current_workflow_state:
        catalog_services.product_submit_for_review(product=product, user=officer)
    product.refresh_from_db()
    task_state = product.current_workflow_state.current_task_state.specific
    task_state.task.specific.on_action(task_state, officer, "approve")
    product.refresh_from_db()
    return product


def sellable_product(cooperative, member, name="Chè Shan tuyết cổ thụ Suối Giàng", *, price=150_000, stock=30):
    """A complete product with a valid certificate, price and stock (not yet approved)."""
    map_tea_categories()
    product = factories.make_product(cooperative, member, name=name)
    catalog_services.product_add_photo(product=product, user=member, upload=factories.jpeg_upload("goi.jpg"))
    catalog_services.offer_update(
        product=product,
        user=member,
        change=catalog_services.OfferChange(price_vnd=price, stock=stock, safety_buffer=2),
    )
    factories.add_valid_certificate(product, stars=4)
    return product


def listing_states(product) -> dict[str, str]:
    return dict(Listing.objects.filter(product=product).values_list("channel__code", "reported_state"))
