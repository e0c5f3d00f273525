"""Which connector serves which channel, configured from settings.MARKETPLACES."""

from django.conf import settings
from django.utils.module_loading import import_string

from .connectors.base import Connector, Transport

CONNECTORS = {
    "shopee": "marketplace_sync.connectors.shopee.ShopeeConnector",
    "lazada": "marketplace_sync.connectors.lazada.LazadaConnector",
    "tiktok_shop": "marketplace_sync.connectors.tiktok_shop.TikTokShopConnector",
    "tiki": "marketplace_sync.connectors.tiki.TikiConnector",
}


def has_connector(channel_code: str) -> bool:
    return channel_code in CONNECTORS


def connector_for(channel_code: str, *, transport: Transport | None = None) -> Connector:
    cls = import_string(CONNECTORS[channel_code])
    return cls(settings.MARKETPLACES[channel_code], transport)
