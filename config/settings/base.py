"""Settings shared by every environment.

Everything that differs between machines comes from environment variables, each with an
embedded default that works on a fresh checkout (SQLite, a Celery broker that needs no
server, local sandboxes). The README lists every variable.
"""

import base64
import hashlib
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Everything the running platform writes (SQLite file, uploads, broker folders) lives here.
VAR_DIR = Path(os.environ.get("OCOP_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Our apps, in dependency order: cooperatives <- catalog <- marketplace_sync <- cms.
    "cooperatives",
    "catalog",
    "marketplace_sync",
    "cms",
    # Wagtail
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.routable_page",
    "wagtail.contrib.settings",
    "wagtail.contrib.sitemaps",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    # Django
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    # Innermost: a cached page still gets the security headers of the middleware above.
    "cms.middleware.PublicPageCacheMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wagtail.contrib.settings.context_processors.settings",
                "cooperatives.context_processors.portal_navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database: SQLite unless DATABASE_URL is set (PostgreSQL in CI and production).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Several processes (web server, Celery worker) share the file: wait for locks
    # instead of failing, and let readers run beside the writer.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and cache when REDIS_URL is set.
REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.ReusingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "ocop"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Anonymous public pages cached whole (cms.middleware), only with a cache all processes share:
# with the embedded default the worker's changes could not reach the web process's memory.
PUBLIC_PAGE_CACHE_SECONDS = int(os.environ.get("PUBLIC_PAGE_CACHE_SECONDS", 600 if REDIS_URL else 0))

# --- Celery. Without a server, the broker is a folder on disk: the web process and the
# worker both see it, so `make run` needs nothing installed.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery-broker"
    for _folder in ("queue", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    # Longer than any task we run, so an unacknowledged task is not delivered twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Results are written to the database by the tasks themselves; Celery keeps none.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TIMEZONE = "Asia/Ho_Chi_Minh"
# One queue per marketplace, so that one slow marketplace cannot starve the others; workers
# consume "celery" (everything else) and every "sync.<channel>" queue (see the Makefile).
SYNC_QUEUE_PREFIX = "sync."
SYNC_CHANNELS = ["shopee", "lazada", "tiktok_shop", "tiki"]
CELERY_TASK_DEFAULT_QUEUE = "celery"
# The safety nets behind webhooks and the queue (celery beat).
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-sync-jobs": {"task": "marketplace_sync.tasks.requeue_stale_jobs_task", "schedule": 120},
    "pull-orders": {"task": "marketplace_sync.tasks.pull_orders_task", "schedule": 600},
    "pull-marketplace-events": {"task": "marketplace_sync.tasks.pull_events_task", "schedule": 60},
    "reconcile-listings": {"task": "marketplace_sync.tasks.reconcile_listings_task", "schedule": 1800},
    "refresh-expiring-tokens": {"task": "marketplace_sync.tasks.refresh_expiring_tokens_task", "schedule": 900},
    "warn-expiring-connections": {"task": "marketplace_sync.tasks.warn_expiring_connections_task", "schedule": 86400},
    # Coverage: the month just ended is frozen on the 1st; the facts are checked every night.
    "coverage-snapshot": {
        "task": "marketplace_sync.tasks.coverage_snapshot_task",
        "schedule": crontab(minute=30, hour=0, day_of_month=1),
    },
    "coverage-facts-check": {
        "task": "marketplace_sync.tasks.coverage_facts_check_task",
        "schedule": crontab(minute=15, hour=2),
    },
    "data-quality": {"task": "marketplace_sync.tasks.quality_refresh_task", "schedule": crontab(minute=45, hour=2)},
    # Direct purchases whose "expired" webhook never came give their units back.
    "release-overdue-checkouts": {"task": "marketplace_sync.tasks.release_overdue_checkouts_task", "schedule": 300},
}

# --- Authentication
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"

# --- Languages: Vietnamese first, English second.
LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", "Tiếng Việt"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Phone photos are large; the browser shrinks them first where it can.
DATA_UPLOAD_MAX_MEMORY_SIZE = 30 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ocop-connect@localhost")

# --- Wagtail
WAGTAIL_SITE_NAME = os.environ.get("SITE_NAME", "OCOP Connect")
WAGTAILADMIN_BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:8000")
# The public address marketplaces call for webhooks (behind a proxy: the https:// address).
WEBHOOK_BASE_URL = os.environ.get("WEBHOOK_BASE_URL", WAGTAILADMIN_BASE_URL)
WAGTAIL_I18N_ENABLED = False
WAGTAILSEARCH_BACKENDS = {
    # "simple" keeps Vietnamese words intact on PostgreSQL; the server default
    # ("english") drops common Vietnamese words as stop words (docs/search.md).
    "default": {"BACKEND": "wagtail.search.backends.database", "SEARCH_CONFIG": "simple"},
}
WAGTAILIMAGES_MAX_UPLOAD_SIZE = 15 * 1024 * 1024
WAGTAILDOCS_EXTENSIONS = ["pdf", "jpg", "jpeg", "png", "webp", "heic", "xlsx", "csv"]
WAGTAILADMIN_PERMITTED_LANGUAGES = LANGUAGES
WAGTAIL_WORKFLOW_REQUIRE_REAPPROVAL_ON_EDIT = True

# --- OCOP Connect
# The province this deployment serves (GSO code; 15 = Lào Cai since 1 July 2025, Yên Bái before).
OCOP_PROVINCE_CODE = os.environ.get("OCOP_PROVINCE_CODE", "15")
OCOP_PROVINCE_NAME = os.environ.get("OCOP_PROVINCE_NAME", _("Lào Cai"))
# Reference data (administrative units, OCOP taxonomy, the demo register): a copy of the
# team's shared/data kept in the repository, so a clone alone can run (`make data-sync`).
OCOP_DATA_DIR = Path(os.environ.get("OCOP_DATA_DIR", BASE_DIR / "data"))
# Demo logins are only ever created where this is true (dev and test settings).
OCOP_ALLOW_DEMO_DATA = False

# --- Marketplaces
# Connect and read timeouts of every marketplace call, in seconds.
MARKETPLACE_HTTP_TIMEOUT = (
    float(os.environ.get("MARKETPLACE_CONNECT_TIMEOUT", "3.05")),
    float(os.environ.get("MARKETPLACE_READ_TIMEOUT", "15")),
)
# How long after a listing entered a marketplace's review we ask how it went (the reconcile
# task catches what this misses).
LISTING_REVIEW_CHECK_SECONDS = int(os.environ.get("LISTING_REVIEW_CHECK_SECONDS", "300"))
# Fernet keys for the marketplace tokens, newest first (see marketplace_sync/crypto.py).
MARKETPLACE_TOKEN_KEYS = env_list("MARKETPLACE_TOKEN_KEYS")


def derived_fernet_key(secret: str) -> str:
    """Development only: a token key derived from SECRET_KEY (same as crypto.derive_key)."""
    return base64.urlsafe_b64encode(hashlib.sha256(f"ocop-token-key:{secret}".encode()).digest()).decode()


# Each API connector's hosts and app credentials. Production points at the real marketplaces;
# dev and test settings point at the local sandboxes (marketplace_sync/sandbox/).
MARKETPLACES = {
    "shopee": {
        "API_URL": os.environ.get("SHOPEE_API_URL", "https://partner.shopeemobile.com"),
        "PARTNER_ID": os.environ.get("SHOPEE_PARTNER_ID", ""),
        "PARTNER_KEY": os.environ.get("SHOPEE_PARTNER_KEY", ""),
        "PRODUCT_URL": "https://shopee.vn/product/{shop_id}/{item_id}",
    },
    "lazada": {
        "API_URL": os.environ.get("LAZADA_API_URL", "https://api.lazada.vn/rest"),
        "AUTH_API_URL": os.environ.get("LAZADA_AUTH_API_URL", "https://auth.lazada.com/rest"),
        "AUTHORIZE_URL": os.environ.get("LAZADA_AUTHORIZE_URL", "https://auth.lazada.com/oauth/authorize"),
        "APP_KEY": os.environ.get("LAZADA_APP_KEY", ""),
        "APP_SECRET": os.environ.get("LAZADA_APP_SECRET", ""),
        "PRODUCT_URL": "https://www.lazada.vn/products/-i{item_id}.html",
    },
    "tiktok_shop": {
        "API_URL": os.environ.get("TIKTOK_SHOP_API_URL", "https://open-api.tiktokglobalshop.com"),
        "AUTH_API_URL": os.environ.get("TIKTOK_SHOP_AUTH_API_URL", "https://auth.tiktok-shops.com"),
        "AUTHORIZE_URL": os.environ.get("TIKTOK_SHOP_AUTHORIZE_URL", "https://services.tiktokshop.com/open/authorize"),
        "APP_KEY": os.environ.get("TIKTOK_SHOP_APP_KEY", ""),
        "APP_SECRET": os.environ.get("TIKTOK_SHOP_APP_SECRET", ""),
        "SERVICE_ID": os.environ.get("TIKTOK_SHOP_SERVICE_ID", ""),
        "PRODUCT_URL": "https://shop.tiktok.com/view/product/{item_id}",
    },
    "tiki": {
        "API_URL": os.environ.get("TIKI_API_URL", "https://api.tiki.vn"),
        "AUTHORIZE_URL": os.environ.get("TIKI_AUTHORIZE_URL", "https://api.tiki.vn/sc/oauth2/auth"),
        "TOKEN_URL": os.environ.get("TIKI_TOKEN_URL", "https://api.tiki.vn/sc/oauth2/token"),
        "CLIENT_ID": os.environ.get("TIKI_CLIENT_ID", ""),
        "CLIENT_SECRET": os.environ.get("TIKI_CLIENT_SECRET", ""),
        "PRODUCT_URL": "https://tiki.vn/p{item_id}.html",
    },
}

# The local sandboxes: where they listen, and the made-up app credentials they and the
# connectors share. These credentials exist only on this machine.
SANDBOX_HOST = os.environ.get("SANDBOX_HOST", "127.0.0.1")
# The portal's "sandbox buyer" button (demo): never where the marketplaces are real.
SANDBOX_BUYER_ENABLED = False
SANDBOX_PORTS = {"shopee": 8801, "lazada": 8802, "tiktok_shop": 8803, "tiki": 8804, "stripe": 8805}
# e.g. SANDBOX_PORTS="shopee=9801,lazada=9802" to move them (tests start them on free ports).
SANDBOX_PORTS.update(
    {name: int(port) for name, _sep, port in (item.partition("=") for item in env_list("SANDBOX_PORTS"))}
)
SANDBOX_CREDENTIALS = {
    "shopee": {
        "PARTNER_ID": "2001887",
        "PARTNER_KEY": "73616e64626f782d73686f7065652d706172746e65722d6b65792d6f636f7021",
    },
    "lazada": {"APP_KEY": "501234", "APP_SECRET": "sandbox-lazada-app-secret-ocop"},
    "tiktok_shop": {
        "APP_KEY": "6a1b2c3d4e5f6",
        "APP_SECRET": "sandbox-tiktok-app-secret-ocop",
        "SERVICE_ID": "7000001",
    },
    "tiki": {"CLIENT_ID": "sandbox-tiki-client-ocop", "CLIENT_SECRET": "sandbox-tiki-client-secret-ocop"},
    "stripe": {"SECRET_KEY": "sk_test_sandbox_ocop_connect", "WEBHOOK_SECRET": "whsec_sandbox_ocop_connect"},
}

# --- Stripe: "Mua trực tiếp" on the showcase. No secret key, no direct purchase.
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_URL = os.environ.get("STRIPE_API_URL", "")  # empty: Stripe itself
# What the platform keeps of each direct sale, in percent (0: the cooperative gets it all).
DIRECT_SALE_FEE_PERCENT = float(os.environ.get("DIRECT_SALE_FEE_PERCENT", "0"))
# How long a buyer has to pay; Stripe accepts 30 minutes to 24 hours. Stock is held meanwhile.
DIRECT_CHECKOUT_MINUTES = int(os.environ.get("DIRECT_CHECKOUT_MINUTES", "30"))
# Stripe's floor is about US$0.50 in the settlement currency; keep a margin (docs: stack.md §2).
DIRECT_CHECKOUT_MIN_VND = 20_000
DIRECT_CHECKOUT_MAX_VND = 99_999_999


def sandbox_stripe(host: str, ports: dict[str, int]) -> dict:
    """STRIPE_* settings pointing at the local Stripe sandbox."""
    return {
        "STRIPE_API_URL": f"http://{host}:{ports['stripe']}",
        "STRIPE_SECRET_KEY": SANDBOX_CREDENTIALS["stripe"]["SECRET_KEY"],
        "STRIPE_WEBHOOK_SECRET": SANDBOX_CREDENTIALS["stripe"]["WEBHOOK_SECRET"],
    }


def sandbox_marketplaces(host: str, ports: dict[str, int]) -> dict:
    """MARKETPLACES pointing at the local sandboxes."""

    def url(channel: str) -> str:
        return f"http://{host}:{ports[channel]}"

    def product_url(channel: str) -> str:
        return url(channel) + "/_sandbox/product/{item_id}"

    return {
        "shopee": {"API_URL": url("shopee"), "PRODUCT_URL": product_url("shopee"), **SANDBOX_CREDENTIALS["shopee"]},
        "lazada": {
            "API_URL": f"{url('lazada')}/rest",
            "AUTH_API_URL": f"{url('lazada')}/auth/rest",
            "AUTHORIZE_URL": f"{url('lazada')}/oauth/authorize",
            "PRODUCT_URL": product_url("lazada"),
            **SANDBOX_CREDENTIALS["lazada"],
        },
        "tiktok_shop": {
            "API_URL": url("tiktok_shop"),
            "AUTH_API_URL": url("tiktok_shop"),
            "AUTHORIZE_URL": f"{url('tiktok_shop')}/open/authorize",
            "PRODUCT_URL": product_url("tiktok_shop"),
            **SANDBOX_CREDENTIALS["tiktok_shop"],
        },
        "tiki": {
            "API_URL": url("tiki"),
            "AUTHORIZE_URL": f"{url('tiki')}/sc/oauth2/auth",
            "TOKEN_URL": f"{url('tiki')}/sc/oauth2/token",
            "PRODUCT_URL": product_url("tiki"),
            **SANDBOX_CREDENTIALS["tiki"],
        },
    }


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Wagtail runs its reference-index updates as immediate tasks and logs each one.
    # Wagtail logs every edit at INFO; the audit log in the database already records them.
    "loggers": {"django_tasks": {"level": "WARNING"}, "wagtail": {"level": "WARNING"}, "stripe": {"level": "WARNING"}},
}
