"""While the database cannot be reached, the portal, its API and the 2030.5 endpoint answer
503 with Retry-After (a client retries later) instead of 500, and they serve again as soon
as it is back, without a restart (issue 20).

The outage is real: the default connection is pointed at an address where no database
listens (PostgreSQL) or a file that cannot be opened (SQLite), so the driver itself fails.
"""

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from devices.models import TelemetrySample
from protocol.xml import serialize
from protocol.xml.resources.common import DateTimeInterval, time_type
from protocol.xml.resources.mirror import MirrorMeterReading, MirrorUsagePoint, Reading, ReadingType
from tests.conftest import api_client_for
from tests.integration.servers import free_port
from tests.protocol.client import SepClient
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def database_away(tmp_path):
    """The default database unreachable for the duration, then restored."""
    original = dict(connection.settings_dict)
    connection.close()
    if getattr(connection, "pool", None) is not None:
        connection.close_pool()
    if connection.vendor == "postgresql":
        options = {**original.get("OPTIONS", {})}
        if "pool" in options:
            options["pool"] = {**options["pool"], "timeout": 1.0}
        options["connect_timeout"] = 1
        away = {"HOST": "127.0.0.1", "PORT": free_port(), "OPTIONS": options}
    else:
        away = {"NAME": str(tmp_path / "no-such-dir" / "db.sqlite3")}
    connection.settings_dict.update(away)
    try:
        yield
    finally:
        connection.close()
        if getattr(connection, "pool", None) is not None:
            connection.close_pool()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)


def _mmr_body(lfdi: str, at: int) -> bytes:
    return serialize(
        MirrorUsagePoint(
            mrid="C" * 32,
            role_flags=0x09,
            service_category_kind=0,
            status=1,
            device_lfdi=lfdi,
            mirror_meter_readings=[
                MirrorMeterReading(
                    mrid="D" * 32,
                    reading_type=ReadingType(uom=38, power_of_ten_multiplier=0, kind=37),
                    reading=Reading(
                        value=1500, time_period=DateTimeInterval(duration=60, start=at)
                    ),
                )
            ],
        )
    )


def _assert_retry_later(response):
    assert response.status_code == 503, response.content[:300]
    assert int(response["Retry-After"]) == settings.DATABASE_UNAVAILABLE_RETRY_AFTER_S >= 1
    assert b"Traceback" not in response.content


def test_portal_page_answers_503_with_retry_after_and_recovers(manager_a, tmp_path):
    browser = Client(raise_request_exception=False)
    browser.force_login(manager_a)
    with database_away(tmp_path):
        response = browser.get(reverse("portal:home"))
        _assert_retry_later(response)
        assert b"try again" in response.content.lower()
    assert browser.get(reverse("portal:home")).status_code == 200


def test_api_answers_503_with_retry_after(manager_a, tmp_path):
    api = api_client_for(manager_a)
    api.raise_request_exception = False
    with database_away(tmp_path):
        response = api.get("/api/v1/programs/")
        _assert_retry_later(response)
        assert response.json()["detail"]


def test_sep2_post_answers_503_with_retry_after_and_the_retry_is_stored(utility_a, tmp_path):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    http = SepClient(agg.cert, raise_request_exception=False)
    body = _mmr_body(ed.lfdi, time_type(datetime.now(UTC) - timedelta(minutes=1)))
    with database_away(tmp_path):
        response = http.post_sep("/mup", body)
        _assert_retry_later(response)
        assert response["Content-Type"].startswith("application/sep+xml")
        assert b"<Error" in response.content
    retried = http.post_sep("/mup", body)
    assert retried.status_code == 201, retried.content
    assert TelemetrySample.objects.filter(device=ed.device).count() == 1
