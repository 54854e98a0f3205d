"""The 2030.5 side of /api/v1: clients, EndDevices, mirrors, subscriptions, and dispatch-group
membership. Tenant-scoped (another utility's rows are 404), bad input is 400 with nothing
written, and one client's request never clears or changes another client's resources."""

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from devices.models import Device
from programs.models import Participant
from protocol.identity import client_identity_from_pem, sfdi_from_lfdi
from protocol.models import Client, EndDevice, MirrorUsagePoint, Subscription
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for
from vendors.models import IssuedCertificate

pytestmark = pytest.mark.django_db


BROKEN_PEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"


def csr_pem(key=None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "harness")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def issue(api, kind="aggregator", **extra):
    body = {"csr": csr_pem(), "kind": kind, "name": f"test {kind}", **extra}
    return api.post("/api/v1/sep2/clients/issue/", body, format="json")


def lfdi_pair(marker: int) -> tuple[str, int]:
    lfdi = f"{marker:040X}"
    return lfdi, sfdi_from_lfdi(lfdi)


def good_pin() -> int:
    return 111115  # 11111 and its 2030.5 check digit (digits sum to 10)


# --- clients -------------------------------------------------------------------------------


def test_issue_signs_the_csr_and_registers_its_client(api_a, utility_a):
    program = factories.program(utility_a)
    response = issue(api_a, program=program.pk)
    assert response.status_code == 201, response.content
    body = response.json()
    identity = client_identity_from_pem(body["certificate"])
    client = Client.objects.get(pk=body["client"]["id"])
    assert client.lfdi == identity.lfdi == body["client"]["lfdi"]
    assert client.utility == utility_a and client.program == program and client.kind == "aggregator"
    assert IssuedCertificate.objects.get(lfdi=client.lfdi).application is None
    assert "BEGIN CERTIFICATE" in body["chain"]


@pytest.mark.parametrize(
    "body",
    [
        {"csr": "not a csr", "kind": "aggregator", "name": "x"},
        {"kind": "aggregator", "name": "x"},
        {"csr": "__rsa__", "kind": "aggregator", "name": "x"},
        {"csr": "__ok__", "kind": "gateway", "name": "x"},
        {"csr": "__ok__", "kind": "device", "name": "x", "program": 999999},
    ],
)
def test_issue_refuses_bad_input_and_writes_nothing(api_a, body):
    if body.get("csr") == "__rsa__":
        body["csr"] = csr_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    elif body.get("csr") == "__ok__":
        body["csr"] = csr_pem()
    response = api_a.post("/api/v1/sep2/clients/issue/", body, format="json")
    assert response.status_code == 400, response.content
    assert not Client.objects.exists() and not IssuedCertificate.objects.exists()


def test_issue_refuses_another_utilitys_program(api_a, utility_b):
    other = factories.program(utility_b)
    response = issue(api_a, program=other.pk)
    assert response.status_code == 400
    assert not Client.objects.exists()


