"""The event page's device table follows the devices' Responses without a reload
(real ASGI server, real browser)."""

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from portal.demo import DEMO_PASSWORD
from programs.models import Dispatch
from protocol.services import response_record
from tenancy.models import Utility
from tests import factories
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_responses_show_up_in_the_device_table_in_words(browser, screenshot, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    cascadia = Utility.objects.get(slug="cascadia")
    event = factories.event(cascadia, "E2e", status="active", start=timezone.now())
    end_device = factories.end_device(cascadia, "E2e")
    dispatch = Dispatch.objects.create(
        utility=cascadia, event=event, device=end_device.device, setpoint_w=1000, committed_w=1000
    )
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "pm@cascadia.example")
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(base + reverse("programs:event-detail", args=[event.pk]))
        cell = page.locator(f"#dispatch-{dispatch.pk} .response")
        # The event is running: a device that has not answered is awaited, not "silent".
        assert cell.inner_text() == "Awaiting response"
        page.wait_for_function(
            "() => document.getElementById('event-status').dataset.live === 'live'", timeout=10_000
        )
        page.evaluate("window.__marker = 'same page'")
        response_record(end_device=end_device, event=event, status=2)
        page.wait_for_function(
            f"() => document.querySelector('#dispatch-{dispatch.pk} .response')"
            ".dataset.code === '2'",
            timeout=10_000,
        )
        assert cell.inner_text() == "Started (2)"
        assert page.evaluate("window.__marker") == "same page"  # no reload happened
        screenshot(page, "responded")
        page.close()
