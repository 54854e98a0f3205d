"""Every valid ReadingType is accepted: modelled quantities go to telemetry, the rest are kept
as other readings and shown on the device page (issue 23)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from devices.models import OtherReading, TelemetrySample
from protocol.xml import serialize
from protocol.xml.resources.common import DateTimeInterval, time_type
from protocol.xml.resources.mirror import MirrorMeterReading, MirrorUsagePoint, Reading, ReadingType
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

pytestmark = pytest.mark.django_db

# (mRID suffix, description, uom, powerOfTenMultiplier, value)
QUANTITIES = [
    ("1", "DER W", 38, 0, 2500),
    ("2", "PF", 65, -3, 950),
    ("3", "VA", 61, 0, 2630),
    ("4", "A", 5, -1, 112),
    ("5", "Rogue", 200, 0, 7),
]


def _mup(lfdi, at, *, value=True):
    return MirrorUsagePoint(
        mrid="A" * 31 + "1",
        role_flags=0x09,
        service_category_kind=0,
        status=1,
        device_lfdi=lfdi,
        mirror_meter_readings=[
            MirrorMeterReading(
                mrid="B" * 31 + suffix,
                description=description,
                reading_type=ReadingType(uom=uom, power_of_ten_multiplier=p10, kind=37),
                reading=Reading(
                    value=v if value else None,
                    time_period=DateTimeInterval(duration=300, start=at),
                ),
            )
            for suffix, description, uom, p10, v in QUANTITIES
        ],
    )


def test_a_full_system_upload_is_stored_whole(utility_a, client_a):
    # Failed before issue 23: 400 "ReadingType uom 65 is not one this server mirrors",
    # and nothing of the upload was stored.
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    at = time_type(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5))
    created = agg.http.post_sep("/mup", serialize(_mup(ed.lfdi, at)))
    assert created.status_code == 201, created.content
    assert list(
        TelemetrySample.objects.filter(device=ed.device).values_list("channel", "value")
    ) == [("w", 2500.0)]
    others = dict(OtherReading.objects.filter(device=ed.device).values_list("quantity", "value"))
    assert others == {
        "Power factor (PF)": pytest.approx(0.95),
        "Apparent power (VA)": 2630.0,
        "Current (A)": pytest.approx(11.2),
        "uom 200 (Rogue)": 7.0,
    }
    page = client_a.get(reverse("devices:device-detail", args=[ed.device_id])).content.decode()
    assert "Other readings" in page and "Power factor (PF)" in page and "cos θ" in page


def test_an_invalid_reading_still_refuses_the_whole_upload(utility_a):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    at = time_type(datetime.now(UTC) + timedelta(days=1))  # from the future
    refused = agg.http.post_sep("/mup", serialize(_mup(ed.lfdi, at)))
    assert refused.status_code == 400
    assert not OtherReading.objects.exists() and not TelemetrySample.objects.exists()


def test_a_post_of_readings_reads_its_mirror_and_quantities_at_once(
    utility_a, django_assert_max_num_queries
):
    """The usual post, readings of a known quantity: the mirror and its quantities come in
    one query (they were two), then the ingest (issue 18)."""
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    created = agg.http.post_sep("/mup", serialize(_mup(ed.lfdi, time_type(at))))
    href = created["Location"]
    readings = MirrorMeterReading(
        mrid="B" * 31 + "1",
        reading=Reading(
            value=2600, time_period=DateTimeInterval(duration=60, start=time_type(at) + 60)
        ),
    )
    # The client (the first post's writes moved the identity cache's token), the mirror and
    # its quantities; the ingest's lock and insert (on SQLite the pending hours and the
    # live state apart); the savepoints of three atomic blocks (this test runs in a
    # transaction). It was 11 and 13 with the mirror and its quantities read apart.
    bound = 10 if connection.vendor == "postgresql" else 12
    with django_assert_max_num_queries(bound):
        posted = agg.http.post_sep(href, serialize(readings))
    assert posted.status_code == 201, posted.content
    assert TelemetrySample.objects.filter(device=ed.device, value=2600).exists()
