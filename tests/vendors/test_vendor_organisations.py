"""Vendor organisations: operator approval, role capabilities, team and contacts, enforced
in the services (the pages are tested in tests/portal/test_vendor_portal.py)."""

import re

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from protocol.conformance.runner import run_create, run_start
from protocol.models import Client
from tests import factories
from tests.protocol.client import SepClient
from tests.protocol.conformance_clients import Pem
from vendors import services
from vendors.certificates import certificate_issue
from vendors.models import VendorContact, VendorMembership, VendorOrganization
from vendors.roles import ROLE_CAPABILITIES, Capability
from vendors.services import conformance_run_launch
from vendors.tasks import vendor_notify

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mail_now(monkeypatch):
    # The broker is outside this test; run the queued email task in-process instead.
    monkeypatch.setattr(vendor_notify, "delay", lambda *args: vendor_notify(*args))


@pytest.fixture
def operator(db):
    return factories.user(is_staff=True)


@pytest.fixture
def pending(utility_a):
    org = factories.vendor_organization("Pending", status="pending")
    admin = factories.vendor_member(org, "admin")
    application = factories.vendor_application(utility_a, organization=org)
    return org, admin, application


def test_roles_and_their_capabilities_are_one_table():
    assert ROLE_CAPABILITIES["viewer"] == {Capability.VIEW}
    assert ROLE_CAPABILITIES["engineer"] == {Capability.VIEW, Capability.TEST}
    assert ROLE_CAPABILITIES["admin"] == {Capability.VIEW, Capability.TEST, Capability.MANAGE}


def test_pending_organisation_gets_no_certificate_and_no_run(pending, operator):
    org, admin, application = pending
    with pytest.raises(ValidationError, match="awaiting approval"):
        certificate_issue(application=application, actor=admin)
    assert not application.certificates.exists() and not Client.objects.exists()
    # Approved: the same request succeeds.
    services.vendor_organization_approve(organization=org, actor=operator)
    certificate_issue(application=application, actor=admin)
    assert application.certificates.count() == 1


def test_approval_emails_the_vendor_on_commit(
    pending, operator, django_capture_on_commit_callbacks
):
    org, admin, _ = pending
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.vendor_organization_approve(organization=org, actor=operator)
    assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    (message,) = mail.outbox
    assert message.to == [admin.email] and "approved" in message.subject
    org.refresh_from_db()
    assert (org.status, org.status_changed_by) == ("approved", operator)


def test_reject_needs_a_reason_and_bad_transitions_change_nothing(pending, operator):
    org, _, _ = pending
    for blank in ("", "   "):
        with pytest.raises(ValidationError, match="why"):
            services.vendor_organization_reject(organization=org, actor=operator, reason=blank)
    with pytest.raises(ValidationError, match="cannot be suspended"):
        services.vendor_organization_suspend(organization=org, actor=operator, reason="x")
    org.refresh_from_db()
    assert org.status == "pending" and org.status_reason == ""
    services.vendor_organization_reject(organization=org, actor=operator, reason="Unknown firm")
    org.refresh_from_db()
    assert (org.status, org.status_reason) == ("rejected", "Unknown firm")
    with pytest.raises(ValidationError, match="cannot be approved"):
        services.vendor_organization_approve(organization=org, actor=operator)


