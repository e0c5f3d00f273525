"""Settings for `make test`: the same code paths as production, on whatever services are
configured (PostgreSQL and Redis in CI, SQLite and an in-process broker otherwise)."""

from .base import *  # noqa: F403
from .base import CACHES, CELERY_BROKER_URL, REDIS_URL, Path, os

DEBUG = False
SECRET_KEY = "test-only-secret-key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
OCOP_ALLOW_DEMO_DATA = True

if not os.environ.get("CELERY_BROKER_URL") and not REDIS_URL:
    # No broker server configured: the tests that start a real worker run it in-process.
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
elif CELERY_BROKER_URL.startswith("redis"):
    # Keep test runs apart from a demo that may share the same Redis.
    CELERY_TASK_DEFAULT_QUEUE = "ocop-test"
    SYNC_QUEUE_PREFIX = "ocop-test-sync."

# Static files are served by the test client's finders; whitenoise would only warn that
# STATIC_ROOT has not been collected.
MIDDLEWARE = [m for m in MIDDLEWARE if m != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405

# Refusals are what many tests assert; Django would log each 404/403 as a warning.
LOGGING = {**LOGGING, "loggers": {**LOGGING["loggers"], "django.request": {"level": "ERROR"}}}  # noqa: F405

# Marketplaces: the sandboxes, started by the tests themselves on free ports.
MARKETPLACES = sandbox_marketplaces(SANDBOX_HOST, SANDBOX_PORTS)  # noqa: F405
globals().update(sandbox_stripe(SANDBOX_HOST, SANDBOX_PORTS))  # noqa: F405
MARKETPLACE_TOKEN_KEYS = [derived_fernet_key(SECRET_KEY)]  # noqa: F405
LISTING_REVIEW_CHECK_SECONDS = 1
# Off unless a test turns it on: a page cached in Redis must not outlive the test that made it.
PUBLIC_PAGE_CACHE_SECONDS = 0
SANDBOX_BUYER_ENABLED = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the live server, the Celery worker and the test each hold their own
    # connection, and an in-memory database shared between them locks whole tables
    # ("database table is locked") instead of waiting like a file with WAL does.
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"ocop-test-{os.getpid()}.sqlite3")
    }

# Wagtail keeps renditions in the "renditions" cache when there is one (else the default): per
# process here, so a rendition cached by an earlier run in a shared Redis never points a test
# at a file in another run's temporary media folder.
CACHES = {
    **CACHES,
    "renditions": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "renditions"},
}
