"""Who may register an EndDevice: an aggregator cannot borrow another's device or become one.

Both tests failed on main: aggregator B's POST of A's device answered 409 (not 403), and an
aggregator's own LFDI got 201 with a fleet Device "2030.5 / unidentified".
"""

import pytest

from devices.models import Device
from protocol.models import EndDevice
from tests.protocol.sep_world import (
    actor,
    end_device_body,
    enrolled_end_device,
    identity,
    program_with_group,
)

pytestmark = pytest.mark.django_db


def _state(end_device):
    end_device.refresh_from_db()
    return (end_device.registered_by_id, end_device.device_id, end_device.changed_time)


def test_another_aggregators_device_is_403_and_nothing_changes(utility_a):
    program, _ = program_with_group(utility_a)
    a = actor(utility_a, program=program, name="A")
    b = actor(utility_a, program=program, name="B")
    owned = enrolled_end_device(utility_a, client=a.client, program=program)
    before = (_state(owned), EndDevice.objects.count(), Device.objects.count())
    response = b.http.post_sep("/edev", end_device_body(owned.lfdi, owned.sfdi))
    assert response.status_code == 403, response.content
    assert (_state(owned), EndDevice.objects.count(), Device.objects.count()) == before
    # B sees nothing of it either.
    assert b.http.get(f"/edev/{owned.pk}").status_code == 404


def test_a_genuine_duplicate_is_409(utility_a):
    program, _ = program_with_group(utility_a)
    a = actor(utility_a, program=program, name="A")
    owned = enrolled_end_device(utility_a, client=a.client, program=program)
    response = a.http.post_sep("/edev", end_device_body(owned.lfdi, owned.sfdi))
    assert response.status_code == 409


def test_an_aggregators_own_identity_is_not_a_battery(utility_a):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    own = identity(agg.cert)
    devices_before = Device.objects.count()
    response = agg.http.post_sep("/edev", end_device_body(own.lfdi, own.sfdi))
    assert response.status_code == 201
    end_device = EndDevice.objects.get(lfdi=own.lfdi)
    assert end_device.device_id is None
    assert Device.objects.count() == devices_before  # never in the fleet, KPIs or dispatch


def test_another_clients_identity_cannot_be_registered(utility_a):
    program, _ = program_with_group(utility_a)
    a = actor(utility_a, program=program, name="A")
    b = actor(utility_a, program=program, name="B")
    other = identity(a.cert)
    response = b.http.post_sep("/edev", end_device_body(other.lfdi, other.sfdi))
    assert response.status_code == 403
    assert not EndDevice.objects.filter(lfdi=other.lfdi).exists()
    assert not Device.objects.filter(lfdi=other.lfdi).exists()
