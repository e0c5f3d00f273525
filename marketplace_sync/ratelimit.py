"""Keeps each shop under its marketplace's request rate, across every worker.

Requests are spaced evenly rather than counted per second: each request reserves the next free
slot, `1 / rate` after the previous one. Evenly spaced requests never exceed the rate in any
one-second window, which is how marketplaces (and our sandboxes) count, so no 429 is earned by
a burst at a window's edge. A small margin absorbs network jitter.

When a marketplace still answers 429 — it allows less than the channel's configured rate, or
other apps share the shop's quota — `slow_down` lowers that shop's rate by a fifth for a minute
(each further 429 lowers it again, down to a twentieth; without 429s it comes back) and keeps
every request back until the marketplace's Retry-After has passed, so retries converge instead
of repeating the same burst.

With Redis (REDIS_URL) the slots live in Redis, shared by all workers on all machines. Without
it (the embedded demo: one worker) they live in this process.
"""

import threading
import time

from django.conf import settings

from .connectors.base import RateLimited

SAFETY_MARGIN = 0.97  # aim at 97% of the allowed rate
MAX_WAIT_SECONDS = 20.0  # beyond this, give the worker back and retry the task later
MIN_FACTOR = 0.05  # never slower than a twentieth of the configured rate
SLOW_DOWN_SECONDS = 60  # how long a 429 keeps a shop slowed down
SLOW_DOWN_FACTOR = 0.8
DEFAULT_PENALTY_SECONDS = 1.0  # when a 429 says nothing about when to retry

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
        self._factors: dict[str, tuple[float, float]] = {}  # key → (factor, until)
        self._lock = threading.Lock()

    def reserve(self, key: str, interval: float) -> float:
        with self._lock:
            now = time.time()
            slot = max(now, self._free.get(key, 0.0))
            self._free[key] = slot + interval
            return slot - now

    def factor(self, key: str) -> float:
        factor, until = self._factors.get(key, (1.0, 0.0))
        return factor if until > time.time() else 1.0

    def slow_down(self, key: str, factor: float, hold_until: float) -> None:
        with self._lock:
            self._factors[key] = (factor, time.time() + SLOW_DOWN_SECONDS)
            self._free[key] = max(self._free.get(key, 0.0), hold_until)


class _RedisSlots:
    def __init__(self, url: str):
        import redis

        self._client = redis.Redis.from_url(url)
        self._script = self._client.register_script(_RESERVE_SCRIPT)

    def reserve(self, key: str, interval: float) -> float:
        return float(self._script(keys=[f"ocop:ratelimit:{key}"], args=[time.time(), interval]))

    def factor(self, key: str) -> float:
        value = self._client.get(f"ocop:ratelimit-factor:{key}")
        return float(value) if value is not None else 1.0

    def slow_down(self, key: str, factor: float, hold_until: float) -> None:
        self._client.set(f"ocop:ratelimit-factor:{key}", factor, ex=SLOW_DOWN_SECONDS)
        slot_key = f"ocop:ratelimit:{key}"
        current = float(self._client.get(slot_key) or 0)
        if hold_until > current:
            self._client.set(slot_key, hold_until, ex=SLOW_DOWN_SECONDS)


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
    slots = _get_slots()
    interval = 1.0 / (requests_per_second * SAFETY_MARGIN * slots.factor(key))
    wait = slots.reserve(key, interval)
    if wait > MAX_WAIT_SECONDS:
        raise RateLimited("our own rate limit for this shop is reached", code="local_rate_limit", retry_after=wait)
    if wait > 0:
        time.sleep(wait)


def slow_down(key: str, retry_after: float | None = None) -> None:
    """The marketplace answered 429 for this shop: slow it down for a while and hold its next
    request until the marketplace's Retry-After (or a second) has passed."""
    slots = _get_slots()
    factor = max(slots.factor(key) * SLOW_DOWN_FACTOR, MIN_FACTOR)
    slots.slow_down(key, factor, time.time() + (retry_after or DEFAULT_PENALTY_SECONDS))
