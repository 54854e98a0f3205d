"""A program manager attaches a device registered over 2030.5 (which sent no
DeviceInformation, so vendor and serial match nothing) to an approved enrollment by its
LFDI or SFDI, in the portal and through /api/v1 (issue 23 item 7)."""

import secrets

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from enrollment import services
from enrollment.choices import EnrollmentState as S
from enrollment.models import Enrollment
from programs.services import participant_add
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for
from tests.enrollment.conftest import make_setup, submit

pytestmark = pytest.mark.django_db


def registered_device(utility, **fields):
    """A fleet device as a 2030.5 registration without DeviceInformation leaves it."""
    lfdi = secrets.token_hex(20).upper()
    defaults = {"vendor_name": "2030.5", "model_name": "unidentified", "serial": lfdi}
    return factories.device(
        utility, lfdi=lfdi, sfdi=int(lfdi[:9], 16) * 10 + 7, **{**defaults, **fields}
    )


def approved(setup):
    enrollment = submit(setup)
    return services.enrollment_approve(enrollment=enrollment, actor=setup.manager, reason="")


def unchanged(enrollment) -> bool:
    fresh = Enrollment.objects.get(pk=enrollment.pk)
    return fresh.state == S.APPROVED and fresh.device_id is None


def test_portal_attaches_by_lfdi_and_verifies_telemetry(client, setup):
    enrollment = approved(setup)
    assert services.device_for(enrollment=enrollment) is None  # vendor and serial cannot
    device = registered_device(setup.utility, soc_pct=60, power_w=100, last_heard_at=timezone.now())
    client.force_login(setup.manager)
    page = client.get(f"/enrollments/{enrollment.pk}/").content.decode()
    assert "Attach a registered device" in page
    response = client.post(
        f"/enrollments/{enrollment.pk}/attach-device/", {"identity": device.lfdi.lower()}
    )
    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.device == device
    # Its readings were fresh and plausible: linked, verified and active in one go.
    assert enrollment.state == S.ACTIVE
    assert setup.program.participants.filter(device=device, left_at__isnull=True).exists()


def test_api_attaches_by_sfdi(setup):
    enrollment = approved(setup)
    device = registered_device(setup.utility)
    api = api_client_for(setup.manager)
    response = api.post(
        f"/api/v1/enrollments/{enrollment.pk}/attach-device/",
        {"identity": str(device.sfdi)},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["device"] == device.pk
    assert response.json()["state"] == S.DEVICE_LINKED  # never heard from: not verified yet


def test_api_refusals_say_why_and_change_nothing(setup, utility_b):
    enrollment = approved(setup)
    api = api_client_for(setup.manager)
    url = f"/api/v1/enrollments/{enrollment.pk}/attach-device/"
    foreign = registered_device(utility_b)
    elsewhere = registered_device(setup.utility)
    participant_add(program=factories.program(setup.utility, "other "), device=elsewhere)
    taken = registered_device(setup.utility)
    holder = approved(setup)
    services.enrollment_attach_device(enrollment=holder, identity=taken.lfdi, actor=None)
    unknown = secrets.token_hex(20).upper()
    cases = {
        "not-an-identity": "LFDI (40 hexadecimal digits) or its SFDI",
        unknown: f"No device registered with LFDI {unknown} in this utility.",
        # Another utility's device answers exactly like an unknown one.
        foreign.lfdi: f"No device registered with LFDI {foreign.lfdi} in this utility.",
        str(foreign.sfdi): f"No device registered with SFDI {foreign.sfdi} in this utility.",
        elsewhere.lfdi: "already takes part in",
        taken.lfdi: f"already attached to enrollment #{holder.pk}",
    }
    for identity, reason in cases.items():
        response = api.post(url, {"identity": identity}, format="json")
        assert response.status_code == 409, (identity, response.content)
        assert reason in response.json()["detail"], identity
        assert unchanged(enrollment), identity
    assert api.post(url, {}, format="json").status_code == 400
    # Only an approved enrollment takes a device.
    eligible = submit(setup)
    response = api.post(
        f"/api/v1/enrollments/{eligible.pk}/attach-device/",
        {"identity": registered_device(setup.utility).lfdi},
        format="json",
    )
    assert response.status_code == 409
    assert (
        "Only an approved enrollment takes a device; this one is eligible."
        in (response.json()["detail"])
    )
    assert Enrollment.objects.get(pk=eligible.pk).device_id is None


def test_another_utility_s_enrollment_is_not_found(setup, utility_b):
    theirs = approved(make_setup(utility_b, slug="bravo-savers"))
    device = registered_device(setup.utility)
    api = api_client_for(setup.manager)
    response = api.post(
        f"/api/v1/enrollments/{theirs.pk}/attach-device/", {"identity": device.lfdi}, format="json"
    )
    assert response.status_code == 404
    assert unchanged(theirs)


def test_portal_refusal_is_shown_and_only_managers_may_attach(client, setup):
    enrollment = approved(setup)
    client.force_login(setup.manager)
    unknown = secrets.token_hex(20).upper()
    response = client.post(
        f"/enrollments/{enrollment.pk}/attach-device/", {"identity": unknown}, follow=True
    )
    shown = [str(m) for m in get_messages(response.wsgi_request)] + [response.content.decode()]
    assert any(f"No device registered with LFDI {unknown}" in text for text in shown)
    assert unchanged(enrollment)
    analyst = factories.member(setup.utility, Role.ANALYST)
    client.force_login(analyst)
    device = registered_device(setup.utility)
    response = client.post(
        f"/enrollments/{enrollment.pk}/attach-device/", {"identity": device.lfdi}
    )
    assert response.status_code == 403
    assert unchanged(enrollment)
