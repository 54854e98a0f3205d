"""The control room updates in place while the fleet reports (real ASGI server, real browser)."""

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from devices.services import Reading, telemetry_ingest
from portal.demo import DEMO_PASSWORD
from tenancy.models import Utility
from tests import factories
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_fleet_power_changes_without_reloading(browser, screenshot, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    cascadia = Utility.objects.get(slug="cascadia")
    devices = [factories.device(cascadia, zip_code=f"97{i}01") for i in range(3)]
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "pm@cascadia.example")
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/control-room/")
        page.wait_for_function("() => document.getElementById('live-state').textContent === 'live'")
        page.evaluate("window.__marker = 'same page'")
        before = page.locator("#kpi-power").inner_text()

        for step, watts in enumerate((1200.0, 2500.0)):
            readings = [
                Reading(
                    device_id=d.pk,
                    at=timezone.now() - timedelta(seconds=5 - step),
                    channel="w",
                    value=watts,
                )
                for d in devices
            ]
            assert telemetry_ingest(utility=cascadia, readings=readings, source="e2e").accepted == 3
            expected = f"{3 * watts / 1000:.1f} kW"
            page.wait_for_function(
                f"() => document.getElementById('kpi-power').textContent === '{expected}'",
                timeout=10_000,
            )
            time.sleep(1.1)  # one message per second at most
        assert before != page.locator("#kpi-power").inner_text()
        assert page.evaluate("window.__marker") == "same page"  # no reload happened
        points = page.evaluate("document.getElementById('fleet-chart')._plot.data[0].length")
        assert points >= 2
        screenshot(page, "live")
        page.close()
