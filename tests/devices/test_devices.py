from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import CheckConstraint, Q
from django.http import Http404

from devices.choices import Health, OperatingMode, StorageConnect
from devices.models import Device, TelemetrySample
from devices.selectors import (
    device_by_lfdi,
    device_get,
    device_health,
    device_health_filter,
    device_list,
    fleet_health_counts,
)
from devices.services import (
    FIELD_CHECKED_CONSTRAINTS,
    DeviceStatus,
    _device_fields_clean,
    device_register,
    device_update_availability,
    device_update_identity,
    device_update_ratings,
    device_update_settings,
    device_update_status,
)
from tests.devices.conftest import NOW

LFDI = "3E4F45AB31EDFE5B67E343E5E4562E31984E23E5"


def test_register_normalizes_and_validates(utility):
    device = device_register(
        utility=utility,
        vendor_name=" Acme ",
        model_name="PowerCell 10",
        serial="SN1",
        lfdi=LFDI.lower(),
        sfdi=16726121139,
        state="or",
        zip_code="97201",
    )

    assert (device.vendor_name, device.lfdi, device.state) == ("Acme", LFDI, "OR")
    assert str(device) == "Acme PowerCell 10 #SN1"
    with pytest.raises(ValidationError):
        device_register(utility=utility, vendor_name="Acme", model_name="x", serial="SN1")
    with pytest.raises(ValidationError):
        device_register(
            utility=utility, vendor_name="Acme", model_name="x", serial="SN2", lfdi=LFDI
        )
    with pytest.raises(ValidationError):
        device_register(
            utility=utility, vendor_name="Acme", model_name="x", serial="SN3", lfdi="zz"
        )


def test_devices_without_lfdi_do_not_collide(utility, make_device):
    make_device(lfdi="")
    make_device(lfdi=None)

    assert Device.objects.filter(lfdi__isnull=True).count() == 2


def test_same_serial_and_lfdi_may_exist_in_another_utility(utility, other_utility, make_device):
    make_device(serial="SN1", lfdi=LFDI)

    make_device(utility=other_utility, serial="SN1", lfdi=LFDI)

    assert Device.objects.count() == 2


def test_database_refuses_soc_outside_0_to_100(device):
    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.filter(pk=device.pk).update(soc_pct=101)


def test_for_utility_scopes_devices(utility, other_utility, make_device):
    mine = make_device()
    make_device(utility=other_utility)

    assert list(Device.objects.for_utility(utility)) == [mine]
    assert list(Device.objects.for_utility(None)) == []
    assert device_list(utility=utility) == [mine]
    assert list(TelemetrySample.objects.for_utility(None)) == []


def test_ratings_and_settings_are_replaced(device):
    device_update_ratings(
        device=device, rtg_max_charge_rate_w=5000, rtg_max_discharge_rate_w=5000, rtg_max_wh=13500
    )
    device_update_settings(device=device, set_max_charge_rate_w=3000, set_max_discharge_rate_w=4000)

    device.refresh_from_db()
    assert (device.rtg_max_charge_rate_w, device.rtg_max_wh) == (5000, 13500)
    assert (device.set_max_charge_rate_w, device.set_max_discharge_rate_w) == (3000, 4000)
    assert device.set_max_wh is None


def test_status_updates_state_and_records_soc_as_telemetry(device):
    connected = StorageConnect.CONNECTED | StorageConnect.AVAILABLE | StorageConnect.OPERATING

    device_update_status(
        device=device,
        status=DeviceStatus(
            at=NOW,
            soc_pct=72.5,
            storage_connect_status=connected,
            operating_mode=OperatingMode.OPERATIONAL,
            alarms=["over temperature"],
        ),
    )

    device.refresh_from_db()
    assert device.soc_pct == 72.5
    assert device.storage_connect_status == 7
    assert device.operating_mode == OperatingMode.OPERATIONAL
    assert device.alarms == ["over temperature"]
    assert device.last_heard_at == NOW
    assert TelemetrySample.objects.get().value == 72.5

    # An older status changes nothing; a newer partial one changes only what it names.
    device_update_status(
        device=device, status=DeviceStatus(at=NOW - timedelta(minutes=1), alarms=[])
    )
    device.refresh_from_db()
    assert device.alarms == ["over temperature"]
    device_update_status(
        device=device, status=DeviceStatus(at=NOW + timedelta(seconds=1), alarms=[])
    )
    device.refresh_from_db()
    assert device.alarms == []
    assert device.operating_mode == OperatingMode.OPERATIONAL


