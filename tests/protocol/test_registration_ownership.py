"""Who may register an EndDevice: an aggregator cannot borrow another's device or become one.

Both tests failed on main: aggregator B's POST of A's device answered 409 (not 403), and an
aggregator's own LFDI got 201 with a fleet Device "2030.5 / unidentified".
"""

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from devices.models import Device, TelemetrySample
from protocol import pki
from protocol.models import (
    Client,
    ControlResponse,
    EndDevice,
    MirrorMeterReading,
    MirrorUsagePoint,
)
from protocol.services import end_device_preregister
from tests import factories
from tests.protocol.client import SepClient
from tests.protocol.sep_world import (
    actor,
    end_device_body,
    enrolled_end_device,
    identity,
    program_with_group,
    random_lfdi,
)

pytestmark = pytest.mark.django_db


def _state(end_device):
    end_device.refresh_from_db()
    return (end_device.registered_by_id, end_device.device_id, end_device.changed_time)


def _readings_and_responses(end_device):
    """A's device has posted a reading and answered a control."""
    utility = end_device.utility
    mup = MirrorUsagePoint.objects.create(
        utility=utility, end_device=end_device, mrid="1" * 32, description="Site"
    )
    MirrorMeterReading.objects.create(
        utility=utility, mirror_usage_point=mup, mrid="2" * 32, channel="w", uom=38
    )
    TelemetrySample.objects.create(
        utility=utility, device=end_device.device, at=timezone.now(), channel="w", value=1500
    )
    ControlResponse.objects.create(
        utility=utility,
        event=factories.event(utility),
        end_device=end_device,
        status=1,
        created_at=timezone.now(),
    )


def _everything(end_device):
    """The EndDevice and all that hangs off it, and the row counts around it."""
    return (
        _state(end_device),
        EndDevice.objects.count(),
        Device.objects.count(),
        list(MirrorUsagePoint.objects.values_list("pk", "end_device_id", "mrid")),
        list(MirrorMeterReading.objects.values_list("pk", "mirror_usage_point_id", "mrid")),
        list(TelemetrySample.objects.values_list("pk", "device_id", "value")),
        list(ControlResponse.objects.values_list("pk", "end_device_id", "status")),
    )


def test_another_aggregators_device_is_403_and_nothing_changes(utility_a):
    program, _ = program_with_group(utility_a)
    a = actor(utility_a, program=program, name="A")
    b = actor(utility_a, program=program, name="B")
    owned = enrolled_end_device(utility_a, client=a.client, program=program)
    _readings_and_responses(owned)
    before = _everything(owned)
    response = b.http.post_sep("/edev", end_device_body(owned.lfdi, owned.sfdi))
    assert response.status_code == 403, response.content
    assert _everything(owned) == before
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


# --- A fleet Device with no EndDevice yet (issue 16: "claim only what is yours") -----------
# On main every aggregator of the utility could claim such a device by POSTing its LFDI.


def _vendor_aggregator(utility, program, organization):
    """An aggregator whose certificate the vendor portal issued to `organization`."""
    from vendors.certificates import certificate_issue

    application = factories.vendor_application(utility, organization=organization)
    issued = certificate_issue(application=application)
    client = Client.objects.get(lfdi=issued.certificate.lfdi)
    client.program = program
    client.save(update_fields=["program"])
    cert = x509.load_pem_x509_certificate(issued.certificate.pem.encode())
    key = serialization.load_pem_private_key(issued.key_pem.encode(), password=None)
    return SepClient(pki.Issued(cert, key)), client


def _fleet_device(utility, program, *, organization=None):
    """A device in the fleet (telemetry and all), enrolled through `organization`'s product."""
    lfdi, sfdi = random_lfdi()
    device = factories.device(utility, lfdi=lfdi, sfdi=sfdi, soc_pct=55.0)
    factories.telemetry_sample(utility)
    if organization is not None:
        product = factories.product_model(organization)
        factories.enrollment(
            utility,
            program=program,
            device=device,
            vendor_name=product.vendor_name,
            model_name=product.model_name,
            state="active",
        )
    return device


