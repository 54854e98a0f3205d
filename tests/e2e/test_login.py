"""The demo program manager logs in through a real browser and reaches the home page."""

import pytest
from django.core.management import call_command

from portal.demo import DEMO_PASSWORD
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_program_manager_logs_in_and_switches_nothing_they_should_not(
    browser, screenshot, tmp_path, settings
):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page()
        page.goto(f"{base}/")
        assert "/accounts/login/" in page.url
        page.fill("#id_username", "pm@cascadia.example")
        page.fill("#id_password", "wrong password")
        page.click("button[type=submit]")
        assert page.locator("[role=alert]").inner_text().startswith("That email")
        page.fill("#id_username", "pm@cascadia.example")
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        assert page.locator("h1").inner_text() == "Cascadia Power & Light"
        assert page.locator(".user").inner_text().endswith("Program manager")
        # Styles and htmx come from our own server (WhiteNoise), not a CDN.
        assert page.evaluate("typeof htmx") == "object"
        screenshot(page, "home")
        page.click("text=Utility")
        assert page.locator("h1").inner_text() == "Cascadia Power & Light"
        assert page.get_by_text("OR").first.is_visible()
        screenshot(page, "utility-settings")
        page.close()


def test_operator_sees_status_page_with_checks(browser, screenshot, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page()
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "ops@reservoir.example")
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/status/")
        rows = page.locator("table.status tbody tr")
        assert rows.count() == 5
        assert "Database" in rows.nth(0).inner_text()
        screenshot(page, "status")
        page.close()
