"""Shared fixtures. Tests build their data through the same services the platform uses."""

import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    # Uploaded files (photos, scans, register files) go to a fresh folder per test.
    settings.MEDIA_ROOT = tmp_path / "media"
