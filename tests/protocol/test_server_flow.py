"""The CSIP client journey through the real views: every body is schema-checked by SepClient."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from devices.models import TelemetrySample
from programs.services import participant_add
from protocol.managers.derp import der_program_mrid
from protocol.models import EndDevice
from protocol.xml import parse, serialize
from protocol.xml.resources.common import DateTimeInterval, time_type
from protocol.xml.resources.dcap import DeviceCapability
from protocol.xml.resources.der import (
    ConnectStatus,
    DERAvailability,
    DERCapability,
    DERList,
    DERSettings,
    DERStatus,
    StateOfChargeStatus,
)
from protocol.xml.resources.derp import DefaultDERControl, DERControlList, DERProgramList
from protocol.xml.resources.edev import DeviceInformation, EndDeviceList, Registration
from protocol.xml.resources.edev import EndDevice as SepEndDevice
from protocol.xml.resources.mirror import (
    MirrorMeterReading,
    MirrorMeterReadingList,
    MirrorReadingSet,
    MirrorUsagePoint,
    MirrorUsagePointList,
    Reading,
    ReadingType,
)
from protocol.xml.resources.time import Time
from protocol.xml.resources.units import WattHour, active_power
from tests import factories
from tests.protocol.sep_world import (
    actor,
    end_device_body,
    location_id,
    program_with_group,
    random_lfdi,
)

pytestmark = pytest.mark.django_db


def test_full_client_flow(utility_a):
    utility_a.timezone = "America/Los_Angeles"
    utility_a.save()
    program, group = program_with_group(utility_a, poll_rate_s=60, default_export_limit_w=3000)
    agg = actor(utility_a, program=program)
    http = agg.http

    dcap = parse(http.get("/dcap").content, DeviceCapability)
    assert dcap.poll_rate == 60
    assert dcap.time_link.href == "/tm"
    assert dcap.end_device_list_link.all == 0

    tm = parse(http.get(dcap.time_link.href).content, Time)
    assert abs(tm.current_time - time_type(timezone.now())) <= 2
    assert tm.tz_offset == -8 * 3600
    in_dst = tm.dst_start_time <= tm.current_time < tm.dst_end_time
    assert tm.dst_offset == (3600 if in_dst else 0)
    assert tm.local_time == tm.current_time + tm.tz_offset + tm.dst_offset
    assert tm.dst_start_time < tm.dst_end_time

    # In-band registration.
    lfdi, sfdi = random_lfdi()
    created = http.post_sep(dcap.end_device_list_link.href, end_device_body(lfdi, sfdi))
    assert created.status_code == 201, created.content
    edev_href = created["Location"]
    end_device = EndDevice.objects.get(pk=location_id(created))
    assert end_device.registered_by == agg.client and end_device.device.lfdi == lfdi

    edevs = parse(http.get("/edev?l=10").content, EndDeviceList)
    assert (edevs.all, edevs.results) == (1, 1)
    edev = parse(http.get(edev_href).content, SepEndDevice)
    assert edev.lfdi == lfdi and edev.sfdi == sfdi
    rg = parse(http.get(edev.registration_link.href).content, Registration)
    assert rg.pin == end_device.pin

    # DeviceInformation puts the real identity on the device.
    di = DeviceInformation(
        lfdi=lfdi,
        mf_date=0,
        mf_hw_ver="1",
        mf_id=37250,
        mf_info="Acme",
        mf_model="PowerCell 10",
        mf_ser_num="SN-42",
        primary_power=0,
        secondary_power=0,
        sw_act_time=0,
        sw_ver="1.0",
    )
    assert http.get(edev.device_information_link.href).status_code == 404
    assert http.put_sep(edev.device_information_link.href, serialize(di)).status_code == 204
    end_device.device.refresh_from_db()
    assert (end_device.device.serial, end_device.device.vendor_name) == ("SN-42", "Acme")
    assert parse(http.get(edev.device_information_link.href).content).mf_ser_num == "SN-42"

    # Once enrolled in the program, the FSA leads to the group's DERProgram.
    participant_add(program=program, device=end_device.device)
    fsal = parse(http.get(edev.function_set_assignments_list_link.href).content)
    fsa = fsal.function_set_assignments[0]
    assert fsa.der_program_list_link.all == 1
    derpl = parse(http.get(fsa.der_program_list_link.href).content, DERProgramList)
    derp = derpl.der_programs[0]
    assert derp.mrid == der_program_mrid(end_device, group) and derp.primacy == program.primacy
    assert parse(http.get(derp.href).content).mrid == derp.mrid
    dderc = parse(http.get(derp.default_der_control_link.href).content, DefaultDERControl)
    # CSIP has no export limit: it is a % of setMaxW, unknown until DERSettings arrives.
    assert dderc.der_control_base.op_mod_max_lim_w is None
    derc = parse(http.get(derp.der_control_list_link.href).content, DERControlList)
    assert derc.all == 0

    # DER resources are stored through the devices services.
    der = parse(http.get(edev.der_list_link.href).content, DERList).ders[0]
    now = time_type(timezone.now())
    bodies = {
        der.der_capability_link.href: DERCapability(
            modes_supported=1,
            rtg_max_charge_rate_w=active_power(5000),
            rtg_max_discharge_rate_w=active_power(5000),
            rtg_max_w=active_power(5000),
            rtg_max_wh=WattHour(multiplier=1, value=1350),
            type=83,
        ),
        der.der_settings_link.href: DERSettings(
            set_grad_w=100,
            set_max_charge_rate_w=active_power(4000),
            set_max_discharge_rate_w=active_power(4500),
            set_max_w=active_power(4500),
            updated_time=now,
        ),
        der.der_status_link.href: DERStatus(
            reading_time=now,
            state_of_charge_status=StateOfChargeStatus(date_time=now, value=6550),
            stor_connect_status=ConnectStatus(date_time=now, value=7),
        ),
        der.der_availability_link.href: DERAvailability(
            reading_time=now, stat_w_avail=active_power(4200), reserve_percent=2000
        ),
    }
    for href, body in bodies.items():
        assert http.get(href).status_code == 404
        response = http.put_sep(href, serialize(body))
        assert response.status_code == 204, (href, response.content)
        assert parse(http.get(href).content, type(body)).href == href
    device = end_device.device
    device.refresh_from_db()
    assert device.rtg_max_discharge_rate_w == 5000 and device.rtg_max_wh == 13500
    assert device.set_max_charge_rate_w == 4000 and device.set_max_discharge_rate_w == 4500
    assert device.soc_pct == 65.5 and device.storage_connect_status == 7
    assert device.stat_w_avail_w == 4200 and device.reserve_pct_avail == 20
    dderc = parse(http.get(derp.default_der_control_link.href).content, DefaultDERControl)
    assert dderc.der_control_base.op_mod_max_lim_w == 6667  # 3000 W of 4500 W

    # A MirrorUsagePoint, then readings at 5-minute simulated intervals.
    mup_body = MirrorUsagePoint(
        mrid="0" * 31 + "1",
        role_flags=0x09,
        service_category_kind=0,
        status=1,
        device_lfdi=lfdi,
        mirror_meter_readings=[
            MirrorMeterReading(
                mrid="0" * 31 + "2",
                description="DER W",
                reading_type=ReadingType(uom=38, power_of_ten_multiplier=3, kind=37),
            )
        ],
    )
    created = http.post_sep("/mup", serialize(mup_body))
    assert created.status_code == 201, created.content
    mup_href = created["Location"]
    again = http.post_sep("/mup", serialize(mup_body))
    assert (again.status_code, again["Location"]) == (204, mup_href)
    assert parse(http.get("/mup").content, MirrorUsagePointList).all == 1
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    for i in range(6):
        at = time_type(start + timedelta(minutes=5 * i))
        mmr = MirrorMeterReading(
            mrid="0" * 31 + "2",
            reading=Reading(value=i - 2, time_period=DateTimeInterval(duration=300, start=at)),
        )
        assert http.post_sep(mup_href, serialize(mmr)).status_code == 201
    values = list(
        TelemetrySample.objects.filter(device=device, channel="w")
        .order_by("at")
        .values_list("value", flat=True)
    )
    assert values == [-2000.0, -1000.0, 0.0, 1000.0, 2000.0, 3000.0]
    device.refresh_from_db()
    assert device.power_w == 3000.0


def test_reading_sets_and_lists_in_one_ingest(utility_a):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    lfdi, sfdi = random_lfdi()
    agg.http.post_sep("/edev", end_device_body(lfdi, sfdi))
    device = EndDevice.objects.get(lfdi=lfdi).device
    mup = MirrorUsagePoint(
        mrid="A" * 32, role_flags=0x0B, service_category_kind=0, status=1, device_lfdi=lfdi
    )
    href = agg.http.post_sep("/mup", serialize(mup))["Location"]
    t0 = time_type(timezone.now() - timedelta(hours=1))
    reading_type = ReadingType(uom=38, power_of_ten_multiplier=0)
    site = MirrorMeterReading(
        mrid="B" * 32,
        reading_type=reading_type,
        mirror_reading_sets=[
            MirrorReadingSet(
                mrid="C" * 32,
                time_period=DateTimeInterval(duration=900, start=t0),
                readings=[
                    Reading(value=v, time_period=DateTimeInterval(duration=300, start=t))
                    for v, t in ((100, t0), (200, t0 + 300), (300, t0 + 600))
                ],
            )
        ],
    )
    volts = MirrorMeterReading(
        mrid="D" * 32,
        reading_type=ReadingType(uom=29, power_of_ten_multiplier=-1),
        reading=Reading(value=2405, time_period=DateTimeInterval(duration=0, start=t0)),
    )
    body = MirrorMeterReadingList(all=2, results=2, mirror_meter_readings=[site, volts])
    assert agg.http.post_sep(href, serialize(body)).status_code == 201
    samples = dict(
        TelemetrySample.objects.filter(device=device)
        .values_list("channel", "value")[:10]
        .iterator()
    )
    assert TelemetrySample.objects.filter(device=device, channel="site_w").count() == 3
    assert samples["v"] == pytest.approx(240.5)


def test_device_certificate_registers_itself_and_sees_only_itself(utility_a):
    program, _ = program_with_group(utility_a)
    device = actor(utility_a, "device", program=program)
    other_lfdi, other_sfdi = random_lfdi()
    refused = device.http.post_sep("/edev", end_device_body(other_lfdi, other_sfdi))
    assert refused.status_code == 400
    assert b"only its own LFDI" in refused.content
    created = device.http.post_sep("/edev", end_device_body(device.lfdi, device.client.sfdi))
    assert created.status_code == 201
    again = device.http.post_sep("/edev", end_device_body(device.lfdi, device.client.sfdi))
    assert again.status_code == 409
    assert EndDevice.objects.count() == 1
    listing = parse(device.http.get("/edev?l=5").content, EndDeviceList)
    assert [e.lfdi for e in listing.end_devices] == [device.lfdi]


def test_out_of_band_registration_is_visible_to_the_device(utility_a):
    from protocol.services import end_device_preregister

    device = actor(utility_a, "device")
    fleet_device = factories.device(utility_a)
    end_device = end_device_preregister(
        utility=utility_a,
        lfdi=device.lfdi,
        sfdi=device.client.sfdi,
        pin=54326,  # 5432 and its check digit
        device=fleet_device,
    )
    rg = parse(device.http.get(f"/edev/{end_device.pk}/rg").content, Registration)
    assert rg.pin == 54326


def test_mismatched_sfdi_is_refused(utility_a):
    agg = actor(utility_a)
    lfdi, sfdi = random_lfdi()
    response = agg.http.post_sep("/edev", end_device_body(lfdi, sfdi + 10))
    assert response.status_code == 400
    assert not EndDevice.objects.exists()


@pytest.mark.parametrize(("known", "expected"), [("Known Vendor", "Known Vendor"), ("", "mfID 99")])
def test_device_information_without_mf_info_keeps_a_known_vendor_name(utility_a, known, expected):
    # Regression: the simulated fleet's devices, registered as "Reservoir Sim", became
    # "mfID 99999" in every page and alert once their DeviceInformation (no mfInfo) arrived.
    program, _ = program_with_group(utility_a, poll_rate_s=60)
    agg = actor(utility_a, program=program)
    lfdi, sfdi = random_lfdi()
    created = agg.http.post_sep("/edev", end_device_body(lfdi, sfdi))
    end_device = EndDevice.objects.get(pk=location_id(created))
    end_device.device.vendor_name = known
    end_device.device.save()
    di = DeviceInformation(
        lfdi=lfdi,
        mf_date=0,
        mf_hw_ver="1",
        mf_id=99,
        mf_model="PowerCell 10",
        mf_ser_num="SN-43",
        primary_power=0,
        secondary_power=0,
        sw_act_time=0,
        sw_ver="1.0",
    )
    href = f"{created['Location']}/di"
    assert agg.http.put_sep(href, serialize(di)).status_code == 204
    end_device.device.refresh_from_db()
    assert (end_device.device.serial, end_device.device.vendor_name) == ("SN-43", expected)
