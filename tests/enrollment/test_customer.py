"""The customer's own page: status in words, readings, credits, events with opt-out,
withdrawal with its consequences; and the notices sent along the way."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from enrollment import services, tasks
from enrollment.choices import EnrollmentState as S
from enrollment.models import Customer
from enrollment.notifications import KINDS, render_notice
from programs.models import Dispatch, OptOut, Participant
from tests import factories
from tests.enrollment.conftest import make_setup, submit

pytestmark = pytest.mark.django_db


def customer_for(setup, email="casey@example.test"):
    user = factories.user(email=email)
    return Customer.objects.create(utility=setup.utility, user=user, name="Casey")


@pytest.fixture
def active(setup):
    """An active enrollment of a logged-in customer, with a device and one upcoming event."""
    customer = customer_for(setup)
    device = factories.device(
        setup.utility,
        vendor_name="Northwind",
        serial="NW-ACT",
        soc_pct=61,
        power_w=-900,
        last_heard_at=timezone.now(),
    )
    e = services.enrollment_approve(
        enrollment=submit(setup, customer=customer, serial="NW-ACT", email=customer.user.email),
        actor=setup.manager,
    )
    assert e.state == S.ACTIVE
    group = factories.dispatch_group(setup.utility, prog=setup.program)
    upcoming = factories.event(setup.utility, group=group, status="scheduled")
    past = factories.event(
        setup.utility,
        group=group,
        status="completed",
        start=timezone.now() - timedelta(days=2),
    )
    for event in (upcoming, past):
        Dispatch.objects.create(utility=setup.utility, event=event, device=device, setpoint_w=3000)
    return {
        "customer": customer,
        "enrollment": e,
        "device": device,
        "upcoming": upcoming,
        "past": past,
    }


def test_customer_page_shows_status_reading_credits_and_events(client, setup, active):
    client.force_login(active["customer"].user)
    body = client.get("/my/").content.decode()
    assert 'data-state="active"' in body
    assert "takes part in program events" in body
    assert "61 % charged" in body
    assert "$750.00" in body  # the incentive fixed at approval
    assert "$20.00" in body  # 5 kW x $4 monthly
    assert "Opt out" in body and "Completed" in body
    assert "within 36 months" in body  # clawback spelled out before withdrawing


def test_one_click_opt_out_records_a_portal_opt_out(client, setup, active):
    client.force_login(active["customer"].user)
    e, event = active["enrollment"], active["upcoming"]
    response = client.post("/my/opt-out/", {"enrollment": e.pk, "event": event.pk}, follow=True)
    assert "You opted out" in response.content.decode()
    opt_out = OptOut.objects.get(event=event, device=active["device"])
    assert opt_out.source == "portal"
    assert Dispatch.objects.get(event=event, device=active["device"]).setpoint_w == 0
    # A finished event cannot be opted out of.
    response = client.post(
        "/my/opt-out/", {"enrollment": e.pk, "event": active["past"].pk}, follow=True
    )
    assert "already completed" in response.content.decode()
    assert not OptOut.objects.filter(event=active["past"]).exists()


def test_a_customer_cannot_act_on_someone_elses_enrollment(client, setup, active, utility_b):
    stranger = customer_for(setup, email="stranger@example.test")
    client.force_login(stranger.user)
    e = active["enrollment"]
    opt_out = {"enrollment": e.pk, "event": active["upcoming"].pk}
    assert client.post("/my/opt-out/", opt_out).status_code == 404
    assert client.post("/my/withdraw/", {"enrollment": e.pk, "confirm": "yes"}).status_code == 404
    assert "NW-ACT" not in client.get("/my/").content.decode()
    e.refresh_from_db()
    assert e.state == S.ACTIVE and not OptOut.objects.exists()


def test_withdraw_needs_confirmation_and_removes_the_participant(client, setup, active):
    client.force_login(active["customer"].user)
    e = active["enrollment"]
    client.post("/my/withdraw/", {"enrollment": e.pk})
    e.refresh_from_db()
    assert e.state == S.ACTIVE
    response = client.post("/my/withdraw/", {"enrollment": e.pk, "confirm": "yes"}, follow=True)
    assert "You have withdrawn" in response.content.decode()
    e.refresh_from_db()
    assert e.state == S.WITHDRAWN
    assert e.transitions.last().actor == active["customer"].user
    assert not Participant.objects.filter(device=active["device"], left_at=None).exists()


def test_staff_without_customer_account_see_an_empty_page(client, setup):
    client.force_login(setup.manager)
    response = client.get("/my/")
    assert response.status_code == 200 and "no customer account" in response.content.decode()
    assert client.get("/my/opt-out/").status_code == 405


@pytest.mark.parametrize("kind", KINDS)
def test_every_notice_names_the_utility(setup, kind):
    setup.utility.brand_name = "Cascadia Power"
    setup.utility.save()
    e = submit(setup)
    subject, body = render_notice(
        enrollment=e, kind=kind, event_start="2026-07-01 17:00", event_minutes=60
    )
    assert subject.startswith("Cascadia Power:")
    assert "Cascadia Power" in body and "&amp;" not in body


def test_the_task_sends_the_email(setup):
    e = submit(setup, email="notify@example.test")
    tasks.enrollment_notify(e.pk, "received", {})
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["notify@example.test"]
    assert setup.program.name in message.subject
    assert str(e.pk) in message.body


def test_notices_are_queued_only_after_commit(setup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        e = submit(setup)
        services.enrollment_approve(enrollment=e, actor=setup.manager)
    # received, approved: one queued notice per customer-facing step, none before commit.
    notices = [c for c in callbacks if "send_task" in c.__code__.co_names]
    assert len(notices) == 2


def test_a_utility_template_overrides_the_default(setup, tmp_path, settings):
    folder = tmp_path / "enrollment" / "email" / setup.utility.slug
    folder.mkdir(parents=True)
    (folder / "received.txt").write_text("Custom {{ utility.name }}\nHello from us.")
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    subject, body = render_notice(enrollment=submit(setup), kind="received")
    assert subject == f"Custom {setup.utility.name}" and body == "Hello from us.\n"
    other = make_setup(factories.utility("Other Co", slug="other-co"), slug="o")
    subject, _ = render_notice(enrollment=submit(other), kind="received")
    assert subject.startswith("Other Co:")
