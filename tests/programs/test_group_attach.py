"""A program manager attaches a device registered over 2030.5 to a dispatch group by its
LFDI or SFDI, whatever the group's criteria (issue 23 item 7): portal and /api/v1."""

import secrets
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from programs.models import Dispatch, DispatchGroupMember
from programs.selectors import group_devices
from programs.services import event_create, participant_add
from protocol.models import EndDevice
from protocol.selectors import end_device_groups
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def registered_device(utility, **fields):
    """A fleet device as a 2030.5 registration without DeviceInformation leaves it."""
    lfdi = secrets.token_hex(20).upper()
    defaults = {
        "vendor_name": "2030.5",
        "model_name": "unidentified",
        "serial": lfdi,
        "soc_pct": 80,
        "last_heard_at": timezone.now(),
    }
    return factories.device(
        utility, lfdi=lfdi, sfdi=int(lfdi[:9], 16) * 10 + 3, **{**defaults, **fields}
    )


@pytest.fixture
def world(utility_a, manager_a):
    program = factories.program(utility_a, max_events_per_day=None)
    group = factories.dispatch_group(utility_a, prog=program)
    group.vendors = "Acme"  # the criteria cannot select an unidentified device
    group.save()
    device = registered_device(utility_a)
    participant_add(program=program, device=device)
    assert not group_devices(group=group).filter(pk=device.pk).exists()
    return program, group, device, manager_a


def test_api_attaches_by_lfdi_and_the_device_is_planned_and_served(
    world, django_capture_on_commit_callbacks
):
    program, group, device, manager = world
    end_device = EndDevice.objects.create(
        utility=device.utility,
        lfdi=device.lfdi,
        sfdi=device.sfdi,
        device=device,
        pin=11111,
        changed_time=timezone.now(),
    )
    event = event_create(
        program=program,
        group=group,
        kind="discharge",
        start=timezone.now() + timedelta(hours=1),
        duration_s=1800,
        per_device_w=2000,
        setpoint_rule="per_device",
        actor=manager,
    )
    assert not Dispatch.objects.filter(event=event).exists()
    api = api_client_for(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/v1/dispatch-groups/{group.pk}/attach-device/",
            {"identity": device.lfdi.lower()},
            format="json",
        )
    assert response.status_code == 201, response.content
    assert response.json() == {"device": device.pk, "lfdi": device.lfdi, "sfdi": device.sfdi}
    assert group_devices(group=group).filter(pk=device.pk).exists()
    assert [g.pk for g in end_device_groups(end_device=end_device)] == [group.pk]
    # The scheduled event plans it in at once.
    assert Dispatch.objects.get(event=event, device=device).setpoint_w == 2000


def test_api_refusals_say_why_and_change_nothing(world, utility_b, manager_b):
    program, group, device, manager = world
    api = api_client_for(manager)
    url = f"/api/v1/dispatch-groups/{group.pk}/attach-device/"
    outsider = registered_device(group.utility)  # not in the program
    foreign = registered_device(utility_b)
    unknown = secrets.token_hex(20).upper()
    in_group = registered_device(group.utility, vendor_name="Acme")
    participant_add(program=program, device=in_group)
    cases = {
        "12-34": "LFDI (40 hexadecimal digits) or its SFDI",
        unknown: f"No device registered with LFDI {unknown} in this utility.",
        foreign.lfdi: f"No device registered with LFDI {foreign.lfdi} in this utility.",
        str(outsider.sfdi): "does not take part in",
        in_group.lfdi: f"already in the group {group.name}",
    }
    for identity, reason in cases.items():
        response = api.post(url, {"identity": identity}, format="json")
        assert response.status_code == 409, (identity, response.content)
        assert reason in response.json()["detail"], identity
    assert api.post(url, {"identity": ""}, format="json").status_code == 400
    assert not DispatchGroupMember.objects.exists()
    # Attached once; a second time is refused with its reason.
    assert api.post(url, {"identity": device.lfdi}, format="json").status_code == 201
    again = api.post(url, {"identity": str(device.sfdi)}, format="json")
    assert again.status_code == 409 and "already in the group" in again.json()["detail"]
    assert DispatchGroupMember.objects.count() == 1
    # Another utility's manager cannot see the group at all.
    other = api_client_for(manager_b)
    response = other.post(url, {"identity": device.lfdi}, format="json")
    assert response.status_code == 404


def test_portal_form_attaches_and_shows_refusals(client, world, utility_a):
    program, group, device, manager = world
    client.force_login(manager)
    page = client.get(f"/groups/{group.pk}/").content.decode()
    assert "Devices attached by hand" in page and "Attach device" in page
    response = client.post(f"/groups/{group.pk}/attach-device/", {"identity": "nonsense"})
    assert response.status_code == 302
    errors = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("LFDI (40 hexadecimal digits)" in e for e in errors)
    assert not DispatchGroupMember.objects.exists()
    response = client.post(f"/groups/{group.pk}/attach-device/", {"identity": device.lfdi})
    assert response.status_code == 302
    assert DispatchGroupMember.objects.get().device == device
    assert device.lfdi in client.get(f"/groups/{group.pk}/").content.decode()
    analyst = factories.member(utility_a, Role.ANALYST)
    client.force_login(analyst)
    other = registered_device(utility_a)
    participant_add(program=program, device=other)
    response = client.post(f"/groups/{group.pk}/attach-device/", {"identity": other.lfdi})
    assert response.status_code == 403
    assert DispatchGroupMember.objects.count() == 1
