"""Django's Redis cache shares one connection pool per process across threads.

Django gives every thread its own cache backend. Under ASGI, each request's sync code runs
in a thread of its own (asgiref's ThreadSensitiveContext), so with Django's default pool
each 2030.5 write opened a new Redis connection for the live view's dirty mark: a
connect per request, and 13 % of a DERStatus PUT's CPU in the listener.
"""

import os
import threading

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="the Redis cache is configured by REDIS_URL"
)


def connections_received() -> int:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        return client.info("stats")["total_connections_received"]
    finally:
        client.close()


def test_a_cache_write_from_each_of_many_threads_reuses_the_process_pool():
    cache.set("pool-test:warm", 1)  # this thread's first use may open the pool's connection
    before = connections_received()

    def write(n: int) -> None:
        cache.set(f"pool-test:{n}", n, timeout=60)

    for n in range(20):  # one after another, as requests in their own threads
        thread = threading.Thread(target=write, args=(n,))
        thread.start()
        thread.join()

    # Our own count opens one connection; other processes on the server may open a few.
    assert connections_received() - before <= 4
    assert cache.get_many([f"pool-test:{n}" for n in range(20)]) == {
        f"pool-test:{n}": n for n in range(20)
    }
