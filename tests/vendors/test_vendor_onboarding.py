"""The vendor home's onboarding checklist follows what the organisation has really done,
step by step; sandboxes are labelled and listed apart from real programs."""

import pytest
from django.urls import reverse
from django.utils import timezone

from programs.models import Program
from protocol.models import Client
from tests import factories
from vendors.models import VendorContact
from vendors.selectors import vendor_onboarding

pytestmark = pytest.mark.django_db


def _states(organization) -> dict[str, bool]:
    return {step.key: step.done for step in vendor_onboarding(organization=organization)}


def test_each_step_turns_done_with_the_fact_behind_it(utility_a):
    org = factories.vendor_organization(status="approved")
    keys = ["profile", "products", "certificate", "sandbox", "conformance", "approval"]
    assert _states(org) == dict.fromkeys(keys, False)
    steps = vendor_onboarding(organization=org)
    assert steps[2].url == reverse("vendors:vendor-home") + "#apply"

    VendorContact.objects.create(organization=org, name="Ada", email="a@v.test", kind="business")
    assert _states(org)["profile"] is False  # a business contact is not the technical one
    VendorContact.objects.create(organization=org, name="Bo", email="b@v.test", kind="technical")
    factories.product_model(org)
    assert _states(org) == {**dict.fromkeys(keys, False), "profile": True, "products": True}

    application = factories.vendor_application(utility_a, organization=org)
    from vendors.certificates import certificate_issue

    certificate = certificate_issue(application=application).certificate
    states = _states(org)
    assert states["certificate"] is True and states["sandbox"] is False
    step = {s.key: s for s in vendor_onboarding(organization=org)}["sandbox"]
    assert step.url == reverse("vendors:vendor-application", args=[application.pk]) + "#sandbox"

    # The certificate's client calls the sandbox: connected.
    client = Client.objects.get(lfdi=certificate.lfdi)
    assert client.program_id == application.sandbox_program_id
    Client.objects.filter(pk=client.pk).update(last_seen_at=timezone.now())
    assert _states(org)["sandbox"] is True
    # A revoked client does not count.
    Client.objects.filter(pk=client.pk).update(revoked=True)
    assert _states(org)["sandbox"] is False
    Client.objects.filter(pk=client.pk).update(revoked=False)

    run = application.runs.create(utility=utility_a, certificate=certificate, status="failed")
    assert _states(org)["conformance"] is False
    run.status = "passed"
    run.save()
    assert _states(org)["conformance"] is True
    application.approved = True
    application.save()
    assert _states(org) == dict.fromkeys(keys, True)


def test_other_organisations_progress_does_not_count(utility_a):
    mine = factories.vendor_organization(status="approved")
    theirs = factories.vendor_organization(status="approved")
    factories.product_model(theirs)
    application = factories.vendor_application(utility_a, organization=theirs)
    application.approved = True
    application.save()
    assert not any(_states(mine).values())


def test_vendor_home_shows_the_checklist(client, utility_a):
    org = factories.vendor_organization(status="approved")
    person = factories.vendor_member(org)
    factories.product_model(org)
    client.force_login(person)
    html = client.get(reverse("vendors:vendor-home")).content.decode()
    assert "1 of 6 steps done." in html
    assert 'id="step-products" class="done"' in html
    assert 'id="step-profile" class="todo"' in html


def test_sandboxes_are_kept_apart_from_real_programs(client_a, utility_a):
    real = factories.program(utility_a, name="Summer Peak", status="active")
    factories.vendor_application(utility_a)  # makes a sandbox program
    sandbox = Program.objects.for_utility(utility_a).sandboxes().get()
    assert list(Program.objects.for_utility(utility_a).real()) == list(
        Program.objects.for_utility(utility_a).exclude(pk=sandbox.pk)
    )
    assert real in Program.objects.for_utility(utility_a).real()

    html = client_a.get(reverse("programs:program-list")).content.decode()
    main, _, apart = html.partition('id="sandboxes-title"')
    assert real.name in main and sandbox.name not in main
    assert sandbox.name in apart and 'class="badge sandbox">Sandbox' in apart
    only = client_a.get(reverse("programs:program-list") + "?sandbox=yes").content.decode()
    assert sandbox.name in only and ">Summer Peak<" not in only and "sandboxes-title" not in only


def test_product_form_labels_name_the_quantity_and_its_unit(client, utility_a):
    """Seen on the screenshot of the vendor home: the product form read "KW:" and "KWh:"
    (the model's verbose names, capitalised by the form)."""
    org = factories.vendor_organization(status="approved")
    client.force_login(factories.vendor_member(org))
    html = client.get(reverse("vendors:vendor-home")).content.decode()
    assert ">Power (kW):</label>" in html and ">Energy (kWh):</label>" in html
    assert ">KW:</label>" not in html and ">KWh:</label>" not in html