@pytest.mark.parametrize("decision", ["reject", "suspend"])
def test_reject_or_suspend_revokes_certificates_and_the_server_refuses_them(
    utility_a, operator, decision, django_capture_on_commit_callbacks
):
    org = factories.vendor_organization("Live")  # approved
    factories.vendor_member(org)
    application = factories.vendor_application(utility_a, organization=org)
    cert = certificate_issue(application=application).certificate
    other = certificate_issue(application=factories.vendor_application(utility_a)).certificate
    http = SepClient(Pem(cert.pem.encode()))
    assert http.get("/dcap").status_code == 200
    run = run_start(run=run_create(application=application, procedures=["time_sync"]))
    if decision == "reject":
        VendorOrganization.objects.filter(pk=org.pk).update(status="pending")
        org.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        if decision == "reject":
            services.vendor_organization_reject(organization=org, actor=operator, reason="Fraud")
        else:
            services.vendor_organization_suspend(organization=org, actor=operator, reason="Audit")
    cert.refresh_from_db()
    assert cert.revoked and cert.revoked_at is not None
    assert Client.objects.get(lfdi=cert.lfdi).revoked
    refused = http.get("/dcap")
    assert refused.status_code == 403 and b"revoked" in refused.content
    # Its run stops and records nothing more.
    run.refresh_from_db()
    assert run.status == "error" and run.finished_at is not None
    assert Client.objects.get(lfdi=cert.lfdi).recording_run_id is None
    # Another organisation's certificate is untouched.
    other.refresh_from_db()
    assert not other.revoked and not Client.objects.get(lfdi=other.lfdi).revoked
    (message,) = mail.outbox
    assert "revoked" in message.body and ("Fraud" in message.body or "Audit" in message.body)


def test_suspended_organisation_cannot_start_runs(utility_a, operator):
    org = factories.vendor_organization("Stopped")
    engineer = factories.vendor_member(org, "engineer")
    application = factories.vendor_application(utility_a, organization=org)
    certificate_issue(application=application)
    services.vendor_organization_suspend(organization=org, actor=operator, reason="Unpaid")
    with pytest.raises(ValidationError, match="suspended: Unpaid"):
        conformance_run_launch(application=application, actor=engineer)
    assert not application.runs.exists()


def test_viewer_may_not_issue_or_run_and_engineer_may_not_manage(utility_a):
    org = factories.vendor_organization("Roles")
    viewer = factories.vendor_member(org, "viewer")
    engineer = factories.vendor_member(org, "engineer")
    application = factories.vendor_application(utility_a, organization=org)
    with pytest.raises(PermissionDenied):
        certificate_issue(application=application, actor=viewer)
    certificate_issue(application=application, actor=engineer)
    with pytest.raises(PermissionDenied):
        conformance_run_launch(application=application, actor=viewer)
    with pytest.raises(PermissionDenied):
        services.vendor_member_invite(
            organization=org, email="x@new.test", role="viewer", actor=engineer, base_url="/"
        )
    with pytest.raises(PermissionDenied):
        services.vendor_contact_save(
            organization=org, actor=engineer, name="N", email="n@x.test", kind="security"
        )
    # A member of another organisation has no capability here at all.
    outsider = factories.vendor_member(factories.vendor_organization("Other"), "admin")
    with pytest.raises(PermissionDenied):
        certificate_issue(application=application, actor=outsider)
    assert application.certificates.count() == 1 and not VendorContact.objects.exists()


def test_invitation_sends_a_one_time_link_that_sets_the_password(
    client, django_capture_on_commit_callbacks
):
    org = factories.vendor_organization("Team")
    admin = factories.vendor_member(org, "admin")
    with django_capture_on_commit_callbacks(execute=True):
        membership = services.vendor_member_invite(
            organization=org,
            email="New.Person@Team.test",
            role="engineer",
            actor=admin,
            base_url="http://portal.test/",
        )
    user = membership.user
    assert user.email == "new.person@team.test" and not user.has_usable_password()
    (message,) = mail.outbox
    assert message.to == ["new.person@team.test"] and org.name in message.subject
    link = re.search(r"http://portal\.test(/vendor/invite/\S+/)", message.body).group(1)
    assert client.get(link).status_code == 200
    done = client.post(link, {"new_password1": "a-fine-passphrase", "new_password2": "x"})
    assert done.status_code == 200 and b"match" in done.content  # mismatch: nothing set
    user.refresh_from_db()
    assert not user.has_usable_password()
    done = client.post(
        link, {"new_password1": "a-fine-passphrase", "new_password2": "a-fine-passphrase"}
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-fine-passphrase")
    client.logout()
    used = client.get(link)
    assert used.status_code == 404 and b"not valid" in used.content
    assert client.get("/vendor/invite/MTIz/forged-token/").status_code == 404


def test_invitation_refuses_bad_input_and_existing_accounts(django_capture_on_commit_callbacks):
    org = factories.vendor_organization("Team")
    admin = factories.vendor_member(org, "admin")
    for email, role, field in (
        ("not-an-email", "viewer", "email"),
        ("ok@x.test", "owner", "role"),
        (admin.email.upper(), "viewer", "email"),
    ):
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(ValidationError) as refused,
        ):
            services.vendor_member_invite(
                organization=org, email=email, role=role, actor=admin, base_url="/"
            )
        assert field in refused.value.message_dict
    assert VendorMembership.objects.filter(organization=org).count() == 1
    assert mail.outbox == []


