"""One Redis connection pool per process for Django's cache, shared by every thread.

Django gives each thread its own cache backend, and its Redis client builds a pool per
backend. Under ASGI every request's sync code runs in a thread of its own, so each request
that touched the cache (a 2030.5 write marks the live view dirty) connected to Redis
afresh. redis-py's pools are thread-safe and start over in a forked child, so sharing one
per URL and options is safe; it is named in CACHES' OPTIONS as Django documents
(``pool_class``).
"""

import threading

import redis


class SharedConnectionPool(redis.ConnectionPool):
    _shared: dict[tuple, redis.ConnectionPool] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs):
        key = (url, tuple(sorted((name, repr(value)) for name, value in kwargs.items())))
        with cls._lock:
            pool = cls._shared.get(key)
            if pool is None:
                pool = cls._shared[key] = super().from_url(url, **kwargs)
        return pool
