"""The 2030.5 listener as deploy/ starts it stores a DERStatus PUT on its lean path
(protocol.fastwrite) and answers it as Django does."""

import http.client
import threading
import time
from urllib.parse import quote, urlparse

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from devices.models import Device, TelemetrySample
from protocol.models import EndDevice
from tests.integration import servers
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group
from tests.protocol.test_fastwrite import status_body

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the lean write is PostgreSQL's"),
]


def put(base: str, path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
    url = urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
    try:
        conn.request("PUT", path, body=body, headers=headers)
        response = conn.getresponse()
        answer = {k.lower(): v for k, v in response.getheaders() if k.lower() != "date"}
        return response.status, answer, response.read()
    finally:
        conn.close()


def blocked_statement(url: str, timeout_s: float = 20) -> str:
    """The text of the statement waiting for a lock in the test database."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            ).fetchone()
            if row:
                return row[0]
            time.sleep(0.05)
    raise AssertionError("no statement waited for the lock")


def test_a_status_put_is_stored_by_the_lean_path(tmp_path, utility_a):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program)
    path = f"/edev/{end_device.pk}/der/0/ders"
    headers = {
        "X-SSL-Client-Cert": quote(agg.cert.cert_pem.decode(), safe=""),
        "X-Reservoir-Proxy-Secret": settings.SEP2_PROXY_SECRET,
        "Content-Type": "application/sep+xml",
    }
    now = int(timezone.now().timestamp()) - 30
    url = servers.test_database_url()
    with servers.sep2_server(servers.subprocess_env(tmp_path), tmp_path / "sep2.log") as base:
        # The first request of a client goes to Django (it learns the client): Django's answer.
        first = put(base, path, headers, status_body(now))
        assert first[0] == 204, first
        # Then the lean path: the same answer. Holding the EndDevice's row shows which
        # statement the listener sent: the lean path's one statement.
        with psycopg.connect(url) as holder:
            holder.execute(
                "SELECT 1 FROM protocol_enddevice WHERE id = %s FOR UPDATE", [end_device.pk]
            )
            answers: list = []
            sender = threading.Thread(
                target=lambda: answers.append(put(base, path, headers, status_body(now + 1)))
            )
            sender.start()
            try:
                assert blocked_statement(url).startswith("WITH ed AS (UPDATE protocol_enddevice")
            finally:
                holder.rollback()
                sender.join(timeout=20)
        assert answers == [first]
        # A bad one still gets Django's error, and writes nothing.
        status, _, body = put(base, path, headers, status_body(now + 2, soc="15000"))
        assert status == 400 and b"<Error" in body
    assert Device.objects.get(pk=end_device.device_id).soc_pct == 50.5
    assert TelemetrySample.objects.filter(device_id=end_device.device_id).count() == 2
    assert "ders" in EndDevice.objects.get(pk=end_device.pk).reported