def test_a_status_update_runs_no_unique_or_constraint_lookups(
    device, django_assert_max_num_queries
):
    """Only the fields a status sets are validated: no lookups for the device's unique
    serial and LFDI, nor for check constraints on fields it does not set (issue 18)."""
    connected = StorageConnect.CONNECTED | StorageConnect.AVAILABLE
    # SoC sample: lock the device, insert (marking the rollups pending and storing the live
    # state in the same statement on PostgreSQL; SQLite marks and stores in two more); then
    # one conditional UPDATE of the status (no lock and read of the device first), and two
    # savepoints for the two atomic blocks (this test runs inside a transaction of its own).
    with django_assert_max_num_queries(7 if connection.vendor == "postgresql" else 9) as ctx:
        device_update_status(
            device=device, status=DeviceStatus(at=NOW, soc_pct=50, storage_connect_status=connected)
        )
    lookups = [
        q["sql"]
        for q in ctx.captured_queries
        if '_check"' in q["sql"] or q["sql"].startswith('SELECT 1 AS "a" FROM "devices_device"')
    ]
    assert lookups == []


def test_the_status_fields_check_constraints_are_their_choices():
    """The status write validates in Python (no constraint lookups): every check constraint
    on a field a status sets must be one its field's choices already enforce. A new one
    fails here until `_device_fields_clean` learns it."""
    status_fields = {
        "status_at", "storage_connect_status", "operating_mode", "alarms",
        "gen_connect_status", "der_status", "last_heard_at",
    }  # fmt: skip
    checked = {
        constraint.name
        for constraint in Device._meta.constraints
        if isinstance(constraint, CheckConstraint)
        and status_fields & {ref.split("__")[0] for ref, _ in _condition_refs(constraint)}
    }
    assert checked == FIELD_CHECKED_CONSTRAINTS
    mode = Device._meta.get_field("operating_mode")
    assert {value for value, _ in mode.choices} == set(OperatingMode.values)


def _condition_refs(constraint):
    """(lookup, value) pairs of a check constraint's condition, however nested."""
    stack = [constraint.condition]
    while stack:
        node = stack.pop()
        if isinstance(node, Q):
            stack.extend(node.children)
        else:
            yield node


@pytest.mark.parametrize(
    "changes",
    [
        {"operating_mode": "warp"},
        {"storage_connect_status": -1},
        {"gen_connect_status": 70000, "operating_mode": "warp"},
        {"storage_connect_status": "x"},
        {"alarms": {1, 2}},
    ],
)
def test_status_fields_are_refused_as_full_clean_refuses_them(device, changes):
    """The status's Python validation gives the errors full_clean gives for those fields."""
    with pytest.raises(ValidationError) as lean:
        _device_fields_clean(device, {"status_at": NOW, **changes})
    reference = Device.objects.get(pk=device.pk)
    for field, value in changes.items():
        setattr(reference, field, value)
    unchanged = [f.name for f in Device._meta.fields if f.name not in changes]
    with pytest.raises(ValidationError) as full:
        reference.full_clean(exclude=unchanged, validate_unique=False)
    full_errors = {k: v for k, v in full.value.message_dict.items() if k in changes}
    assert lean.value.message_dict == full_errors


def test_a_refused_status_writes_nothing_not_even_its_soc(device):
    with pytest.raises(ValidationError):
        device_update_status(
            device=device, status=DeviceStatus(at=NOW, soc_pct=50, storage_connect_status=-1)
        )

    device.refresh_from_db()
    assert (device.soc_pct, device.status_at, device.storage_connect_status) == (None, None, None)
    assert not TelemetrySample.objects.exists()


def test_a_status_never_moves_last_heard_back(device):
    Device.objects.filter(pk=device.pk).update(last_heard_at=NOW + timedelta(minutes=5))

    device_update_status(device=device, status=DeviceStatus(at=NOW, alarms=["x"]))

    device.refresh_from_db()
    assert device.alarms == ["x"]
    assert device.status_at == NOW
    assert device.last_heard_at == NOW + timedelta(minutes=5)


def test_an_identity_change_is_still_validated_as_unique(utility, device):
    other = Device.objects.create(
        utility=utility,
        vendor_name=device.vendor_name,
        model_name="X",
        serial="OTHER-1",
        max_charge_w=1,
        max_discharge_w=1,
        capacity_wh=1,
    )
    with pytest.raises(ValidationError):
        device_update_identity(
            device=other, serial=device.serial, model_name="X", vendor_name=device.vendor_name
        )


def test_status_refuses_an_unknown_mode(device):
    with pytest.raises(ValidationError):
        device_update_status(device=device, status=DeviceStatus(at=NOW, operating_mode="warp"))


