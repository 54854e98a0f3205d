"""Vendor portal: sign-up, certificates, runs, and isolation between organisations."""

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.urls import reverse

from enrollment.models import ConformanceRun, IssuedCertificate, VendorMembership
from programs.models import QualifiedEquipment
from protocol.conformance.certificates import certificate_issue
from protocol.conformance.runner import run_create, run_start
from tests import factories
from tests.conftest import api_client_for
from tests.protocol.test_conformance import _csr

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor_a(utility_a):
    org = factories.vendor_organization("Alfa")
    user = factories.vendor_member(org)
    factories.product_model(org, "Alfa")
    program = factories.program(utility_a, status="active")
    from enrollment.services import application_create

    application = application_create(organization=org, program=program)
    return user, application


def test_signup_creates_a_pending_organisation_and_its_admin(client):
    response = client.post(
        reverse("conformance:vendor-signup"),
        {"organization": "Volt Co", "email": "ops@volt.test", "password": "long-enough-pw"},
    )
    assert response.status_code == 302
    membership = VendorMembership.objects.get(user__email="ops@volt.test")
    assert membership.role == "admin" and membership.organization.status == "pending"
    assert client.get(reverse("conformance:vendor-home")).status_code == 200


def test_generated_key_is_shown_once_and_bad_csr_refused_with_reason(client, vendor_a):
    user, application = vendor_a
    client.force_login(user)
    url = reverse("conformance:vendor-certificate", args=[application.pk])
    page = client.post(url, {"kind": "aggregator", "csr": ""})
    assert page.status_code == 200 and b"BEGIN PRIVATE KEY" in page.content
    cert = IssuedCertificate.objects.get(application=application)
    assert cert.lfdi.encode() in page.content and str(cert.sfdi).encode() in page.content
    detail = client.get(reverse("conformance:vendor-application", args=[application.pk]))
    assert b"BEGIN PRIVATE KEY" not in detail.content
    rsa_csr = _csr(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    refused = client.post(url, {"kind": "aggregator", "csr": rsa_csr}, follow=True)
    assert b"RSA" in refused.content and IssuedCertificate.objects.count() == 1


def test_vendor_sees_only_its_own_organisation(client, utility_a, vendor_a):
    user_a, app_a = vendor_a
    certificate_issue(application=app_a)
    run_a = run_start(run=run_create(application=app_a, procedures=["time_sync"]))
    org_b = factories.vendor_organization("Bravo")
    user_b = factories.vendor_member(org_b)
    client.force_login(user_b)
    for name, pk in (
        ("conformance:vendor-application", app_a.pk),
        ("conformance:vendor-run", run_a.pk),
        ("conformance:vendor-run-report", run_a.pk),
    ):
        assert client.get(reverse(name, args=[pk])).status_code == 404, name
    assert (
        client.post(reverse("conformance:vendor-certificate", args=[app_a.pk])).status_code == 404
    )
    assert client.post(reverse("conformance:vendor-run-start", args=[app_a.pk])).status_code == 404
    home = client.get(reverse("conformance:vendor-home"))
    # Programs open for applications are listed to every vendor; A's application is not.
    assert reverse("conformance:vendor-application", args=[app_a.pk]).encode() not in home.content
    # No utility pages for a vendor user.
    for name in ("conformance:application-list", "programs:program-list", "protocol:client-list"):
        assert client.get(reverse(name)).status_code in (403, 404), name
    api = api_client_for(user_b)
    assert api.get("/api/v1/vendor/runs/").json()["results"] == []
    assert api.get(f"/api/v1/vendor/runs/{run_a.pk}/").status_code == 404
    assert api.get(f"/api/v1/vendor/runs/{run_a.pk}/report/").status_code == 404
    started = api.post("/api/v1/vendor/runs/", {"application": app_a.pk}, format="json")
    assert started.status_code == 400
    # Vendor A sees its own.
    api_a = api_client_for(user_a)
    assert [r["id"] for r in api_a.get("/api/v1/vendor/runs/").json()["results"]] == [run_a.pk]
    assert api_a.get(f"/api/v1/vendor/runs/{run_a.pk}/report/").json()["run"] == run_a.pk


def test_vendor_starts_a_run_over_the_api_and_follows_it(client, vendor_a):
    user, application = vendor_a
    certificate_issue(application=application)
    api = api_client_for(user)
    created = api.post(
        "/api/v1/vendor/runs/",
        {"application": application.pk, "procedures": ["time_sync"], "time_scale": 0.01},
        format="json",
    )
    assert created.status_code == 201, created.content
    run = ConformanceRun.objects.get(pk=created.json()["id"])
    assert run.status == "running" and run.procedures == ["time_sync"]
    client.force_login(user)
    partial = client.get(reverse("conformance:vendor-run", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 2s"' in partial.content


def test_manager_approves_a_passing_run(client, utility_a, manager_a, vendor_a):
    _, application = vendor_a
    certificate_issue(application=application)
    run = run_start(run=run_create(application=application, procedures=["time_sync"]))
    client.force_login(manager_a)
    url = reverse("conformance:run-approve", args=[run.pk])
    client.post(url)  # still running: refused
    assert not QualifiedEquipment.objects.filter(program=application.program).exists()
    ConformanceRun.objects.filter(pk=run.pk).update(status="passed")
    assert client.post(url).status_code == 302
    (row,) = QualifiedEquipment.objects.filter(program=application.program)
    assert row.note == f"Proved by conformance run #{run.pk}"
    application.refresh_from_db()
    assert application.approved and application.approved_run_id == run.pk
    page = client.get(reverse("conformance:application-detail", args=[application.pk]))
    assert b"approved" in page.content
