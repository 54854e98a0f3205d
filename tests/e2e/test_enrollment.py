"""A customer enrolls on a phone, a manager bulk-approves, the battery reports, and the
customer sees the enrollment active; an out-of-territory address is told why."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from devices.services import Reading, device_register, telemetry_ingest
from enrollment.models import Enrollment
from portal.demo import DEMO_PASSWORD
from tenancy.models import Utility
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
START = "/enroll/cascadia/battery-savers/"


def test_customer_enrolls_on_a_phone_and_becomes_active(browser, screenshot, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = phone.new_page()
        page.goto(f"{base}{START}")
        assert page.locator(".brandname").inner_text() == "Cascadia Power & Light"
        assert page.url.endswith("/step/1/")
        # Nothing sticks out sideways on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.fill("#id_street", "742 Evergreen Terrace")
        page.fill("#id_city", "Portland")
        page.fill("#id_state_code", "OR")
        page.fill("#id_zip_code", "97214")
        page.fill("#id_account_number", "5550009876")
        page.fill("#id_email", "homer@example.test")
        screenshot(page, "1-address")
        page.click("button[type=submit]")
        page.wait_for_url("**/step/2/")
        page.select_option("#id_equipment", label="Northwind Storage NW-13 (5 kW, 13.5 kWh)")
        page.fill("#id_serial", "NWS-E2E-1")
        page.fill("#id_install_date", "2026-04-01")
        page.check("input[name=has_solar][value=yes]")
        page.fill("#id_solar_kw", "6.5")
        screenshot(page, "2-battery")
        page.click("button[type=submit]")
        page.wait_for_url("**/step/3/")
        assert "version 1" in page.locator("h2").inner_text()
        page.check("#id_accept")
        screenshot(page, "3-terms")
        page.click("button[type=submit]")
        page.wait_for_url("**/step/4/")
        assert "Yes, 6.5 kW" in page.locator("dl.summary").inner_text()
        page.fill("#id_name", "Homer Customer")
        page.fill("#id_password", "a-long-pass-phrase")
        page.fill("#id_password_again", "a-long-pass-phrase")
        screenshot(page, "4-confirm")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/my/")
        assert page.locator(".state").first.inner_text() == "Eligible"
        screenshot(page, "5-submitted")

        enrollment = Enrollment.objects.get(serial="NWS-E2E-1")
        manager = browser.new_page()
        manager.goto(f"{base}/accounts/login/?next=/enrollments/")
        manager.fill("#id_username", "pm@cascadia.example")
        manager.fill("#id_password", DEMO_PASSWORD)
        manager.click("button[type=submit]")
        manager.wait_for_url(f"{base}/enrollments/")
        manager.select_option("#f-state", "eligible")
        manager.click("form.filters button[type=submit]")
        manager.wait_for_url("**/enrollments/?state=eligible*")
        manager.check(f"input[name=ids][value='{enrollment.pk}']")
        manager.select_option("#b-action", "approve")
        manager.click("#bulk button[type=submit]")
        manager.wait_for_load_state()
        assert "Approved 1 enrollment" in manager.locator(".messages").inner_text()
        screenshot(manager, "6-manager-approved")
        enrollment.refresh_from_db()
        assert enrollment.state == "approved"
        assert str(enrollment.incentive_upfront) == "2500.00"  # 5 kW x $500

        page.reload()
        assert page.locator(".state").first.inner_text() == "Approved"
        assert "$2500.00" in page.locator(".credits").inner_text()

        # The battery shows up and reports, through the devices service, in this process.
        cascadia = Utility.objects.get(slug="cascadia")
        device = device_register(
            utility=cascadia, vendor_name="Northwind Storage", model_name="NW-13",
            serial="NWS-E2E-1", max_charge_w=5000, max_discharge_w=5000, capacity_wh=13_500,
        )  # fmt: skip
        now = timezone.now()
        telemetry_ingest(
            utility=cascadia,
            readings=[
                Reading(device_id=device.pk, at=now, channel="soc_pct", value=72),
                Reading(device_id=device.pk, at=now, channel="w", value=-1500),
            ],
            source="e2e",
        )
        page.reload()
        assert page.locator(".state").first.inner_text() == "Active"
        assert "72 % charged" in page.locator(".enrollment").first.inner_text()
        screenshot(page, "7-active")
        manager.close()
        phone.close()


def test_an_address_outside_the_territory_sees_why(browser, screenshot, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        phone = browser.new_context(viewport=PHONE, is_mobile=True)
        page = phone.new_page()
        page.goto(f"{base}{START}")
        page.fill("#id_street", "1 Main Street")
        page.fill("#id_city", "Dallas")
        page.fill("#id_state_code", "TX")
        page.fill("#id_zip_code", "75001")
        page.fill("#id_account_number", "5550001111")
        page.fill("#id_email", "tex@example.test")
        page.click("button[type=submit]")
        problem = page.locator("#form-problem")
        problem.wait_for()
        assert "does not serve ZIP 75001 in TX" in problem.inner_text()
        assert page.url.endswith("/step/1/")
        screenshot(page, "ineligible")
        phone.close()
