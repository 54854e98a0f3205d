"""DERStatus, DERSettings and DERCapability: every field the schema defines goes in with a
PUT, comes back whole with a GET, and what the device page shows lands on the device."""

import dataclasses

import pytest
from django.utils import timezone

from devices.models import Device
from protocol.xml import parse, serialize
from protocol.xml.resources.common import time_type
from protocol.xml.resources.der import (
    ConnectStatus,
    DERCapability,
    DERSettings,
    DERStatus,
    ManufacturerStatus,
    StateOfChargeStatus,
    StatusValue,
)
from protocol.xml.resources.units import (
    AmpereHour,
    ApparentPower,
    CurrentRMS,
    PowerFactor,
    ReactivePower,
    VoltageRMS,
    WattHour,
    active_power,
)
from tests.protocol.client import SepClient
from tests.protocol.schema import assert_valid_sep
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

pytestmark = pytest.mark.django_db


def full_status(now: int) -> DERStatus:
    return DERStatus(
        alarm_status=0b101,  # over current, under voltage
        gen_connect_status=ConnectStatus(date_time=now - 5, value=0x03),
        inverter_status=StatusValue(date_time=now - 4, value=8),
        local_control_mode_status=StatusValue(date_time=now - 3, value=1),
        manufacturer_status=ManufacturerStatus(date_time=now - 2, value="OK-42"),
        operational_mode_status=StatusValue(date_time=now - 1, value=3),
        reading_time=now,
        state_of_charge_status=StateOfChargeStatus(date_time=now, value=4250),
        storage_mode_status=StatusValue(date_time=now, value=2),
        stor_connect_status=ConnectStatus(date_time=now, value=0x17),
    )


def full_settings(now: int, *, profile: str) -> DERSettings:
    return DERSettings(
        modes_enabled=0x0001_0005,
        set_es_delay=300,
        set_es_high_freq=6010,
        set_es_high_volt=11000,
        set_es_low_freq=5950,
        set_es_low_volt=9170,
        set_es_ramp_tms=3000,
        set_es_random_delay=60,
        set_grad_w=27,
        set_max_a=CurrentRMS(multiplier=0, value=32),
        set_max_ah=AmpereHour(multiplier=0, value=200),
        set_max_charge_rate_va=ApparentPower(multiplier=0, value=5000),
        set_max_charge_rate_w=active_power(4000),
        set_max_discharge_rate_va=ApparentPower(multiplier=0, value=5000),
        set_max_discharge_rate_w=active_power(4500),
        set_max_v=VoltageRMS(multiplier=0, value=253),
        set_max_va=ApparentPower(multiplier=0, value=5000),
        set_max_var=ReactivePower(multiplier=0, value=3000),
        set_max_var_neg=ReactivePower(multiplier=0, value=-3000),
        set_max_w=active_power(4500),
        set_max_wh=WattHour(multiplier=1, value=1350),
        set_min_pf_over_excited=PowerFactor(displacement=90, multiplier=-2),
        set_min_pf_under_excited=PowerFactor(displacement=85, multiplier=-2),
        set_min_v=VoltageRMS(multiplier=0, value=207),
        set_soft_grad_w=10,
        set_v_nom=VoltageRMS(multiplier=0, value=230),
        set_v_ref=VoltageRMS(multiplier=0, value=230),
        set_v_ref_ofs=VoltageRMS(multiplier=0, value=2),
        updated_time=now,
        doe_modes_enabled=0x0B if profile == "csipaus" else None,
    )


def every_field_set(resource) -> None:
    unset = [f.name for f in dataclasses.fields(resource) if getattr(resource, f.name) is None]
    assert unset == ["href", "subscribable"], unset


