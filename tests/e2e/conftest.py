"""The end-to-end journey's fixtures: a real browser (Debian's chromium driven by Playwright),
the live server, a real Celery worker and the marketplace sandboxes over real HTTP.

Skipped with the reason when the playwright package or /usr/bin/chromium is missing, so that
`make test` passes on a machine without them; with E2E_REQUIRED=1 (CI, see .ci/run) a missing
browser is a failure instead."""

import importlib.util
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

# Playwright's sync API runs an asyncio event loop in the test's own thread (it switches to it
# with greenlets on every call), so Django sees a running loop and refuses ORM calls from the
# test with SynchronousOnlyOperation, although nothing here runs concurrently with them: the
# test's ORM reads and the browser calls take turns in one thread (microsoft/playwright-pytest
# #29, #46). Django reads the variable at each call; once this conftest is loaded it holds for
# the rest of the pytest process, whose tests run no async code of their own.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# The sandboxes on free ports and a real Celery worker, as the sync engine's tests use them.
from tests.marketplace_sync.conftest import sandboxes, worker  # noqa: F401

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "vi-VN",
}
DESKTOP = {"viewport": {"width": 1366, "height": 900}, "locale": "vi-VN"}
EXPECT_TIMEOUT_MS = 15_000  # what a page must show after an action (the worker's waits set their own)


def missing_browser() -> str | None:
    """Why the end-to-end test cannot run here, or None when it can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (.venv/bin/pip install -r requirements-dev.txt)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install -y --no-install-recommends chromium)"
    return None


def require_browser() -> None:
    """Skip the calling test module when no browser can run, or fail it when E2E_REQUIRED=1."""
    reason = missing_browser()
    if reason is None:
        return
    if os.environ.get("E2E_REQUIRED") == "1":
        pytest.fail(f"E2E_REQUIRED=1 but {reason}", pytrace=False)
    pytest.skip(f"end-to-end test skipped: {reason}", allow_module_level=True)


@pytest.fixture
def e2e_browser():
    """Debian's chromium, headless (no `playwright install`: Playwright's own browsers are not
    downloaded). Named so as not to clash with pytest-playwright's `browser` if it is installed.

    One per test, stopped before the test database is flushed: while Playwright runs, an asyncio
    loop runs in the test thread and Django's connections (asgiref locals) are per context, so
    the flush would use a connection that knows nothing of the serialized test data, and every
    later serialized_rollback test found an empty or doubled database."""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        # The connections the test opened while the loop ran belong to its context: close them
        # here, or the test database cannot be dropped at the end ("accessed by other users").
        connections.close_all()


@pytest.fixture
def artifacts() -> Path:
    """Where the journey's screenshots go: $E2E_ARTIFACTS, by default var/e2e-artifacts/
    (var/ is git-ignored). Emptied of the previous run's screenshots first."""
    folder = Path(os.environ.get("E2E_ARTIFACTS") or Path(settings.BASE_DIR) / "var" / "e2e-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("[0-9][0-9]-*.png"):
        old.unlink()
    return folder
