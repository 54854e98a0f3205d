"""Django's PostgreSQL backend, whose pooled connections are checked as they leave the pool
without a round trip while nothing came from the server.

Every request (each in a thread of its own under ASGI) takes a connection from the pool,
and after a database restart the pooled ones are dead: no request should find out. The
pool's own check (CONN_HEALTH_CHECKS) sends an empty query each time, a round trip per
request (issue 18). A connection the server closed (a restart, a terminated backend) has
the server's goodbye or the end of the stream waiting on its socket; an idle healthy one
has nothing. So the socket is polled, and only a connection with something waiting gets
the empty query; one that fails it goes back to the pool, which drops it, and the next
is taken.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


def connection_alive(connection) -> bool:
    """Whether a connection leaving the pool can serve: yes while its socket is quiet,
    else whatever an empty query finds."""
    if connection.closed or connection.broken:
        return False
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        if not poller.poll(0):
            return True
    try:
        ConnectionPool.check_connection(connection)
    except Exception:
        return False
    return True


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        while True:
            connection = super().get_new_connection(conn_params)
            if self.pool is None or connection_alive(connection):
                return connection
            # Dead: closed, the pool discards it (and opens a replacement) as it comes back.
            connection.close()
            self.pool.putconn(connection)
