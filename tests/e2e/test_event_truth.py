"""A completed event, in a real browser on the seeded demo (issue 19, "Events read true"):
its page shows the true response funnel (2030.5 Responses and Modbus read-back both counted,
"silent" only for the device that never answered) and offers no Cancel; the program
manager's home links its figures; the device page draws its charts under the strict CSP."""

import math
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from devices.services import Reading, telemetry_ingest
from portal.demo import DEMO_PASSWORD
from programs import services
from programs.choices import EventStatus, ResponseStatus
from programs.models import Dispatch, Participant, Program
from protocol.services import response_record
from tenancy.models import Utility
from tests import factories
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def completed_demo_event(utility):
    program = Program.objects.for_utility(utility).filter(is_sandbox=False).first()
    group = program.groups.first()
    now = timezone.now()
    event = factories.event(
        utility, group=group, status=EventStatus.ACTIVE, start=now - timedelta(hours=3),
        duration_s=3600,
    )  # fmt: skip
    sep2 = factories.end_device(utility, "Sep2 ")
    modbus, quiet = factories.device(utility, "Modbus "), factories.device(utility, "Quiet ")
    for device in (sep2.device, modbus, quiet):
        Participant.objects.create(
            utility=utility, program=program, device=device, joined_at=now - timedelta(days=2)
        )
        Dispatch.objects.create(
            utility=utility, event=event, device=device, setpoint_w=3000, committed_w=3000
        )
    for code in (ResponseStatus.RECEIVED, ResponseStatus.STARTED, ResponseStatus.COMPLETED):
        response_record(end_device=sep2, event=event, status=code)
    services.dispatch_readback_record(event=event, device_ids=[modbus.pk], code=2)
    # The event ends (as beat ends it); the Modbus release read back completes it.
    event.status = EventStatus.COMPLETED
    event.save(update_fields=["status"])
    services.dispatch_readback_record(event=event, device_ids=[modbus.pk, quiet.pk], code=3)
    # A day of 5-minute telemetry for the Modbus battery: discharging during the event.
    readings = []
    for i in range(288):
        at = now - timedelta(minutes=5 * i)
        during = event.start <= at < event.end
        readings.append(Reading(modbus.pk, at, "w", 3000 if during else 400 * math.sin(i / 20)))
        readings.append(Reading(modbus.pk, at, "soc_pct", 40 + 30 * math.cos(i / 60)))
    telemetry_ingest(utility=utility, readings=readings, source="test")
    return event, modbus


def test_completed_event_shows_the_true_funnel_and_no_cancel(
    browser, screenshot, tmp_path, settings
):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    cascadia = Utility.objects.get(slug="cascadia")
    event, modbus = completed_demo_event(cascadia)
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "pm@cascadia.example")
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        kpi = page.locator("a.kpi", has_text="Last event performance")
        assert "67% completed" in kpi.inner_text()
        screenshot(page, "pm-home")
        kpi.click()
        page.wait_for_url(f"{base}/events/{event.pk}/")
        funnel = {
            li.get_attribute("data-key"): li.locator(".n").inner_text()
            for li in page.locator(".funnel li").all()
        }
        assert funnel["dispatched"] == "3" and funnel["completed"] == "2"
        assert funnel["silent"] == "1" and funnel["awaiting"] == "0"
        assert page.get_by_role("button", name="Cancel event").count() == 0
        assert page.locator("#event-status").inner_text() == "Completed"
        screenshot(page, "event")
        page.goto(f"{base}/devices/{modbus.pk}/?window=day")
        page.wait_for_selector("#chart-power .uplot")
        assert page.locator("#chart-soc .uplot").count() == 1
        screenshot(page, "device")
        page.close()
