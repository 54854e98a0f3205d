"""A program manager schedules an event in a real browser, guided by the live rule check."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from portal.demo import DEMO_PASSWORD
from programs.models import Event
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def login(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_manager_schedules_an_event_with_live_rule_check(browser, screenshot, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        login(page, base, "pm@cascadia.example")
        page.click("nav >> text=Programs")
        page.click("text=Cascadia Battery Savers")
        assert page.locator("h2", has_text="Season usage").is_visible()
        screenshot(page, "program")

        page.goto(f"{base}/events/new/")
        page.select_option("#id_group", label="Cascadia Battery Savers · Oregon")
        # Too short and too soon: the check panel explains both without a page load.
        soon = timezone.now().astimezone(ZoneInfo("America/Los_Angeles")) + timedelta(minutes=2)
        page.fill("#id_start_local", soon.strftime("%Y-%m-%dT%H:%M"))
        page.fill("#id_duration_min", "2")
        page.locator("#id_duration_min").dispatch_event("change")
        page.wait_for_selector("#check .violations")
        text = page.locator("#check").inner_text()
        assert "shorter than the program's minimum of 5 min" in text
        assert "notice" in text
        screenshot(page, "refused")

        tomorrow = timezone.now().astimezone(ZoneInfo("America/Los_Angeles")) + timedelta(days=1)
        page.fill("#id_start_local", tomorrow.replace(hour=16, minute=0).strftime("%Y-%m-%dT%H:%M"))
        page.fill("#id_duration_min", "60")
        page.fill("#id_target_kw", "25")
        page.locator("#id_target_kw").dispatch_event("change")
        page.wait_for_selector("#check .ok-text")
        page.click("button:has-text('Schedule event')")
        page.wait_for_selector(".badge.status-scheduled")
        assert "Audit trail" in page.content()
        screenshot(page, "scheduled")
        page.close()
    event = Event.objects.get()
    assert event.target_w == 25_000 and event.status == "scheduled"
    assert event.created_by.username == "pm@cascadia.example"
