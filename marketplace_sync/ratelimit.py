"""Keeps each shop under its marketplace's request rate, across every worker.

Requests are spaced evenly rather than counted per second: each request reserves the next free
slot, `1 / rate` after the previous one. Evenly spaced requests never exceed the rate in any
one-second window, which is how marketplaces (and our sandboxes) count, so no 429 is earned by
a burst at a window's edge. A small margin absorbs network jitter.

With Redis (REDIS_URL) the slots live in Redis, shared by all workers on all machines. Without
it (the embedded demo: one worker) they live in this process.
"""

import threading
import time

from django.conf import settings

from .connectors.base import RateLimited

SAFETY_MARGIN = 0.97  # aim at 97% of the allowed rate
MAX_WAIT_SECONDS = 20.0  # beyond this, give the worker back and retry the task later

_RESERVE_SCRIPT = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, free)
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', math.ceil(interval * 1000) + 60000)
return tostring(slot - now)
"""


class _LocalSlots:
    def __init__(self):
        self._free: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, interval: float) -> float:
        with self._lock:
            now = time.time()
            slot = max(now, self._free.get(key, 0.0))
            self._free[key] = slot + interval
            return slot - now


class _RedisSlots:
    def __init__(self, url: str):
        import redis

        self._client = redis.Redis.from_url(url)
        self._script = self._client.register_script(_RESERVE_SCRIPT)

    def reserve(self, key: str, interval: float) -> float:
        return float(self._script(keys=[f"ocop:ratelimit:{key}"], args=[time.time(), interval]))


_slots = None
_slots_lock = threading.Lock()


def _get_slots():
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = _RedisSlots(settings.REDIS_URL) if settings.REDIS_URL else _LocalSlots()
        return _slots


def throttle(key: str, requests_per_second: float) -> None:
    """Block until this shop may send its next request. A wait longer than MAX_WAIT_SECONDS
    raises RateLimited so the task is retried later instead of holding a worker."""
    interval = 1.0 / (requests_per_second * SAFETY_MARGIN)
    wait = _get_slots().reserve(key, interval)
    if wait > MAX_WAIT_SECONDS:
        raise RateLimited("our own rate limit for this shop is reached", code="local_rate_limit", retry_after=wait)
    if wait > 0:
        time.sleep(wait)
