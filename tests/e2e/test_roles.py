"""Each kind of user, in a real browser on the seeded demo, walks every link of their
navigation (every one answers 200) and is offered no action their role may not take
(issue 19, "Roles")."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from portal.demo import DEMO_PASSWORD
from portal.models import Alert, AlertKind, AlertRule
from programs.models import Program
from tenancy.models import Utility
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WRITES = ["New event", "Edit rules", "New program", "Acknowledge", "Resolve", "Cancel event",
          "Save branding", "Add brand", "Add site", "Settle now", "Revoke"]  # fmt: skip
ROLES = {
    # login: (labels that must be in the navigation, labels that must not, actions not offered)
    "pm@cascadia.example": ({"Programs", "Events", "Alerts", "Utility", "API"},
                            {"My battery", "My organisation", "Status", "Admin"}, []),
    "operator@cascadia.example": ({"Control room", "Events", "Alerts"},
                                  {"My battery", "My organisation", "Admin"},
                                  ["Edit rules", "New program", "Save branding"]),
    "analyst@cascadia.example": ({"Programs", "Events", "Alerts", "Settlement"},
                                 {"My battery", "My organisation", "Status", "Admin"}, WRITES),
    # A customer lands on their utility's branded pages, whose navigation is their own.
    "customer@cascadia.example": ({"My enrollments", "Past events"},
                                  {"Home", "API", "My organisation", "Programs", "Admin"}, WRITES),
    "engineer@voltstack.example": ({"My organisation", "API"},
                                   {"My battery", "Programs", "Admin"}, WRITES),
    "ops@reservoir.example": ({"Status", "Admin", "Vendor organisations"}, {"My battery"}, []),
}  # fmt: skip


def login(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def test_every_role_walks_its_navigation_and_is_offered_only_its_actions(
    browser, screenshot, tmp_path, settings
):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    cascadia = Utility.objects.get(slug="cascadia")
    rule = AlertRule.objects.for_utility(cascadia).get(kind=AlertKind.DEVICE_STALE, program=None)
    Alert.objects.create(
        utility=cascadia,
        rule=rule,
        kind=AlertKind.DEVICE_STALE,
        subject_key="device:0",
        message="Stale battery",
        opened_at=timezone.now(),
    )
    program = Program.objects.for_utility(cascadia).filter(is_sandbox=False).first()
    assert program is not None
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        for username, (must, must_not, forbidden) in ROLES.items():
            context = browser.new_context()
            page = context.new_page()
            login(page, base, username)
            nav = page.locator("nav[aria-label=Main] a")
            links = {nav.nth(i).inner_text(): nav.nth(i).get_attribute("href")
                     for i in range(nav.count())}  # fmt: skip
            assert must <= set(links), (username, links)
            assert not must_not & set(links), (username, links)
            visited = list(links.values())
            if "Programs" in links:
                visited.append(f"/programs/{program.pk}/")
            for href in visited:
                response = page.goto(f"{base}{href}")
                assert response is not None and response.status == 200, (username, href)
                if href.startswith("/api/"):
                    # The API docs (Swagger UI) show every operation as a toggle button:
                    # documentation of the API, not an action offered on a page.
                    continue
                offered = [w for w in forbidden if page.get_by_role("button", name=w).count()
                           or page.get_by_role("link", name=w, exact=True).count()]  # fmt: skip
                assert not offered, (username, href, offered)
                if href == "/alerts/" and "Resolve" not in forbidden:
                    assert page.get_by_role("button", name="Resolve").count(), username
            screenshot(page, username.split("@")[0])
            context.close()
