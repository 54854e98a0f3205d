"""A program manager creates a disconnect event and a volt-var event through the event form
in a real browser; the form's script shows only the chosen kind's fields."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from programs.choices import CurveType, RequirementProfile
from programs.models import Event
from tenancy.choices import Role
from tests import factories
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manager_creates_a_disconnect_and_a_volt_var_event(browser, screenshot, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    utility = factories.utility("Cascadia", slug="cascadia", timezone="America/Los_Angeles")
    factories.member(utility, Role.PROGRAM_MANAGER, email="pm@modes.test")
    program = factories.program(
        utility,
        name="Grid Support",
        profile=RequirementProfile.CSIP,
        allowed_weekdays="0,1,2,3,4,5,6",
        window_start=None,
        window_end=None,
        min_notice_min=0,
        max_events_per_day=None,
    )
    group = factories.dispatch_group(utility, prog=program)
    curve = factories.curve(
        utility, program=program, curve_type=CurveType.VOLT_VAR, description="Rule 21 VV"
    )
    aus = factories.dispatch_group(
        utility, prog=factories.program(utility, profile=RequirementProfile.CSIP_AUS)
    )
    tz = ZoneInfo("America/Los_Angeles")
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "pm@modes.test")
        page.fill("#id_password", factories.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")

        page.goto(f"{base}/events/new/?group={group.pk}")
        # Discharge first: its group target shows, no other kind's fields.
        assert page.locator("#id_target_kw").is_visible()
        assert not page.locator("#id_op_mod_connect").is_visible()
        assert not page.locator("#id_op_mod_volt_var").is_visible()
        # A CSIP-AUS kind is not offered for a US program's group, but is for a CSIP-AUS one.
        import_limit = page.locator("#id_kind option[value=import_limit]")
        assert import_limit.is_disabled()
        page.select_option("#id_group", str(aus.pk))
        assert not import_limit.is_disabled()
        page.select_option("#id_kind", "import_limit")
        assert page.locator("#id_op_mod_imp_lim_kw").is_visible()
        page.select_option("#id_group", str(group.pk))
        assert import_limit.is_disabled()
        assert page.locator("#id_kind").input_value() != "import_limit"

        page.select_option("#id_kind", "connect")
        assert page.locator("#id_op_mod_connect").is_visible()
        assert page.locator("#id_ramp_s").is_visible()
        assert not page.locator("#id_target_kw").is_visible()
        assert not page.locator("#id_op_mod_max_lim_w").is_visible()
        start = (timezone.now() + timedelta(days=1)).astimezone(tz).replace(hour=16, minute=0)
        page.fill("#id_start_local", start.strftime("%Y-%m-%dT%H:%M"))
        page.fill("#id_duration_min", "30")
        page.select_option("#id_op_mod_connect", label="Disconnect")
        page.fill("#id_ramp_s", "5")
        screenshot(page, "connect")
        page.click("button:has-text('Schedule event')")
        page.wait_for_selector(".badge.status-scheduled")
        modes = page.locator("#event-modes").inner_text()
        assert "disconnect" in modes and "5 s" in modes

        page.goto(f"{base}/events/new/?group={group.pk}")
        page.select_option("#id_kind", "volt_var")
        assert page.locator("#id_op_mod_volt_var").is_visible()
        assert not page.locator("#id_op_mod_connect").is_visible()
        later = start + timedelta(days=1)
        page.fill("#id_start_local", later.strftime("%Y-%m-%dT%H:%M"))
        page.fill("#id_duration_min", "60")
        page.select_option("#id_op_mod_volt_var", label="Rule 21 VV")
        page.click("button:has-text('Schedule event')")
        page.wait_for_selector(".badge.status-scheduled")
        assert "Rule 21 VV" in page.locator("#event-modes").inner_text()
        screenshot(page, "volt-var")
        page.close()
    connect, volt_var = Event.objects.order_by("start")
    assert connect.kind == "connect" and connect.op_mod_connect is False
    assert connect.ramp_tms == 500
    assert volt_var.kind == "volt_var" and volt_var.op_mod_volt_var == curve
