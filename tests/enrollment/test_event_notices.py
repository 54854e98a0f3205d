"""A scheduled event emails each active customer whose battery it dispatches (HTML and
text, in the utility's brand), and the email's signed link opts that battery out of that
event: once, before it expires, untampered, never another customer's battery, and only
within the program's opt-out rules, each refusal said in words."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from enrollment import services
from enrollment.choices import EnrollmentState as S
from enrollment.models import Customer, EventNotice
from enrollment.opt_out_links import SALT, opt_out_token
from portal.notices import event_notice_send
from portal.tasks import event_notice as event_notice_task
from programs.models import Dispatch, Event, OptOut
from settlement.models import SettlementRules
from tests import factories
from tests.enrollment.conftest import submit

pytestmark = pytest.mark.django_db


def _active(setup, serial):
    user = factories.user(email=f"{serial.lower()}@example.test")
    customer = Customer.objects.create(utility=setup.utility, user=user, name=serial)
    device = factories.device(
        setup.utility, vendor_name="Northwind", serial=serial, soc_pct=61, power_w=-900,
        last_heard_at=timezone.now(),
    )  # fmt: skip
    e = services.enrollment_approve(
        enrollment=submit(setup, customer=customer, serial=serial, email=user.email),
        actor=setup.manager,
    )
    assert e.state == S.ACTIVE and e.device_id == device.pk
    return e


@pytest.fixture
def world(setup, settings):
    settings.PORTAL_BASE_URL = "https://portal.example.test"
    setup.utility.brand_name = "Alpha Energy"
    setup.utility.brand_colour = "#0b7a75"
    setup.utility.timezone = "America/Los_Angeles"
    setup.utility.save()
    SettlementRules.objects.create(
        utility=setup.utility, program=setup.program, kwh_rate=Decimal("0.40"),
        kw_season_rate=Decimal("35"),
    )  # fmt: skip
    mine, theirs = _active(setup, "NW-MINE"), _active(setup, "NW-THEIRS")
    group = factories.dispatch_group(setup.utility, prog=setup.program)
    start = timezone.now() + timedelta(days=1)
    event = factories.event(
        setup.utility, group=group, status="scheduled", start=start, duration_s=7200
    )
    for e in (mine, theirs):
        Dispatch.objects.create(
            utility=setup.utility, event=event, device=e.device, setpoint_w=3000
        )
    return {"setup": setup, "mine": mine, "theirs": theirs, "event": event}


def _queue_and_send(world, django_capture_on_commit_callbacks):
    event = world["event"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queued = services.event_notices_queue(utility_id=event.utility_id, event_id=event.pk)
    assert queued == 2
    assert len(callbacks) == 2  # queued only after commit
    for notice in EventNotice.objects.filter(event=event):
        event_notice_task(notice.pk)
    return {m.to[0]: m for m in mail.outbox}


def _link(message) -> str:
    text = message.body
    line = next(ln for ln in text.splitlines() if "/opt-out/" in ln)
    return line.strip().removeprefix("https://portal.example.test")


def test_each_customer_gets_one_branded_email_with_when_what_earnings_and_link(
    world, django_capture_on_commit_callbacks
):
    sent = _queue_and_send(world, django_capture_on_commit_callbacks)
    mine = world["mine"]
    assert set(sent) == {mine.email, world["theirs"].email}
    message = sent[mine.email]
    local = timezone.localtime(
        world["event"].start, timezone=__import__("zoneinfo").ZoneInfo("America/Los_Angeles")
    )
    assert message.from_email.startswith("Alpha Energy <")
    assert message.subject.startswith("Alpha Energy: your battery is scheduled for an event on")
    body = message.body
    assert f"{local:%H:%M} {local.tzname()}" in body  # utility time, labelled
    assert "Times are America/Los_Angeles time." in body
    assert "120 minutes" in body
    assert "discharge at up to 3.0 kW" in body
    assert "About $2.40 for this event" in body  # 3 kW x 2 h x $0.40/kWh
    assert "$35.00 per kW" in body and "$4.00 per kW" in body
    assert "https://portal.example.test/opt-out/" in body
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert "background:#0b7a75" in html and "Opt out of this event" in html
    assert "https://portal.example.test/opt-out/" in html
    # Idempotent: the queue and the task again send nothing more.
    assert (
        services.event_notices_queue(
            utility_id=world["event"].utility_id, event_id=world["event"].pk
        )
        == 0
    )
    for notice in EventNotice.objects.all():
        assert event_notice_send(notice_id=notice.pk) is False
    assert len(mail.outbox) == 2


def test_a_multi_mode_event_is_not_described_as_a_discharge(
    world, django_capture_on_commit_callbacks
):
    Event.objects.filter(pk=world["event"].pk).update(
        kind="multi_mode", op_mod_exp_lim_w=3000, op_mod_connect=False
    )
    body = _queue_and_send(world, django_capture_on_commit_callbacks)[world["mine"].email].body
    assert "It will follow the limits and settings the program sends it" in body
    assert "discharge at up to" not in body and "About $" not in body


def test_the_link_works_once(client, world, django_capture_on_commit_callbacks):
    link = _link(_queue_and_send(world, django_capture_on_commit_callbacks)[world["mine"].email])
    page = client.get(link)
    assert page.status_code == 200 and "Opt out of this event?" in page.content.decode()
    assert not OptOut.objects.exists()  # a GET (a mail scanner's) changes nothing
    done = client.post(link)
    assert done.status_code == 200 and "You opted out" in done.content.decode()
    opted = OptOut.objects.get()
    assert opted.device_id == world["mine"].device_id and opted.event_id == world["event"].pk
    assert Dispatch.objects.get(device=world["mine"].device).setpoint_w == 0
    again = client.post(link)
    assert again.status_code == 410
    assert "already used" in again.content.decode()
    assert client.get(link).status_code == 410
    assert OptOut.objects.count() == 1


def test_an_expired_link_is_refused(client, world):
    notice = EventNotice.objects.create(
        utility=world["event"].utility, enrollment=world["mine"], event=world["event"],
        device=world["mine"].device,
    )  # fmt: skip
    # Past its own expiry (the event's end, signed into it).
    token = opt_out_token(notice=notice, expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(reverse("enrollment:opt-out-link", args=[token]))
    assert response.status_code == 410 and "expired" in response.content.decode()
    # Older than the signature's maximum age, whatever it says inside.
    with mock.patch("time.time", return_value=(timezone.now() - timedelta(days=31)).timestamp()):
        old = opt_out_token(notice=notice, expires_at=world["event"].end)
    response = client.post(reverse("enrollment:opt-out-link", args=[old]))
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert not OptOut.objects.exists()


def test_a_tampered_link_is_refused(client, world):
    notice = EventNotice.objects.create(
        utility=world["event"].utility, enrollment=world["mine"], event=world["event"],
        device=world["mine"].device,
    )  # fmt: skip
    token = opt_out_token(notice=notice, expires_at=world["event"].end)
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    other = EventNotice.objects.create(
        utility=world["event"].utility, enrollment=world["theirs"], event=world["event"],
        device=world["theirs"].device,
    )  # fmt: skip
    # A payload naming another notice, signed with the wrong key.
    forged = signing.dumps(
        {"k": other.key.hex, "x": int(world["event"].end.timestamp())},
        key="not-the-secret-key", salt=SALT, compress=True,
    )  # fmt: skip
    for bad in (flipped, forged, "nonsense", token + "x"):
        response = client.post(reverse("enrollment:opt-out-link", args=[bad]))
        assert response.status_code == 400, bad
        assert "not valid" in response.content.decode()
    assert not OptOut.objects.exists()


def test_a_link_cannot_opt_out_another_customers_battery(client, world):
    notice = EventNotice.objects.create(
        utility=world["event"].utility, enrollment=world["mine"], event=world["event"],
        device=world["mine"].device,
    )  # fmt: skip
    token = opt_out_token(notice=notice, expires_at=world["event"].end)
    theirs = world["theirs"]
    # Nothing in the request chooses the battery: extra fields are ignored.
    client.post(
        reverse("enrollment:opt-out-link", args=[token]),
        {"enrollment": theirs.pk, "device": theirs.device_id, "event": world["event"].pk},
    )
    assert list(OptOut.objects.values_list("device_id", flat=True)) == [world["mine"].device_id]
    # And a notice whose enrollment now has another battery opts nothing out.
    second = EventNotice.objects.create(
        utility=world["event"].utility, enrollment=theirs, event=world["event"],
        device=world["mine"].device,
    )  # fmt: skip
    token = opt_out_token(notice=second, expires_at=world["event"].end)
    response = client.post(reverse("enrollment:opt-out-link", args=[token]))
    assert response.status_code == 409
    assert "no longer linked" in response.content.decode()
    assert not OptOut.objects.filter(device=theirs.device).exists()


def test_after_the_lock_time_the_link_is_refused_in_words(client, world):
    program = world["setup"].program
    program.opt_out_lock_min = 24 * 60 + 30  # closes 24.5 h before; the event is 24 h away
    program.save()
    notice = EventNotice.objects.create(
        utility=world["event"].utility, enrollment=world["mine"], event=world["event"],
        device=world["mine"].device,
    )  # fmt: skip
    token = opt_out_token(notice=notice, expires_at=world["event"].end)
    url = reverse("enrollment:opt-out-link", args=[token])
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 409
        text = response.content.decode()
        assert "Opt-outs for this event closed at" in text
        assert "1470 minutes before an event starts" in text
    assert not OptOut.objects.exists()
    notice.refresh_from_db()
    assert notice.used_at is None


def test_the_yearly_opt_out_allowance_is_kept(client, world):
    program = world["setup"].program
    program.opt_outs_per_year = 1
    program.save()
    group = world["event"].group
    earlier = factories.event(
        world["event"].utility, group=group, status="scheduled",
        start=world["event"].start + timedelta(hours=3), duration_s=3600,
    )  # fmt: skip
    OptOut.objects.create(
        utility=earlier.utility, event=earlier, device=world["mine"].device, source="portal",
        at=timezone.now(),
    )  # fmt: skip
    notice = EventNotice.objects.create(
        utility=world["event"].utility, enrollment=world["mine"], event=world["event"],
        device=world["mine"].device,
    )  # fmt: skip
    token = opt_out_token(notice=notice, expires_at=world["event"].end)
    response = client.post(reverse("enrollment:opt-out-link", args=[token]))
    assert response.status_code == 409
    assert "You have used all 1 opt-out that" in response.content.decode()
    assert OptOut.objects.filter(event=world["event"]).count() == 0
    # The other customer has their allowance: their link works.
    theirs = EventNotice.objects.create(
        utility=world["event"].utility, enrollment=world["theirs"], event=world["event"],
        device=world["theirs"].device,
    )  # fmt: skip
    token = opt_out_token(notice=theirs, expires_at=world["event"].end)
    assert client.post(reverse("enrollment:opt-out-link", args=[token])).status_code == 200


def test_completed_and_test_events_notify_nobody(world):
    event = world["event"]
    event.status = "completed"
    event.save()
    assert services.event_notices_queue(utility_id=event.utility_id, event_id=event.pk) == 0
    event.status, event.is_test = "scheduled", True
    event.save()
    assert services.event_notices_queue(utility_id=event.utility_id, event_id=event.pk) == 0
