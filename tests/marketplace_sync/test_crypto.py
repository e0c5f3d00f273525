"""Marketplace tokens are encrypted at rest, and the key can be rotated without downtime."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from marketplace_sync.models import Channel, MarketplaceAccount

pytestmark = pytest.mark.django_db


def _stored(account, column="access_token") -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM marketplace_sync_marketplaceaccount WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


def test_tokens_are_not_stored_in_clear(coop_a):
    account = MarketplaceAccount.objects.create(
        cooperative=coop_a, channel=Channel.objects.get(code="shopee"), access_token="secret-token-123"
    )
    assert "secret-token-123" not in _stored(account)
    assert MarketplaceAccount.objects.get(pk=account.pk).access_token == "secret-token-123"


def test_rotating_the_key_keeps_every_token_readable(coop_a, settings):
    old_key = settings.MARKETPLACE_TOKEN_KEYS[0]
    account = MarketplaceAccount.objects.create(
        cooperative=coop_a,
        channel=Channel.objects.get(code="lazada"),
        access_token="access-1",
        refresh_token="refresh-1",
    )
    new_key = Fernet.generate_key().decode()
    settings.MARKETPLACE_TOKEN_KEYS = [new_key, old_key]  # new first, old still listed
    assert MarketplaceAccount.objects.get(pk=account.pk).access_token == "access-1"

    call_command("rotate_token_keys", verbosity=0)

    settings.MARKETPLACE_TOKEN_KEYS = [new_key]  # the old key removed
    rotated = MarketplaceAccount.objects.get(pk=account.pk)
    assert (rotated.access_token, rotated.refresh_token) == ("access-1", "refresh-1")
    assert Fernet(new_key.encode()).decrypt(_stored(account).encode()) == b"access-1"
