"""Production: every secret from the environment; refuse to start without them."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import SECRET_KEY, env_bool, env_list, os

DEBUG = False
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set in production.")
if not os.environ.get("MARKETPLACE_TOKEN_KEYS"):
    raise ImproperlyConfigured("MARKETPLACE_TOKEN_KEYS must be set in production (see marketplace_sync/crypto.py).")
if not os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured("DATABASE_URL must be set in production (PostgreSQL).")

if os.environ.get("STRIPE_SECRET_KEY") and not os.environ.get("STRIPE_WEBHOOK_SECRET"):
    raise ImproperlyConfigured(
        "STRIPE_WEBHOOK_SECRET must be set with STRIPE_SECRET_KEY: unsigned webhooks are refused."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Preloading binds every subdomain of the province's domain to HTTPS for years; it is a
    # decision for the operator (SECURE_HSTS_PRELOAD=1), not a default.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Demo users and passwords are never created here.
OCOP_ALLOW_DEMO_DATA = False
