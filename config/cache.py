"""Django's Redis cache with one client object per connection pool.

Django builds a new `redis.Redis` for every cache call; redis-py 8 sets up its response
callbacks in that constructor, which cost more than the call itself on a cached page (measured
with benchmarks/showcase_load.py). A client is safe to share between threads: it takes a
connection from the pool for each command."""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        clients = self.__dict__.setdefault("_clients", {})
        client = clients.get(id(pool))
        if client is None:
            client = clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
