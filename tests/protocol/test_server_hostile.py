"""Hostile and malformed bodies through the real views: 4xx with a reason, nothing written."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import Device, OtherReading, TelemetrySample
from protocol.models import EndDevice, MirrorMeterReading, MirrorUsagePoint
from protocol.xml import SEP_NS, serialize
from protocol.xml.resources.common import DateTimeInterval, time_type
from protocol.xml.resources.der import DERCapability, DERStatus
from protocol.xml.resources.mirror import MirrorMeterReading as SepMirrorMeterReading
from protocol.xml.resources.mirror import MirrorMeterReadingList, Reading, ReadingType
from protocol.xml.resources.mirror import MirrorUsagePoint as SepMirrorUsagePoint
from protocol.xml.resources.units import active_power
from tests.protocol.sep_world import actor, end_device_body, program_with_group, random_lfdi

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(utility_a):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    lfdi, sfdi = random_lfdi()
    href = agg.http.post_sep("/edev", end_device_body(lfdi, sfdi))["Location"]
    mup = SepMirrorUsagePoint(
        mrid="E" * 32,
        role_flags=0x09,
        service_category_kind=0,
        status=1,
        device_lfdi=lfdi,
        mirror_meter_readings=[
            SepMirrorMeterReading(mrid="F" * 32, reading_type=ReadingType(uom=38))
        ],
    )
    mup_href = agg.http.post_sep("/mup", serialize(mup))["Location"]
    return agg, href, mup_href


def _edev_post(lfdi="AB" * 20, sfdi="1"):
    return (
        f'<EndDevice xmlns="{SEP_NS}"><lFDI>{lfdi}</lFDI><sFDI>{sfdi}</sFDI>'
        f"<changedTime>0</changedTime></EndDevice>"
    ).encode()


XXE = (
    b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<EndDevice xmlns="urn:ieee:std:2030.5:ns"><sFDI>&x;</sFDI>'
    b"<changedTime>0</changedTime></EndDevice>"
)
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    b'<EndDevice xmlns="urn:ieee:std:2030.5:ns"><sFDI>&c;</sFDI></EndDevice>'
)
DEEP = (
    b'<EndDevice xmlns="urn:ieee:std:2030.5:ns">'
    + b"<a>" * 5000
    + b"</a>" * 5000
    + (b"</EndDevice>")
)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (XXE, 400, b""),
        (BOMB, 400, b""),
        (DEEP, 400, b""),
        (b"<EndDevice xmlns='urn:wrong'><sFDI>1</sFDI></EndDevice>", 400, b"namespace"),
        (_edev_post(sfdi="-5"), 400, b"sFDI"),
        (_edev_post(sfdi="99999999999999999999"), 400, b"sFDI"),
        (_edev_post(lfdi="XYZ"), 400, b"lFDI"),
        (b"not xml at all", 400, b""),
    ],
)
def test_hostile_end_device_posts(world, body, status, reason):
    agg, _, _ = world
    before = EndDevice.objects.count()
    response = agg.http.post_sep("/edev", body)
    assert response.status_code == status, response.content
    assert reason in response.content
    assert response.content  # a reason is always given
    assert EndDevice.objects.count() == before


def test_ten_megabytes_is_refused_before_reading(world):
    agg, _, _ = world
    body = b'<EndDevice xmlns="urn:ieee:std:2030.5:ns">' + b" " * (10 * 1024 * 1024)
    response = agg.http.post_sep("/edev", body)
    assert response.status_code == 413
    assert EndDevice.objects.count() == 1


def test_wrong_media_type(world):
    agg, href, _ = world
    response = agg.http.put(f"{href}/der/0/ders", data=b"<x/>", content_type="text/xml")
    assert response.status_code == 415


def _mmr(value, power=0, start=None):
    start = start or time_type(timezone.now() - timedelta(minutes=5))
    return SepMirrorMeterReading(
        mrid="F" * 32,
        reading_type=ReadingType(uom=38, power_of_ten_multiplier=power),
        reading=Reading(value=value, time_period=DateTimeInterval(duration=300, start=start)),
    )


def test_absurd_power_of_ten_is_refused_and_nothing_written(world):
    agg, _, mup_href = world
    good = _mmr(5, start=time_type(timezone.now() - timedelta(minutes=10)))
    absurd = _mmr(5, power=9)  # 5 GW from a home battery
    absurd.mrid = "1" * 32
    body = MirrorMeterReadingList(all=2, results=2, mirror_meter_readings=[good, absurd])
    response = agg.http.post_sep(mup_href, serialize(body))
    assert response.status_code == 400
    assert b"refused" in response.content
    assert TelemetrySample.objects.count() == 0
    # The ReadingType declared in the refused request is not kept either.
    assert not MirrorMeterReading.objects.filter(mrid="1" * 32).exists()


def test_power_of_ten_outside_the_schema_is_refused(world):
    agg, _, mup_href = world
    body = serialize(_mmr(5)).replace(
        b"<powerOfTenMultiplier>0</powerOfTenMultiplier>",
        b"<powerOfTenMultiplier>99</powerOfTenMultiplier>",
    )
    response = agg.http.post_sep(mup_href, body)
    assert response.status_code == 400
    assert b"powerOfTenMultiplier" in response.content
    assert TelemetrySample.objects.count() == 0


def test_future_reading_is_refused_and_an_unmodelled_uom_is_kept(world):
    agg, _, mup_href = world
    future = _mmr(5, start=time_type(timezone.now() + timedelta(days=1)))
    assert agg.http.post_sep(mup_href, serialize(future)).status_code == 400
    # A valid ReadingType no telemetry series models (uom 5, A) is kept, not refused.
    odd = _mmr(5)
    odd.reading_type.uom = 5
    assert agg.http.post_sep(mup_href, serialize(odd)).status_code == 201
    assert TelemetrySample.objects.count() == 0
    assert OtherReading.objects.get().unit == "A"
    future.reading_type.uom = 5
    assert agg.http.post_sep(mup_href, serialize(future)).status_code == 400
    assert OtherReading.objects.count() == 1


def test_reading_for_an_undeclared_quantity_is_refused(world):
    agg, _, mup_href = world
    mmr = _mmr(5)
    mmr.mrid = "2" * 32
    mmr.reading_type = None
    response = agg.http.post_sep(mup_href, serialize(mmr))
    assert response.status_code == 400 and b"ReadingType" in response.content


def test_out_of_range_values_in_der_resources(world):
    agg, href, _ = world
    device = Device.objects.get()
    huge = DERCapability(modes_supported=1, rtg_max_w=active_power(9000), type=83)
    huge.rtg_max_w.multiplier = 9
    response = agg.http.put_sep(f"{href}/der/0/dercap", serialize(huge))
    assert response.status_code == 400 and b"out of range" in response.content
    body = serialize(DERStatus(reading_time=0)).replace(
        b"<readingTime>0</readingTime>",
        b"<readingTime>0</readingTime><stateOfChargeStatus><dateTime>0</dateTime>"
        b"<value>10001</value></stateOfChargeStatus>",
    )
    response = agg.http.put_sep(f"{href}/der/0/ders", body)
    assert response.status_code == 400
    far = serialize(DERStatus(reading_time=2**62))
    assert agg.http.put_sep(f"{href}/der/0/ders", far).status_code == 400
    device.refresh_from_db()
    assert device.rtg_max_discharge_rate_w is None and device.status_at is None
    assert EndDevice.objects.get().reported == {}


def test_mirror_for_someone_elses_device_is_forbidden(world, utility_a):
    other = actor(utility_a, name="other")
    lfdi = EndDevice.objects.get().lfdi
    mup = SepMirrorUsagePoint(
        mrid="9" * 32, role_flags=1, service_category_kind=0, status=1, device_lfdi=lfdi
    )
    assert other.http.post_sep("/mup", serialize(mup)).status_code == 403
    assert MirrorUsagePoint.objects.count() == 1