@pytest.mark.parametrize(
    ("profile", "program_profile"), [("csip", "csip"), ("csipaus", "csip_aus")]
)
def test_status_and_settings_round_trip_every_field(utility_a, profile, program_profile):
    program, _ = program_with_group(utility_a, profile=program_profile)
    agg = actor(utility_a, program=program)
    agg.http = SepClient(agg.cert, profile=profile)
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program)
    now = time_type(timezone.now())
    base = f"/edev/{end_device.pk}/der/0"
    status, settings = full_status(now), full_settings(now, profile=profile)
    every_field_set(status)
    if profile == "csipaus":
        every_field_set(settings)
    for href, body in ((f"{base}/ders", status), (f"{base}/derg", settings)):
        wire = serialize(body, profile=profile)
        assert_valid_sep(wire, profile)
        response = agg.http.put_sep(href, wire)
        assert response.status_code == 204, response.content
        got = parse(agg.http.get(href).content, type(body), profile=profile)
        assert got.href == href
        got.href = None
        assert got == body

    device = Device.objects.get(pk=end_device.device_id)
    assert device.soc_pct == 42.5
    assert device.storage_connect_status == 0x17 and device.gen_connect_status == 0x03
    assert device.operating_mode == "test"
    assert device.alarms == ["over current", "under voltage"]
    assert device.der_status == {
        "inverterStatus": {"value": 8, "dateTime": now - 4},
        "localControlModeStatus": {"value": 1, "dateTime": now - 3},
        "manufacturerStatus": {"value": "OK-42", "dateTime": now - 2},
        "storageModeStatus": {"value": 2, "dateTime": now},
    }
    assert device.set_max_w == 4500 and device.set_max_wh == 13500
    assert device.doe_modes_enabled == (0x0B if profile == "csipaus" else None)
    assert device.der_settings["setGradW"] == 27
    assert device.der_settings["setESHighFreq"] == 6010
    assert device.der_settings["setVNom"] == 230
    assert device.der_settings["setMinPFOverExcited"] == pytest.approx(0.9)
    assert device.der_settings["modesEnabled"] == 0x0001_0005


def test_lexical_hex_as_written_comes_back(utility_a):
    program, _ = program_with_group(utility_a, profile="csip_aus")
    agg = actor(utility_a, program=program)
    agg.http = SepClient(agg.cert, profile="csipaus")
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program)
    now = time_type(timezone.now())
    href = f"/edev/{end_device.pk}/der/0/ders"
    body = (
        f"<DERStatus xmlns='urn:ieee:std:2030.5:ns'><alarmStatus>00000000</alarmStatus>"
        f"<genConnectStatus><dateTime>{now}</dateTime><value>0f</value></genConnectStatus>"
        f"<readingTime>{now}</readingTime></DERStatus>"
    ).encode()
    assert agg.http.put_sep(href, body).status_code == 204
    got = parse(agg.http.get(href).content, DERStatus, profile="csipaus")
    assert got.alarm_status == 0 and got.gen_connect_status.value == 0x0F
    device = Device.objects.get(pk=end_device.device_id)
    assert device.alarms == [] and device.gen_connect_status == 0x0F


def test_capability_keeps_doe_modes_supported(utility_a):
    program, _ = program_with_group(utility_a, profile="csip_aus")
    agg = actor(utility_a, program=program)
    agg.http = SepClient(agg.cert, profile="csipaus")
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program)
    href = f"/edev/{end_device.pk}/der/0/dercap"
    cap = DERCapability(modes_supported=1, rtg_max_w=active_power(5000), type=83)
    # CSIP-AUS 1.2 requires doeModesSupported.
    assert agg.http.put_sep(href, serialize(cap, profile="csip")).status_code == 400
    cap.doe_modes_supported = 0x0F
    assert agg.http.put_sep(href, serialize(cap, profile="csipaus")).status_code == 204
    assert parse(agg.http.get(href).content, profile="csipaus").doe_modes_supported == 0x0F
    assert Device.objects.get(pk=end_device.device_id).doe_modes_supported == 0x0F


def test_a_status_with_a_bad_value_writes_nothing(utility_a):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program)
    now = time_type(timezone.now())
    href = f"/edev/{end_device.pk}/der/0/ders"
    body = (
        f"<DERStatus xmlns='urn:ieee:std:2030.5:ns'><genConnectStatus><dateTime>{now}"
        f"</dateTime><value>1ff</value></genConnectStatus><readingTime>{now}</readingTime>"
        f"</DERStatus>"
    ).encode()
    response = agg.http.put_sep(href, body)
    assert response.status_code == 400 and b"<Error" in response.content
    device = Device.objects.get(pk=end_device.device_id)
    assert device.gen_connect_status is None and device.der_status == {}
    assert agg.http.get(href).status_code == 404
