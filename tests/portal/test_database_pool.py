"""The pool hands out live connections only (a database restart is never seen by a request),
and checking a healthy one costs no round trip (issue 18: an empty query per request)."""

import time

import psycopg
import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'"),
]


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _checkouts(n: int) -> set[int]:
    """Take a connection from the pool n times (a request each), and use it."""
    pids = set()
    for _ in range(n):
        connection.close()
        pids.add(_backend_pid())
    connection.close()
    return pids


def _terminate_all(pids: set[int]) -> None:
    """End those server processes from outside, as a restart does to every one."""
    params = {**connection.get_connection_params(), "autocommit": True}
    with psycopg.connect(**params) as other:
        for pid in pids:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(200):
            left = other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", [list(pids)])
            if left.fetchone() is None:
                return
            time.sleep(0.01)


def test_a_quiet_pooled_connection_is_handed_out_without_a_round_trip(monkeypatch):
    checks = []
    monkeypatch.setattr(
        ConnectionPool, "check_connection", staticmethod(lambda c: checks.append(c) or None)
    )
    connection.close()
    connection.close_pool()  # made again, seeing the check as it is now
    _checkouts(20)
    assert checks == []
    connection.close_pool()


def test_connections_the_server_closed_are_never_handed_out():
    connection.close()
    connection.close_pool()
    pids = _checkouts(20)
    _terminate_all(pids)
    after = _checkouts(20)  # no error: each dead one was dropped, a live one taken
    assert not after & pids
