"""Marketplace tokens are encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256).

Keys come from settings.MARKETPLACE_TOKEN_KEYS, newest first. To rotate: put a new key in
front (`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`),
keep the old ones after it, deploy, run `manage.py rotate_token_keys` (re-encrypts every token
with the newest key), then remove the old keys. Tokens encrypted with any listed key can be read
meanwhile, so rotation needs no downtime.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def derive_key(secret: str) -> str:
    """A Fernet key derived from another secret (the development default uses SECRET_KEY)."""
    return base64.urlsafe_b64encode(hashlib.sha256(f"ocop-token-key:{secret}".encode()).digest()).decode()


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("MARKETPLACE_TOKEN_KEYS is empty: marketplace tokens cannot be encrypted.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.MARKETPLACE_TOKEN_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(value: str) -> str:
    if not value:
        return ""
    try:
        return fernet().decrypt(value.encode()).decode()
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "A marketplace token cannot be decrypted with MARKETPLACE_TOKEN_KEYS: was a key removed too early?"
        ) from error


class EncryptedTextField(models.TextField):
    """Text stored encrypted; read and written in clear by Python code."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