def test_register_binds_a_certificate(api_a, utility_a):
    pem = issue(api_a).json()["certificate"]
    Client.objects.all().delete()
    response = api_a.post(
        "/api/v1/sep2/clients/",
        {"certificate": pem, "kind": "device", "name": "Bound"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Client.objects.get().lfdi == client_identity_from_pem(pem).lfdi
    again = api_a.post(
        "/api/v1/sep2/clients/",
        {"certificate": pem, "kind": "device", "name": "Bound"},
        format="json",
    )
    assert again.status_code == 400 and Client.objects.count() == 1
    garbage = api_a.post(
        "/api/v1/sep2/clients/",
        {"certificate": BROKEN_PEM, "kind": "device", "name": "x"},
        format="json",
    )
    assert garbage.status_code == 400 and Client.objects.count() == 1


def test_revoke_and_restore(api_a, utility_a):
    client_id = issue(api_a).json()["client"]["id"]
    revoked = api_a.post(f"/api/v1/sep2/clients/{client_id}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    client = Client.objects.get(pk=client_id)
    assert client.revoked and IssuedCertificate.objects.get(lfdi=client.lfdi).revoked
    restored = api_a.post(f"/api/v1/sep2/clients/{client_id}/restore/")
    assert restored.status_code == 200 and restored.json()["revoked"] is False
    client.refresh_from_db()
    assert not client.revoked and not IssuedCertificate.objects.get(lfdi=client.lfdi).revoked


def test_another_utilitys_client_is_404_and_unchanged(api_a, utility_b):
    other = factories.sep_client(utility_b)
    for path in ("revoke/", "restore/", "end-devices/", "clear-mirror-usage-points/", ""):
        method = api_a.get if path in ("end-devices/", "") else api_a.post
        assert method(f"/api/v1/sep2/clients/{other.pk}/{path}").status_code == 404
    assert (
        api_a.patch(f"/api/v1/sep2/clients/{other.pk}/", {"name": "x"}, format="json").status_code
        == 404
    )
    other.refresh_from_db()
    assert not other.revoked and other.name != "x"
    assert other.pk not in [c["id"] for c in api_a.get("/api/v1/sep2/clients/").json()["results"]]


def test_analyst_reads_but_may_not_issue(utility_a):
    analyst = factories.member(utility_a, Role.ANALYST, email="an@alpha.test")
    api = api_client_for(analyst)
    assert api.get("/api/v1/sep2/clients/").status_code == 200
    assert issue(api).status_code == 403
    assert not Client.objects.exists()


# --- EndDevices ----------------------------------------------------------------------------


def test_preregister_with_pin_then_change_pin_and_post_rate(api_a, utility_a):
    client = factories.sep_client(utility_a)
    lfdi, sfdi = lfdi_pair(7)
    response = api_a.post(
        "/api/v1/sep2/end-devices/",
        {"lfdi": lfdi, "sfdi": sfdi, "pin": good_pin(), "client": client.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    end_device = EndDevice.objects.get(pk=response.json()["id"])
    assert end_device.registered_by == client and end_device.pin == good_pin()
    assert end_device.device is not None and end_device.device.lfdi == lfdi
    listed = api_a.get(f"/api/v1/sep2/clients/{client.pk}/end-devices/").json()["results"]
    assert [e["id"] for e in listed] == [end_device.pk]
    changed = api_a.patch(
        f"/api/v1/sep2/end-devices/{end_device.pk}/",
        {"pin": 222220, "post_rate_s": 60},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    end_device.refresh_from_db()
    assert end_device.pin == 222220 and end_device.post_rate_s == 60


@pytest.mark.parametrize(
    "change",
    [
        {"pin": 111111},  # wrong check digit
        {"sfdi": 1},  # not the LFDI's SFDI
        {"lfdi": "XYZ"},
        {"client": 999999},
        {"pin": 1234567},
    ],
)
def test_preregister_refuses_bad_input(api_a, utility_a, change):
    client = factories.sep_client(utility_a)
    lfdi, sfdi = lfdi_pair(8)
    body = {"lfdi": lfdi, "sfdi": sfdi, "pin": good_pin(), "client": client.pk, **change}
    response = api_a.post("/api/v1/sep2/end-devices/", body, format="json")
    assert response.status_code == 400, response.content
    assert not EndDevice.objects.exists() and not Device.objects.exists()


def test_preregister_refuses_a_duplicate_and_a_device_certificate_acting_for_another(
    api_a, utility_a
):
    device_client = factories.sep_client(utility_a, kind="device")
    lfdi, sfdi = lfdi_pair(9)
    body = {"lfdi": lfdi, "sfdi": sfdi, "pin": good_pin(), "client": device_client.pk}
    assert api_a.post("/api/v1/sep2/end-devices/", body, format="json").status_code == 400
    own = {
        "lfdi": device_client.lfdi,
        "sfdi": device_client.sfdi,
        "pin": good_pin(),
        "client": device_client.pk,
    }
    assert api_a.post("/api/v1/sep2/end-devices/", own, format="json").status_code == 201
    assert api_a.post("/api/v1/sep2/end-devices/", own, format="json").status_code == 400
    assert EndDevice.objects.count() == 1


def test_preregister_refuses_another_utilitys_client(api_a, utility_b):
    other = factories.sep_client(utility_b)
    lfdi, sfdi = lfdi_pair(10)
    body = {"lfdi": lfdi, "sfdi": sfdi, "pin": good_pin(), "client": other.pk}
    assert api_a.post("/api/v1/sep2/end-devices/", body, format="json").status_code == 400
    assert not EndDevice.objects.exists()


def test_bad_pin_change_changes_nothing(api_a, utility_a):
    end_device = factories.end_device(utility_a, pin=good_pin())
    for body in ({"pin": 111111}, {}, {"post_rate_s": 0}):
        response = api_a.patch(f"/api/v1/sep2/end-devices/{end_device.pk}/", body, format="json")
        assert response.status_code == 400, body
    end_device.refresh_from_db()
    assert end_device.pin == good_pin() and end_device.post_rate_s is None


def test_delete_keeps_the_device_and_its_history(api_a, utility_a):
    mup = factories.mirror_usage_point(utility_a)
    end_device = mup.end_device
    device = end_device.device
    Subscription.objects.create(
        utility=utility_a,
        end_device=end_device,
        subscribed_resource="/edev/1/derp",
        notification_uri="http://127.0.0.1:9/n",
    )
    response = api_a.delete(f"/api/v1/sep2/end-devices/{end_device.pk}/")
    assert response.status_code == 204
    assert not EndDevice.objects.exists() and not MirrorUsagePoint.objects.exists()
    assert not Subscription.objects.exists()
    assert Device.objects.filter(pk=device.pk).exists()


def test_another_utilitys_end_device_is_404_and_unchanged(api_a, utility_b):
    other = factories.end_device(utility_b, pin=good_pin())
    assert api_a.get(f"/api/v1/sep2/end-devices/{other.pk}/").status_code == 404
    assert (
        api_a.patch(f"/api/v1/sep2/end-devices/{other.pk}/", {"pin": 222220}, format="json")
    ).status_code == 404
    assert api_a.delete(f"/api/v1/sep2/end-devices/{other.pk}/").status_code == 404
    other.refresh_from_db()
    assert other.pin == good_pin()


# --- mirrors and subscriptions ----------------------------------------------------------------


def _mup_for(utility, client):
    end_device = factories.end_device(utility, registered_by=client)
    return MirrorUsagePoint.objects.create(
        utility=utility, end_device=end_device, mrid=f"{end_device.pk:032X}"
    )


def test_clear_mirror_usage_points_touches_only_that_client(api_a, utility_a, utility_b):
    mine, neighbour = factories.sep_client(utility_a), factories.sep_client(utility_a)
    _mup_for(utility_a, mine)
    _mup_for(utility_a, mine)
    kept = _mup_for(utility_a, neighbour)
    elsewhere = _mup_for(utility_b, factories.sep_client(utility_b))
    listed = api_a.get(f"/api/v1/sep2/mirror-usage-points/?client={mine.pk}").json()
    assert listed["count"] == 2
    response = api_a.post(f"/api/v1/sep2/clients/{mine.pk}/clear-mirror-usage-points/")
    assert response.status_code == 200 and response.json() == {"deleted": 2}
    assert set(MirrorUsagePoint.objects.values_list("pk", flat=True)) == {kept.pk, elsewhere.pk}


def test_mirror_usage_point_delete_is_tenant_scoped(api_a, utility_a, utility_b):
    mine = _mup_for(utility_a, factories.sep_client(utility_a))
    other = _mup_for(utility_b, factories.sep_client(utility_b))
    assert api_a.delete(f"/api/v1/sep2/mirror-usage-points/{other.pk}/").status_code == 404
    assert api_a.delete(f"/api/v1/sep2/mirror-usage-points/{mine.pk}/").status_code == 204
    assert list(MirrorUsagePoint.objects.values_list("pk", flat=True)) == [other.pk]
    assert api_a.get("/api/v1/sep2/mirror-usage-points/?client=abc").status_code == 400


def test_subscriptions_list_and_delete_on_a_clients_behalf(api_a, utility_a, utility_b):
    mine = factories.subscription(utility_a)
    other = factories.subscription(utility_b)
    listed = api_a.get("/api/v1/sep2/subscriptions/").json()["results"]
    assert [s["id"] for s in listed] == [mine.pk]
    assert api_a.delete(f"/api/v1/sep2/subscriptions/{other.pk}/").status_code == 404
    assert api_a.delete(f"/api/v1/sep2/subscriptions/{mine.pk}/").status_code == 204
    assert list(Subscription.objects.values_list("pk", flat=True)) == [other.pk]


# --- dispatch-group membership ------------------------------------------------------------------


def test_group_members_add_and_remove(api_a, utility_a):
    program = factories.program(utility_a)
    group = factories.dispatch_group(utility_a, prog=program)
    device = factories.device(utility_a)
    added = api_a.post(
        f"/api/v1/dispatch-groups/{group.pk}/members/", {"device": device.pk}, format="json"
    )
    assert added.status_code == 200, added.content
    assert added.json() == {"devices": [device.pk]}
    assert api_a.get(f"/api/v1/dispatch-groups/{group.pk}/members/").json() == {
        "devices": [device.pk]
    }
    removed = api_a.delete(f"/api/v1/dispatch-groups/{group.pk}/members/{device.pk}/")
    assert removed.status_code == 200 and removed.json() == {"devices": []}
    assert (
        api_a.delete(f"/api/v1/dispatch-groups/{group.pk}/members/{device.pk}/").status_code == 404
    )


def test_group_member_outside_the_criteria_is_refused(api_a, utility_a):
    program = factories.program(utility_a)
    group = factories.dispatch_group(utility_a, prog=program)
    group.states = "ZZ"
    group.save()
    device = factories.device(utility_a)
    response = api_a.post(
        f"/api/v1/dispatch-groups/{group.pk}/members/", {"device": device.pk}, format="json"
    )
    assert response.status_code == 400
    assert not Participant.objects.filter(device=device).exists()


def test_group_members_are_tenant_scoped(api_a, utility_a, utility_b):
    group = factories.dispatch_group(utility_a, prog=factories.program(utility_a))
    foreign_device = factories.device(utility_b)
    response = api_a.post(
        f"/api/v1/dispatch-groups/{group.pk}/members/", {"device": foreign_device.pk}, format="json"
    )
    assert response.status_code == 400
    other_group = factories.dispatch_group(utility_b, prog=factories.program(utility_b))
    mine = factories.device(utility_a)
    assert (
        api_a.post(
            f"/api/v1/dispatch-groups/{other_group.pk}/members/", {"device": mine.pk}, format="json"
        ).status_code
        == 404
    )
    assert not Participant.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sep2/clients/?program=",
        "/api/v1/sep2/mirror-usage-points/?client=",
        "/api/v1/sep2/subscriptions/?end_device=",
        "/api/v1/events/?program=",
    ],
)
def test_an_id_beyond_any_key_lists_nothing(api_a, path):
    # Failed before: an id past a 64-bit key reached the database and answered 500.
    response = api_a.get(path + "9" * 20)
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 0