def _fleet_state(device):
    device.refresh_from_db()
    return (
        EndDevice.objects.count(),
        Device.objects.count(),
        TelemetrySample.objects.count(),
        MirrorMeterReading.objects.count(),
        device.soc_pct,
        device.vendor_name,
        device.serial,
    )


def test_a_fleet_device_enrolled_through_no_one_cannot_be_claimed(utility_a):
    program, _ = program_with_group(utility_a)
    b = actor(utility_a, program=program, name="B")
    device = _fleet_device(utility_a, program)
    before = _fleet_state(device)
    response = b.http.post_sep("/edev", end_device_body(device.lfdi, device.sfdi))
    assert response.status_code == 403, response.content
    assert _fleet_state(device) == before


def test_a_device_enrolled_through_another_vendor_cannot_be_claimed(utility_a):
    program, _ = program_with_group(utility_a)
    vendor_a, vendor_b = factories.vendor_organization("A"), factories.vendor_organization("B")
    http_b, _ = _vendor_aggregator(utility_a, program, vendor_b)
    device = _fleet_device(utility_a, program, organization=vendor_a)
    before = _fleet_state(device)
    response = http_b.post_sep("/edev", end_device_body(device.lfdi, device.sfdi))
    assert response.status_code == 403, response.content
    assert _fleet_state(device) == before


def test_a_device_enrolled_through_the_aggregators_own_vendor_is_claimed(utility_a):
    program, _ = program_with_group(utility_a)
    vendor = factories.vendor_organization("A")
    http, client = _vendor_aggregator(utility_a, program, vendor)
    device = _fleet_device(utility_a, program, organization=vendor)
    response = http.post_sep("/edev", end_device_body(device.lfdi, device.sfdi))
    assert response.status_code == 201, response.content
    end_device = EndDevice.objects.get(lfdi=device.lfdi)
    assert (end_device.device_id, end_device.registered_by_id) == (device.pk, client.pk)


def test_a_device_pre_registered_for_the_aggregator_is_its_own(utility_a):
    program, _ = program_with_group(utility_a)
    a = actor(utility_a, program=program, name="A")
    b = actor(utility_a, program=program, name="B")
    device = _fleet_device(utility_a, program)
    end_device = end_device_preregister(
        utility=utility_a, lfdi=device.lfdi, sfdi=device.sfdi, pin=111115, device=device,
        registered_by=a.client,
    )  # fmt: skip
    # A finds it in its list (its POST is a duplicate); B may neither claim nor see it.
    assert a.http.post_sep("/edev", end_device_body(device.lfdi, device.sfdi)).status_code == 409
    assert a.http.get(f"/edev/{end_device.pk}").status_code == 200
    assert b.http.post_sep("/edev", end_device_body(device.lfdi, device.sfdi)).status_code == 403
    assert b.http.get(f"/edev/{end_device.pk}").status_code == 404


def test_an_unknown_lfdi_is_created_and_a_device_certificate_registers_itself(utility_a):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    lfdi, sfdi = random_lfdi()
    assert agg.http.post_sep("/edev", end_device_body(lfdi, sfdi)).status_code == 201
    assert Device.objects.filter(lfdi=lfdi).exists()
    # A device certificate whose battery the utility already lists claims itself.
    own = actor(utility_a, kind="device", program=program)
    ident = identity(own.cert)
    device = factories.device(utility_a, lfdi=ident.lfdi, sfdi=ident.sfdi)
    response = own.http.post_sep("/edev", end_device_body(ident.lfdi, ident.sfdi))
    assert response.status_code == 201, response.content
    assert EndDevice.objects.get(lfdi=ident.lfdi).device_id == device.pk
