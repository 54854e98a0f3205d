"""The demo customer gets the event email and opts out with its link in chromium, without
logging in: once. The second click is refused in words."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from enrollment import services
from enrollment.models import Customer, Enrollment, EventNotice
from portal.tasks import event_notice
from programs.models import Dispatch, DispatchGroup, Event, OptOut
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/wt/shots")


def test_customer_opts_out_from_the_email_once(browser, screenshot, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    customer = Customer.objects.select_related("utility").get(
        user__username="customer@cascadia.example"
    )
    utility = customer.utility
    enrollment = Enrollment.objects.get(customer=customer, state="active")
    group = DispatchGroup.objects.filter(program=enrollment.program).first()
    event = Event.objects.create(
        utility=utility, program=enrollment.program, group=group, kind="discharge",
        status="scheduled", start=timezone.now() + timedelta(days=1), duration_s=3600,
        target_w=5000,
    )  # fmt: skip
    Dispatch.objects.create(utility=utility, event=event, device=enrollment.device, setpoint_w=4000)

    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        settings.PORTAL_BASE_URL = base
        mail.outbox.clear()
        assert services.event_notices_queue(utility_id=utility.pk, event_id=event.pk) >= 1
        notice = EventNotice.objects.get(event=event, enrollment=enrollment)
        event_notice(notice.pk)
        (message,) = [m for m in mail.outbox if m.to == [enrollment.email]]
        html = message.alternatives[0][0]
        link = next(ln.strip() for ln in message.body.splitlines() if "/opt-out/" in ln)
        assert link.startswith(f"{base}/opt-out/")

        page = browser.new_page()
        page.set_content(html)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "event-email.png"), full_page=True)
        assert page.locator("a:has-text('Opt out of this event')").get_attribute("href") == link

        page.goto(link)  # no login
        assert page.title() == f"Opt out of an event · {utility.display_name}"
        assert page.locator("h1").inner_text() == "Opt out of this event?"
        assert not OptOut.objects.filter(event=event).exists()
        screenshot(page, "confirm")
        page.click("button:has-text('Yes, opt my battery out')")
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "You opted out"
        assert OptOut.objects.get(event=event).device_id == enrollment.device_id

        response = page.goto(link)
        assert response.status == 410
        assert "already used" in page.locator("#refusal").inner_text()
        screenshot(page, "reused")
