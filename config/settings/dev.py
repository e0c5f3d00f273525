"""The embedded demo: `make run`. Safe defaults for one machine, never for the internet."""

from .base import *  # noqa: F403
from .base import (
    MARKETPLACE_TOKEN_KEYS,
    SANDBOX_HOST,
    SANDBOX_PORTS,
    derived_fernet_key,
    env_bool,
    os,
    sandbox_marketplaces,
    sandbox_stripe,
)

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key-do-not-use-in-production"
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
OCOP_ALLOW_DEMO_DATA = True

# Marketplaces: the local sandboxes (`make run` starts them); tokens encrypted with a key
# derived from SECRET_KEY unless MARKETPLACE_TOKEN_KEYS is set.
MARKETPLACES = sandbox_marketplaces(SANDBOX_HOST, SANDBOX_PORTS)
# Stripe: the sandbox beside them, unless real keys are set.
if not os.environ.get("STRIPE_SECRET_KEY"):
    globals().update(sandbox_stripe(SANDBOX_HOST, SANDBOX_PORTS))
MARKETPLACE_TOKEN_KEYS = MARKETPLACE_TOKEN_KEYS or [derived_fernet_key(SECRET_KEY)]
# The sandboxes review new items in 20 seconds: check back soon after.
LISTING_REVIEW_CHECK_SECONDS = int(os.environ.get("LISTING_REVIEW_CHECK_SECONDS", "25"))
SANDBOX_BUYER_ENABLED = True
