"""The customer's pages, in chromium, as the demo customer: the utility's brand (colours,
title, navigation of their own), a success message that reads as success, and the past
events page."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from enrollment.models import Customer, Enrollment
from portal.demo import DEMO_PASSWORD
from programs.models import Dispatch, DispatchGroup, Event
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/wt/shots")


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _login(page, base, username):
    page.goto(f"{base}/accounts/login/?next=/my/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/my/")


def test_customer_home_is_branded_and_a_success_reads_as_success(
    browser, screenshot, tmp_path, settings
):
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
    Dispatch.objects.create(utility=utility, event=event, device=enrollment.device, setpoint_w=5000)

    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page()
        _login(page, base, "customer@cascadia.example")
        assert page.title() == f"My enrollments · {utility.display_name}"
        bar = page.locator("header.brandbar")
        assert bar.evaluate("el => getComputedStyle(el).backgroundColor") == _rgb(
            utility.brand_colour
        )
        assert page.locator(".brandname").inner_text() == utility.display_name
        nav = page.locator("nav[aria-label=Main] a")
        assert nav.all_inner_texts() == ["My enrollments", "Past events"]
        for href in nav.evaluate_all("els => els.map(a => a.href)"):
            assert page.request.get(href).status == 200, href
        icon = page.locator("link[rel=icon]").get_attribute("href")
        assert page.request.get(f"{base}{icon}").status == 200

        page.locator(f"#enrollment-{enrollment.pk} button:has-text('Opt out')").click()
        page.wait_for_url(f"{base}/my/")
        message = page.locator(".messages .message")
        assert "Done: You opted out of the event" in message.inner_text()
        colours = message.evaluate(
            "el => [getComputedStyle(el).color, getComputedStyle(el).borderLeftColor]"
        )
        assert colours == ["rgb(17, 99, 41)", "rgb(26, 127, 55)"]  # greens, not --bad red
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "customer-home.png"), full_page=True)
        screenshot(page, "customer-home")

        page.click("nav[aria-label=Main] >> text=Past events")
        page.wait_for_url(f"{base}/my/events/")
        assert page.title() == f"Past events · {utility.display_name}"
        assert page.locator("h1").inner_text() == "Past events"