def test_the_last_admin_can_be_neither_demoted_nor_removed():
    org = factories.vendor_organization("Team")
    admin = factories.vendor_member(org, "admin")
    engineer = factories.vendor_member(org, "engineer")
    mine = VendorMembership.objects.get(user=admin)
    with pytest.raises(ValidationError, match="last administrator"):
        services.vendor_member_role_change(membership=mine, role="viewer", actor=admin)
    with pytest.raises(ValidationError, match="last administrator"):
        services.vendor_member_remove(membership=mine, actor=admin)
    theirs = VendorMembership.objects.get(user=engineer)
    services.vendor_member_role_change(membership=theirs, role="admin", actor=admin)
    # Now there are two: the first may step down, and then be removed by the other.
    services.vendor_member_role_change(membership=mine, role="viewer", actor=admin)
    with pytest.raises(PermissionDenied):
        services.vendor_member_remove(membership=theirs, actor=admin)  # a viewer now
    services.vendor_member_remove(membership=mine, actor=engineer)
    admin.refresh_from_db()
    assert not admin.is_active and not VendorMembership.objects.filter(user=admin).exists()
    assert list(org.members.values_list("role", flat=True)) == ["admin"]


def test_contacts_are_validated_and_saved_by_admins():
    org = factories.vendor_organization("Contacts")
    admin = factories.vendor_member(org, "admin")
    with pytest.raises(ValidationError) as refused:
        services.vendor_contact_save(
            organization=org, actor=admin, name="Sec", email="nope", kind="security"
        )
    assert "email" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.vendor_contact_save(
            organization=org, actor=admin, name="Sec", email="s@x.test", kind="gossip"
        )
    assert "kind" in refused.value.message_dict
    assert not VendorContact.objects.exists()
    contact = services.vendor_contact_save(
        organization=org, actor=admin, name=" Sec Team ", email="s@x.test", kind="security"
    )
    assert (contact.name, contact.kind) == ("Sec Team", "security")
    other = factories.vendor_organization("Other")
    with pytest.raises(ValidationError, match="Not a contact"):
        services.vendor_contact_save(
            organization=other,
            actor=factories.vendor_member(other),
            contact=contact,
            name="Hijack",
        )
    services.vendor_contact_delete(contact=contact, actor=admin)
    assert not VendorContact.objects.exists()


def test_applications_and_products_need_an_admin_and_a_live_organisation(utility_a, operator):
    from decimal import Decimal

    from vendors.models import ProductModel, VendorApplication

    org = factories.vendor_organization("Apply", status="pending")
    admin = factories.vendor_member(org, "admin")
    engineer = factories.vendor_member(org, "engineer")
    program = factories.program(utility_a, status="active")
    with pytest.raises(PermissionDenied):
        services.application_create(organization=org, program=program, actor=engineer)
    services.application_create(organization=org, program=program, actor=admin)  # pending: ok
    fields = {"vendor_name": "Apply", "model_name": "A1", "power_kw": 5, "energy_kwh": 10}
    with pytest.raises(PermissionDenied):
        services.vendor_product_create(organization=org, actor=engineer, **fields)
    services.vendor_product_create(organization=org, actor=admin, **fields)
    with pytest.raises(ValidationError):
        services.vendor_product_create(organization=org, actor=admin, **fields)  # duplicate
    assert ProductModel.objects.get(organization=org).energy_kwh == Decimal("10")
    services.vendor_organization_reject(organization=org, actor=operator, reason="Shell company")
    with pytest.raises(ValidationError, match="rejected: Shell company"):
        services.application_create(organization=org, program=program, actor=admin)
    assert VendorApplication.objects.filter(organization=org).count() == 1