@pytest.mark.parametrize("soc_pct", [101, float("nan")])
def test_status_refuses_an_impossible_soc_and_writes_nothing(device, soc_pct):
    with pytest.raises(ValidationError):
        device_update_status(
            device=device, status=DeviceStatus(at=NOW, soc_pct=soc_pct, alarms=["x"])
        )

    device.refresh_from_db()
    assert (device.soc_pct, device.alarms, device.status_at) == (None, [], None)
    assert not TelemetrySample.objects.exists()


def test_availability_is_replaced_unless_older(device):
    device_update_availability(
        device=device,
        at=NOW,
        stat_w_avail_w=4800,
        availability_duration_s=7200,
        max_charge_duration_s=10800,
        reserve_charge_pct=20,
        reserve_pct_avail=80,
    )
    device_update_availability(device=device, at=NOW - timedelta(hours=1), stat_w_avail_w=1)

    device.refresh_from_db()
    assert (device.stat_w_avail_w, device.availability_duration_s) == (4800, 7200)
    assert (device.reserve_charge_pct, device.reserve_pct_avail) == (20, 80)
    assert device.availability_at == NOW


@pytest.mark.parametrize(
    ("silent_for", "alarms", "expected"),
    [
        (timedelta(minutes=1), [], Health.ONLINE),
        (timedelta(minutes=15), [], Health.STALE),
        (timedelta(minutes=59), [], Health.STALE),
        (timedelta(minutes=60), [], Health.OFFLINE),
        (None, [], Health.OFFLINE),
        (timedelta(minutes=1), ["ground fault"], Health.FAULTED),
    ],
)
def test_health(device, silent_for, alarms, expected):
    device.last_heard_at = None if silent_for is None else NOW - silent_for
    device.alarms = alarms

    assert device_health(device=device, now=NOW) == expected


def test_health_fault_bit_means_faulted(device):
    device.last_heard_at = NOW
    device.storage_connect_status = StorageConnect.CONNECTED | StorageConnect.FAULT

    assert device_health(device=device, now=NOW) == Health.FAULTED


def test_health_thresholds_are_parameters(device):
    device.last_heard_at = NOW - timedelta(minutes=3)

    health = device_health(
        device=device, now=NOW, stale_after=timedelta(minutes=2), offline_after=timedelta(minutes=5)
    )

    assert health == Health.STALE


def test_stale_threshold_comes_from_the_setting(device, utility, settings):
    settings.DEVICE_STALE_AFTER_S = 20
    device.last_heard_at = NOW - timedelta(seconds=30)
    device.save()

    assert device_health(device=device, now=NOW) == Health.STALE
    assert fleet_health_counts(utility=utility, now=NOW)["stale"] == 1
    stale = device_health_filter(Device.objects.all(), health=Health.STALE, now=NOW)
    assert list(stale) == [device]
    settings.DEVICE_STALE_AFTER_S = 60
    assert device_health(device=device, now=NOW) == Health.ONLINE
    assert fleet_health_counts(utility=utility, now=NOW)["online"] == 1
    online = device_health_filter(Device.objects.all(), health=Health.ONLINE, now=NOW)
    assert list(online) == [device]


def test_fleet_health_counts_match_device_health(utility, other_utility, make_device):
    states = [
        (timedelta(minutes=1), [], None),
        (timedelta(minutes=2), [], 7),
        (timedelta(minutes=20), [], None),
        (timedelta(minutes=90), [], None),
        (None, [], None),
        (timedelta(minutes=1), ["ground fault"], None),
        (timedelta(minutes=1), [], StorageConnect.CONNECTED | StorageConnect.FAULT),
        (None, ["stale alarm"], None),
    ]
    devices = []
    for silent_for, alarms, connect in states:
        device = make_device()
        device.last_heard_at = None if silent_for is None else NOW - silent_for
        device.alarms = alarms
        device.storage_connect_status = connect
        device.save()
        devices.append(device)
    make_device(utility=other_utility)

    counts = fleet_health_counts(utility=utility, now=NOW)

    assert counts == {"online": 2, "stale": 1, "offline": 2, "faulted": 3}
    expected = {h: 0 for h in Health.values}
    for device in devices:
        expected[device_health(device=device, now=NOW)] += 1
    assert counts == expected
    assert fleet_health_counts(utility=None, now=NOW) == dict.fromkeys(Health.values, 0)


def test_lookups_are_scoped_to_the_utility(utility, other_utility, make_device):
    mine = make_device(lfdi=LFDI)
    theirs = make_device(utility=other_utility)

    assert device_get(utility=utility, pk=mine.pk) == mine
    with pytest.raises(Http404):
        device_get(utility=utility, pk=theirs.pk)
    assert device_by_lfdi(utility=utility, lfdi=LFDI.lower()) == mine
    assert device_by_lfdi(utility=other_utility, lfdi=LFDI) is None
