"""Vendor portal: sign-up, certificates, runs, and isolation between organisations."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.urls import reverse

from programs.models import QualifiedEquipment
from protocol.conformance.runner import run_create, run_start
from tests import factories
from tests.conftest import api_client_for
from tests.protocol.test_conformance import _csr, _tampered
from vendors.certificates import certificate_issue
from vendors.models import ConformanceRun, IssuedCertificate, VendorMembership, VendorOrganization

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor_a(utility_a):
    org = factories.vendor_organization("Alfa")
    user = factories.vendor_member(org)
    factories.product_model(org, "Alfa")
    program = factories.program(utility_a, status="active")
    from vendors.services import application_create

    application = application_create(organization=org, program=program)
    return user, application


def test_signup_creates_a_pending_organisation_and_its_admin(client):
    response = client.post(
        reverse("vendors:vendor-signup"),
        {"organization": "Volt Co", "email": "ops@volt.test", "password": "long-enough-pw"},
    )
    assert response.status_code == 302
    membership = VendorMembership.objects.get(user__email="ops@volt.test")
    assert membership.role == "admin" and membership.organization.status == "pending"
    assert client.get(reverse("vendors:vendor-home")).status_code == 200


def test_generated_key_is_shown_once_and_bad_csr_refused_with_reason(client, vendor_a):
    user, application = vendor_a
    client.force_login(user)
    url = reverse("vendors:vendor-certificate", args=[application.pk])
    page = client.post(url, {"kind": "aggregator", "csr": ""})
    assert page.status_code == 200 and b"BEGIN PRIVATE KEY" in page.content
    cert = IssuedCertificate.objects.get(application=application)
    assert cert.lfdi.encode() in page.content and str(cert.sfdi).encode() in page.content
    detail = client.get(reverse("vendors:vendor-application", args=[application.pk]))
    assert b"BEGIN PRIVATE KEY" not in detail.content
    rsa_csr = _csr(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    refused = client.post(url, {"kind": "aggregator", "csr": rsa_csr}, follow=True)
    assert b"RSA" in refused.content and IssuedCertificate.objects.count() == 1
    forged = _tampered(_csr(ec.generate_private_key(ec.SECP256R1())), b"Acme", b"Evil")
    refused = client.post(url, {"kind": "aggregator", "csr": forged}, follow=True)
    assert b"signature does not verify" in refused.content
    assert IssuedCertificate.objects.count() == 1


def test_vendor_sees_only_its_own_organisation(client, utility_a, vendor_a):
    user_a, app_a = vendor_a
    certificate_issue(application=app_a)
    run_a = run_start(run=run_create(application=app_a, procedures=["time_sync"]))
    org_b = factories.vendor_organization("Bravo")
    user_b = factories.vendor_member(org_b)
    client.force_login(user_b)
    for name, pk in (
        ("vendors:vendor-application", app_a.pk),
        ("vendors:vendor-run", run_a.pk),
        ("vendors:vendor-run-report", run_a.pk),
    ):
        assert client.get(reverse(name, args=[pk])).status_code == 404, name
    assert client.post(reverse("vendors:vendor-certificate", args=[app_a.pk])).status_code == 404
    assert client.post(reverse("vendors:vendor-run-start", args=[app_a.pk])).status_code == 404
    home = client.get(reverse("vendors:vendor-home"))
    # Programs open for applications are listed to every vendor; A's application is not.
    assert reverse("vendors:vendor-application", args=[app_a.pk]).encode() not in home.content
    # No utility pages for a vendor user.
    for name in ("vendors:application-list", "programs:program-list", "protocol:client-list"):
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
    partial = client.get(reverse("vendors:vendor-run", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 2s"' in partial.content


def test_manager_approves_a_passing_run(client, utility_a, manager_a, vendor_a):
    _, application = vendor_a
    certificate_issue(application=application)
    run = run_start(run=run_create(application=application, procedures=["time_sync"]))
    client.force_login(manager_a)
    url = reverse("vendors:run-approve", args=[run.pk])
    client.post(url)  # still running: refused
    assert not QualifiedEquipment.objects.filter(program=application.program).exists()
    ConformanceRun.objects.filter(pk=run.pk).update(status="passed")
    assert client.post(url).status_code == 302
    (row,) = QualifiedEquipment.objects.filter(program=application.program)
    assert row.note == f"Proved by conformance run #{run.pk}"
    application.refresh_from_db()
    assert application.approved and application.approved_run_id == run.pk
    page = client.get(reverse("vendors:application-detail", args=[application.pk]))
    assert b"approved" in page.content
    assert b'<strong id="org-status">Approved</strong>' in page.content


# --- operator approval, roles, team, contacts, HTML report, isolation -----------------------


@pytest.fixture(autouse=True)
def _mail_now(monkeypatch):
    from vendors.tasks import vendor_notify

    # The broker is outside these tests; run the queued email task in-process instead.
    monkeypatch.setattr(vendor_notify, "delay", lambda *args: vendor_notify(*args))


@pytest.fixture
def operator(db):
    return factories.user(is_staff=True)


def test_operator_approves_rejects_and_suspends_on_the_platform_page(
    client, operator, utility_a, django_capture_on_commit_callbacks
):
    from django.core import mail

    pending = factories.vendor_organization("Pending", status="pending")
    factories.vendor_member(pending)
    doubtful = factories.vendor_organization("Doubtful", status="pending")
    live = factories.vendor_organization("Live")
    app = factories.vendor_application(utility_a, organization=live)
    cert = certificate_issue(application=app).certificate
    client.force_login(operator)
    page = client.get(reverse("vendors:platform-vendors"))
    assert page.status_code == 200
    for org in (pending, doubtful, live):
        assert org.name.encode() in page.content
    only_pending = client.get(reverse("vendors:platform-vendors") + "?status=pending")
    assert live.name.encode() not in only_pending.content

    def decide(org, **data):
        url = reverse("vendors:platform-vendor-decide", args=[org.pk])
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data, follow=True)

    done = decide(pending, action="approve")
    assert b"is now approved" in done.content
    assert mail.outbox[-1].subject.endswith("is approved on Reservoir")
    refused = decide(doubtful, action="reject", reason="  ")
    assert b"Nothing changed" in refused.content
    doubtful.refresh_from_db()
    assert doubtful.status == "pending"
    decide(doubtful, action="reject", reason="No such company")
    decide(live, action="suspend", reason="Security review")
    assert decide(live, action="teleport").status_code == 200  # bad action: nothing changed
    statuses = dict(VendorOrganization.objects.values_list("name", "status"))
    assert (statuses[pending.name], statuses[doubtful.name], statuses[live.name]) == (
        "approved",
        "rejected",
        "suspended",
    )
    cert.refresh_from_db()
    assert cert.revoked


def test_platform_pages_are_refused_to_vendor_users_and_utility_staff(client, utility_a):
    org = factories.vendor_organization("Org")
    everyone = [
        factories.vendor_member(org, "admin"),
        factories.member(utility_a, "program_manager"),
        factories.member(utility_a, "operator"),
    ]
    for person in everyone:
        client.force_login(person)
        assert client.get(reverse("vendors:platform-vendors")).status_code == 403
        url = reverse("vendors:platform-vendor-decide", args=[org.pk])
        assert client.post(url, {"action": "suspend"}).status_code == 403
    org.refresh_from_db()
    assert org.status == "approved"
    client.logout()
    assert client.get(reverse("vendors:platform-vendors")).status_code == 302


def test_admin_actions_use_the_same_services(client, utility_a, django_capture_on_commit_callbacks):
    admin_user = factories.user(is_staff=True, is_superuser=True)
    org = factories.vendor_organization("Admin", status="pending")
    client.force_login(admin_user)
    url = reverse("admin:vendors_vendororganization_changelist")
    ask = client.post(url, {"action": "reject_organizations", "_selected_action": [org.pk]})
    assert ask.status_code == 200 and b"Reason" in ask.content  # asks for the reason first
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url,
            {
                "action": "reject_organizations",
                "_selected_action": [org.pk],
                "apply": "1",
                "reason": "Duplicate registration",
            },
        )
    org.refresh_from_db()
    assert (org.status, org.status_reason) == ("rejected", "Duplicate registration")


def test_pending_organisation_sees_why_and_gets_no_certificate(client, utility_a):
    org = factories.vendor_organization("Waiting", status="pending")
    user = factories.vendor_member(org)
    application = factories.vendor_application(utility_a, organization=org)
    client.force_login(user)
    page = client.get(reverse("vendors:vendor-application", args=[application.pk]))
    assert b"awaiting approval" in page.content
    assert b"Issue certificate" not in page.content and b"Start a run" not in page.content
    url = reverse("vendors:vendor-certificate", args=[application.pk])
    refused = client.post(url, {"kind": "aggregator", "csr": ""}, follow=True)
    assert b"awaiting approval" in refused.content
    assert not IssuedCertificate.objects.exists()
    api = api_client_for(user)
    started = api.post("/api/v1/vendor/runs/", {"application": application.pk}, format="json")
    assert started.status_code == 400 and "awaiting approval" in started.content.decode()


def test_roles_are_enforced_on_the_pages_and_the_api(client, vendor_a):
    _admin, application = vendor_a
    org = application.organization
    viewer = factories.vendor_member(org, "viewer")
    engineer = factories.vendor_member(org, "engineer")
    cert_url = reverse("vendors:vendor-certificate", args=[application.pk])
    run_url = reverse("vendors:vendor-run-start", args=[application.pk])
    client.force_login(viewer)
    page = client.get(reverse("vendors:vendor-application", args=[application.pk]))
    assert page.status_code == 200 and b"Issue certificate" not in page.content
    assert client.post(cert_url, {"kind": "aggregator"}).status_code == 403
    assert client.post(run_url, {"time_scale": "1"}).status_code == 403
    assert client.post(reverse("vendors:vendor-product"), {}).status_code == 403
    assert client.post(reverse("vendors:vendor-contacts"), {}).status_code == 403
    assert b"Send invitation" not in client.get(reverse("vendors:vendor-team")).content
    api = api_client_for(viewer)
    assert api.post("/api/v1/vendor/runs/", {"application": application.pk}).status_code == 403
    assert not IssuedCertificate.objects.exists()
    client.force_login(engineer)
    assert client.post(cert_url, {"kind": "aggregator", "csr": ""}).status_code == 200
    assert IssuedCertificate.objects.count() == 1
    invite = reverse("vendors:vendor-team-invite")
    assert client.post(invite, {"email": "x@y.test", "role": "admin"}).status_code == 403
    assert client.post(reverse("vendors:vendor-apply"), {}).status_code == 403
    assert VendorMembership.objects.filter(organization=org).count() == 3


def test_admin_manages_the_team_on_its_page(client, vendor_a, django_capture_on_commit_callbacks):
    from django.core import mail

    admin, _application = vendor_a
    client.force_login(admin)
    invite = reverse("vendors:vendor-team-invite")
    bad = client.post(invite, {"email": "nonsense", "role": "engineer"}, follow=True)
    assert b"Nobody invited" in bad.content and len(mail.outbox) == 0
    with django_capture_on_commit_callbacks(execute=True):
        client.post(invite, {"email": "new@alfa.test", "role": "viewer"})
    new = VendorMembership.objects.get(user__email="new@alfa.test")
    assert new.role == "viewer" and "/vendor/invite/" in mail.outbox[0].body
    team = client.get(reverse("vendors:vendor-team"))
    assert b"new@alfa.test" in team.content and b"invitation pending" in team.content
    client.post(reverse("vendors:vendor-team-role", args=[new.pk]), {"role": "engineer"})
    new.refresh_from_db()
    assert new.role == "engineer"
    mine = VendorMembership.objects.get(user=admin)
    last = client.post(
        reverse("vendors:vendor-team-role", args=[mine.pk]), {"role": "viewer"}, follow=True
    )
    assert b"last administrator" in last.content
    gone = client.post(reverse("vendors:vendor-team-remove", args=[mine.pk]), follow=True)
    assert b"last administrator" in gone.content
    mine.refresh_from_db()
    assert mine.role == "admin"
    client.post(reverse("vendors:vendor-team-remove", args=[new.pk]))
    assert not VendorMembership.objects.filter(pk=new.pk).exists()


def test_contacts_crud_for_admins_only(client, vendor_a):
    from vendors.models import VendorContact

    admin, application = vendor_a
    url = reverse("vendors:vendor-contacts")
    client.force_login(admin)
    bad = client.post(url, {"kind": "security", "name": "Sec", "email": "not-an-email"})
    assert bad.status_code == 400 and b"valid email" in bad.content
    assert not VendorContact.objects.exists()
    client.post(url, {"kind": "security", "name": "Sec", "email": "sec@alfa.test"})
    contact = VendorContact.objects.get()
    assert contact.organization == application.organization and contact.kind == "security"
    edit = reverse("vendors:vendor-contact-edit", args=[contact.pk])
    assert client.get(edit).status_code == 200
    refused = client.post(edit, {"kind": "gossip", "name": "Sec", "email": "sec@alfa.test"})
    assert refused.status_code == 400
    client.post(edit, {"kind": "business", "name": "Biz", "email": "biz@alfa.test"})
    contact.refresh_from_db()
    assert (contact.kind, contact.name) == ("business", "Biz")
    engineer = factories.vendor_member(application.organization, "engineer")
    client.force_login(engineer)
    listing = client.get(url)
    assert listing.status_code == 200 and b"biz@alfa.test" in listing.content
    assert client.get(edit).status_code == 403
    delete = reverse("vendors:vendor-contact-delete", args=[contact.pk])
    assert client.post(delete).status_code == 403
    client.force_login(admin)
    client.post(delete)
    assert not VendorContact.objects.exists()


def test_html_report_is_a_self_contained_attachment(client, utility_a, manager_a, vendor_a):
    user, application = vendor_a
    certificate_issue(application=application)
    run = run_start(run=run_create(application=application, procedures=["time_sync"]))
    run.status = "failed"
    run.results["time_sync"].update(
        status="failed",
        reason="no GET /tm <script>",
        steps=[{"title": "GET /tm", "status": "failed", "reason": "timeout", "label": "x:0"}],
    )
    run.save()
    for person, name in ((user, "vendors:vendor-run-report-html"), (manager_a, None)):
        client.force_login(person)
        url = reverse(name or "vendors:run-report-html", args=[run.pk])
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        assert response["Content-Disposition"] == (
            f'attachment; filename="conformance-run-{run.pk}.html"'
        )
        body = response.content.decode()
        assert "<style>" in body and "<script" not in body and "<link" not in body
        assert 'src="' not in body
        assert "time_sync" in body and "no GET /tm &lt;script&gt;" in body
        assert 'id="verdict">failed' in body
    client.force_login(user)
    detail = client.get(reverse("vendors:vendor-run", args=[run.pk]))
    assert reverse("vendors:vendor-run-report-html", args=[run.pk]).encode() in detail.content


def test_vendor_users_get_a_clear_403_on_utility_pages(client, vendor_a):
    user, _ = vendor_a
    client.force_login(user)
    for name in ("vendors:application-list", "programs:program-list", "portal:alert-list"):
        response = client.get(reverse(name))
        assert response.status_code == 403, name
        assert b"Vendor accounts use the vendor portal" in response.content
        assert reverse("vendors:vendor-home").encode() in response.content
    assert client.get("/").url == reverse("vendors:vendor-home")


def test_vendor_of_one_organisation_never_reaches_another(client, utility_a, vendor_a):
    from vendors.models import VendorContact

    user_a, app_a = vendor_a
    org_a = app_a.organization
    cert_a = certificate_issue(application=app_a).certificate
    run_a = run_start(run=run_create(application=app_a, procedures=["time_sync"]))
    member_a = VendorMembership.objects.get(user=user_a)
    engineer_a = VendorMembership.objects.create(
        organization=org_a, user=factories.user(), role="engineer"
    )
    contact_a = VendorContact.objects.create(
        organization=org_a, name="A sec", email="sec@a.test", kind="security"
    )
    user_b = factories.vendor_member(factories.vendor_organization("Bravo"), "admin")
    client.force_login(user_b)
    for name, pk in (
        ("vendors:vendor-application", app_a.pk),
        ("vendors:vendor-run", run_a.pk),
        ("vendors:vendor-run-report", run_a.pk),
        ("vendors:vendor-run-report-html", run_a.pk),
        ("vendors:vendor-contact-edit", contact_a.pk),
    ):
        assert client.get(reverse(name, args=[pk])).status_code == 404, name
    for name, pk, data in (
        ("vendors:vendor-team-role", engineer_a.pk, {"role": "admin"}),
        ("vendors:vendor-team-remove", member_a.pk, {}),
        ("vendors:vendor-contact-edit", contact_a.pk, {"name": "x", "email": "x@x.test"}),
        ("vendors:vendor-contact-delete", contact_a.pk, {}),
        ("vendors:vendor-certificate", app_a.pk, {"kind": "aggregator"}),
        ("vendors:vendor-run-start", app_a.pk, {"time_scale": "1"}),
    ):
        assert client.post(reverse(name, args=[pk]), data).status_code == 404, name
    team = client.get(reverse("vendors:vendor-team")).content
    contacts = client.get(reverse("vendors:vendor-contacts")).content
    assert user_a.email.encode() not in team and b"sec@a.test" not in contacts
    assert cert_a.lfdi.encode() not in client.get(reverse("vendors:vendor-home")).content
    engineer_a.refresh_from_db()
    contact_a.refresh_from_db()
    assert engineer_a.role == "engineer" and contact_a.name == "A sec"
    assert VendorMembership.objects.filter(pk=member_a.pk).exists()
    api = api_client_for(user_b)
    assert api.get(f"/api/v1/vendor/runs/{run_a.pk}/report/").status_code == 404
    # A utility member never reaches vendor pages either.
    client.force_login(factories.member(utility_a))
    for name in ("vendors:vendor-team", "vendors:vendor-contacts"):
        assert client.get(reverse(name)).status_code == 404, name


def test_out_of_band_parameters_from_the_run_form(client, vendor_a):
    user, application = vendor_a
    certificate_issue(application=application)
    client.force_login(user)
    url = reverse("vendors:vendor-run-start", args=[application.pk])
    lfdi = "AB" * 20
    base = {"time_scale": "1", "procedures": ["registration_oob"]}
    refused = [
        ({"oob_lfdi": lfdi}, "or neither"),
        ({"oob_lfdi": lfdi, "oob_pin": "123450"}, "check digit"),
        ({"oob_lfdi": "not-hex", "oob_pin": "123455"}, "40 hex digits"),
    ]
    for extra, reason in refused:
        page = client.post(url, {**base, **extra}, follow=True)
        assert reason in page.content.decode(), extra
    assert not ConformanceRun.objects.exists()

    response = client.post(url, {**base, "oob_lfdi": lfdi.lower(), "oob_pin": "123455"})

    run = ConformanceRun.objects.get()
    assert response.url == reverse("vendors:vendor-run", args=[run.pk])
    assert run.parameters == {"oob_lfdi": lfdi.lower(), "oob_pin": "123455"}
    page = client.get(response.url).content.decode()
    assert f"LFDI <code>{lfdi}</code>, PIN <code>123455</code>" in page
