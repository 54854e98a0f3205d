"""A program manager creates a volt-var curve in a real browser and sees its chart, which
follows the points as they are typed (issue 17, DERCurves)."""

import pytest

from programs.models import Curve
from tenancy.choices import Role
from tests import factories
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def chart_points(page) -> int:
    return int(page.locator("#curve-chart").get_attribute("data-points") or 0)


def test_manager_creates_a_volt_var_curve_and_sees_its_chart(
    browser, screenshot, tmp_path, settings
):
    settings.VAR_DIR = tmp_path
    utility = factories.utility("Cascadia", slug="cascadia")
    manager = factories.member(utility, Role.PROGRAM_MANAGER, email="pm@curves.example")
    program = factories.program(utility, name="Volt Savers")
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", manager.username)
        page.fill("#id_password", factories.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

        page.goto(f"{base}/programs/{program.pk}/")
        assert page.locator("#curves").get_by_text("No curves").is_visible()
        page.get_by_role("link", name="New curve").click()
        page.fill("#id_description", "IEEE 1547 cat B")
        page.select_option("#id_curve_type", label="Volt-var")
        page.select_option("#id_y_ref_type", label="% of setMaxVar")
        page.fill("#id_points", "92, 44\n98, 0\n102, 0")
        # The chart follows the typing before anything is saved.
        page.wait_for_function("() => document.querySelector('#curve-chart canvas') !== null")
        assert chart_points(page) == 3
        page.locator("#id_points").press("End")
        page.locator("#id_points").type("\n108, -44")
        assert chart_points(page) == 4
        page.click("button:has-text('Save curve')")

        page.wait_for_url(lambda url: "/curves/" in url and "/new/" not in url)
        assert "saved" in page.locator("body").inner_text()
        assert page.locator("#curve-chart canvas").first.is_visible()
        assert chart_points(page) == 4
        labels = page.locator("#curve-chart").get_attribute("aria-label")
        assert "Voltage, % of nominal" in labels
        assert "Reactive power, % of setMaxVar" in labels
        screenshot(page, "volt-var-chart")

        page.goto(f"{base}/programs/{program.pk}/")
        assert page.locator("#curves").get_by_role("link", name="IEEE 1547 cat B").is_visible()
        page.close()
    curve = Curve.objects.get()
    assert curve.program_id == program.pk and curve.curve_type == 11
    assert [p["x"] for p in curve.points] == [92, 98, 102, 108]
