"""A client writes mirrors only for its own EndDevices (S-ALL-05): a device certificate for
itself, an aggregator for the EndDevices it registered. Another device's LFDI, or an mRID
another EndDevice's mirror already carries, is refused with a 2030.5 Error and nothing is
written (an mRID names one object)."""

import datetime as dt

import pytest

from protocol.models import EndDevice, MirrorMeterReading, MirrorUsagePoint
from protocol.xml import parse, serialize
from protocol.xml.resources.common import Error
from protocol.xml.resources.mirror import MirrorMeterReading as SepMmr
from protocol.xml.resources.mirror import MirrorMeterReadingList, ReadingType
from protocol.xml.resources.mirror import MirrorUsagePoint as SepMup
from tests import factories
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

pytestmark = pytest.mark.django_db

B_MMR = "ABCDEF0123456789ABCDEF0100028547"


def _mup(lfdi: str, mrid: str, mmr_mrids: list[str]) -> bytes:
    return serialize(
        SepMup(
            mrid=mrid,
            role_flags=0x09,
            service_category_kind=0,
            status=1,
            device_lfdi=lfdi,
            mirror_meter_readings=[
                SepMmr(mrid=m, reading_type=ReadingType(uom=38, kind=37)) for m in mmr_mrids
            ],
        )
    )


def _own_end_device(utility, actor_):
    return EndDevice.objects.create(
        utility=utility,
        lfdi=actor_.lfdi,
        sfdi=actor_.client.sfdi,
        pin=1,
        changed_time=dt.datetime.now(dt.UTC),
        device=factories.device(utility),
    )


def _refused(response, status: int) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/sep+xml")
    parse(response.content, Error)


@pytest.fixture
def devices(utility_a):
    a, b = actor(utility_a, "device", name="A"), actor(utility_a, "device", name="B")
    _own_end_device(utility_a, a)
    _own_end_device(utility_a, b)
    assert b.http.post_sep("/mup", _mup(b.lfdi, "B" * 32, [B_MMR])).status_code == 201
    assert a.http.post_sep("/mup", _mup(a.lfdi, "A" * 32, ["A1" * 16])).status_code == 201
    return a, b


def test_a_device_cannot_post_a_mirror_for_another_devices_lfdi(devices):
    a, b = devices
    _refused(a.http.post_sep("/mup", _mup(b.lfdi, "C" * 32, ["C1" * 16])), 403)
    # B's own mirror, re-POSTed by A under B's LFDI: refused, B's roleFlags untouched.
    _refused(a.http.post_sep("/mup", _mup(b.lfdi, "B" * 32, [B_MMR])), 403)
    assert MirrorUsagePoint.objects.count() == 2
    assert MirrorUsagePoint.objects.get(mrid="B" * 32).end_device.lfdi == b.lfdi


def test_a_device_cannot_take_another_devices_reading_mrid(devices):
    # Failed before: A's re-POST of its own mirror declaring B's MirrorMeterReading mRID
    # answered 204 and stored a second quantity under B's mRID.
    a, _ = devices
    for mrid in (B_MMR, B_MMR.lower()):
        _refused(a.http.post_sep("/mup", _mup(a.lfdi, "A" * 32, [mrid])), 403)
        mine = MirrorUsagePoint.objects.get(mrid="A" * 32)
        _refused(a.http.post_sep(f"/mup/{mine.pk}", serialize(_list([mrid]))), 403)
        _refused(a.http.post_sep("/mup", _mup(a.lfdi, "D" * 32, [mrid])), 403)
    assert MirrorMeterReading.objects.filter(mrid__iexact=B_MMR).count() == 1
    assert MirrorUsagePoint.objects.count() == 2


def test_a_device_cannot_take_another_devices_mirror_mrid(devices):
    # Failed before: 201, a second mirror with B's mRID.
    a, _ = devices
    _refused(a.http.post_sep("/mup", _mup(a.lfdi, "B" * 32, ["A2" * 16])), 403)
    assert MirrorUsagePoint.objects.filter(mrid="B" * 32).count() == 1
    assert not MirrorMeterReading.objects.filter(mrid="A2" * 16).exists()


def test_one_clients_two_mirrors_cannot_share_a_reading_mrid(devices):
    a, _ = devices
    _refused(a.http.post_sep("/mup", _mup(a.lfdi, "E" * 32, ["A1" * 16])), 409)
    assert MirrorUsagePoint.objects.count() == 2


def test_an_aggregator_writes_mirrors_only_for_its_own_end_devices(utility_a):
    program, _ = program_with_group(utility_a)
    x, y = actor(utility_a, program=program, name="X"), actor(utility_a, name="Y")
    theirs = enrolled_end_device(utility_a, client=x.client, program=program)
    mine = enrolled_end_device(utility_a, client=y.client, program=program)
    assert x.http.post_sep("/mup", _mup(theirs.lfdi, "1" * 32, ["2" * 32])).status_code == 201
    _refused(y.http.post_sep("/mup", _mup(theirs.lfdi, "3" * 32, ["4" * 32])), 403)
    _refused(y.http.post_sep("/mup", _mup(mine.lfdi, "5" * 32, ["2" * 32])), 403)
    assert y.http.post_sep("/mup", _mup(mine.lfdi, "5" * 32, ["6" * 32])).status_code == 201
    assert sorted(MirrorMeterReading.objects.values_list("mrid", flat=True)) == ["2" * 32, "6" * 32]


def _list(mrids: list[str]) -> MirrorMeterReadingList:
    return MirrorMeterReadingList(
        all=len(mrids),
        results=len(mrids),
        mirror_meter_readings=[
            SepMmr(mrid=m, reading_type=ReadingType(uom=38, kind=37)) for m in mrids
        ],
    )
