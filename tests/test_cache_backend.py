"""The Redis cache backend reuses its client (config/cache.py); it must still be a cache."""

import os

import pytest
from django.core.cache.backends.redis import RedisCache

from config.cache import ReusingRedisCache

REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (CI sets it)")
def test_the_reusing_backend_stores_counts_and_shares_one_client():
    cache = ReusingRedisCache(REDIS_URL, {"KEY_PREFIX": "ocop-test-backend"})
    cache.set("page", b"<html>", 30)
    cache.set("version", 41, None)
    cache.incr("version")

    assert cache.get("page") == b"<html>" and cache.get("version") == 42
    assert cache._cache.get_client() is cache._cache.get_client(write=True)  # one server: one client
    plain = RedisCache(REDIS_URL, {})  # why the subclass exists: Django builds a client per call
    assert plain._cache.get_client() is not plain._cache.get_client()
    cache.delete_many(["page", "version"])
