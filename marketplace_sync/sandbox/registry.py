"""The sandbox of each API channel, built the same way by `run_sandbox`, `make run` and tests."""

from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

SANDBOXES = {
    "shopee": "marketplace_sync.sandbox.shopee.ShopeeSandbox",
    "lazada": "marketplace_sync.sandbox.lazada.LazadaSandbox",
    "tiktok_shop": "marketplace_sync.sandbox.tiktok_shop.TikTokShopSandbox",
    "tiki": "marketplace_sync.sandbox.tiki.TikiSandbox",
    # Not a marketplace: Stripe, for direct purchases on the showcase.
    "stripe": "marketplace_sync.sandbox.stripe.StripeSandbox",
}


def build_sandboxes(
    *, channels=None, store_dir: Path | None = None, review_seconds: float = 3.0, webhook_url=None, callback_url=None
):
    """{channel: sandbox}. `store_dir` keeps their state across restarts (None: in memory);
    `webhook_url(channel)` gives where each sandbox posts its webhooks, `callback_url(channel)`
    the app's registered redirect address (marketplaces that do not take it in the link)."""
    sandboxes = {}
    for channel in channels or SANDBOXES:
        cls = import_string(SANDBOXES[channel])
        credentials = dict(settings.SANDBOX_CREDENTIALS[channel])
        if callback_url:
            credentials["REDIRECT_URL"] = callback_url(channel)
        sandboxes[channel] = cls(
            credentials=credentials,
            store_path=(store_dir / f"{channel}.sqlite3") if store_dir else None,
            webhook_url=webhook_url(channel) if webhook_url else "",
            review_seconds=review_seconds,
        )
    return sandboxes
