"""A vendor signs up and waits for a platform operator's approval, invites a colleague,
gets a certificate, runs conformance and downloads the reports; a program manager
approves it. The vendor's 2030.5 client is the scripted one from the protocol tests,
driven in this process alongside the run.

Waits are bounded but generous: the machine running these may be busy."""

import json
import threading
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from programs.models import QualifiedEquipment
from protocol import seen
from protocol.conformance.runner import run_advance
from tests import factories
from tests.integration.servers import asgi_server, subprocess_env
from tests.protocol.conformance_clients import ScriptedClient
from vendors.models import ConformanceRun, IssuedCertificate, VendorOrganization

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROCEDURES = ["discovery", "time_sync", "registration", "storage_ratings"]
SHOTS = Path("/work/wt/shots")
WAIT_MS = 60_000  # page loads and run progress on a loaded machine


def _drive(run_id: int, cert_pem: str) -> None:
    from django.db import connection

    vendor_client = ScriptedClient(cert_pem)
    deadline = time.monotonic() + 90
    try:
        while not run_advance(run_id=run_id) and time.monotonic() < deadline:
            vendor_client.tick()
            # The client talks to this process's Django, not to a 2030.5 listener: write its
            # contacts as the listener's flusher would (protocol.seen), for the checklist.
            seen.flush()
            time.sleep(0.3)
    finally:
        connection.close()


def test_vendor_onboarding_in_the_browser(browser, screenshot, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    utility = factories.utility("Cascade Light")
    program = factories.program(utility, name="Summer Peak", status="active")
    factories.dispatch_group(utility, prog=program)
    manager = factories.member(utility)
    operator = factories.user(is_staff=True)
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page(accept_downloads=True)
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{base}/vendor/signup/")
        page.fill("#id_organization", "Volt Storage")
        page.fill("#id_email", "eng@volt.test")
        page.fill("#id_password", "a-long-password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/vendor/")
        # The onboarding checklist: every step to do, each with its link.
        steps = ["profile", "products", "certificate", "sandbox", "conformance", "approval"]
        assert _checklist(page) == dict.fromkeys(steps, "To do")
        page.fill("#id_vendor_name", "Volt")
        page.fill("#id_model_name", "V10")
        page.fill("#id_power_kw", "5")
        page.fill("#id_energy_kwh", "13.5")
        page.click("text=Add product")
        page.select_option("#id_program", label=f"{program.name}")
        page.click("button:has-text('Apply')")
        # Pending: no certificate until a platform operator approves the organisation.
        assert "awaiting approval" in page.locator("main").inner_text()
        assert page.locator("text=Issue certificate").count() == 0
        screenshot(page, "awaiting-approval")
        application_url = page.url

        ops = browser.new_page()
        ops.set_default_timeout(WAIT_MS)
        _login(ops, base, operator.email)
        ops.goto(f"{base}/platform/vendors/")
        org = VendorOrganization.objects.get(name="Volt Storage")
        assert "Awaiting approval" in ops.locator(f"#org-{org.pk}").inner_text()
        ops.click(f"#approve-{org.pk}")
        ops.wait_for_selector("text=Volt Storage is now approved")
        screenshot(ops, "operator-approved")
        ops.close()
        org.refresh_from_db()
        assert org.status == "approved"

        # The vendor's admin invites an engineer, who sets a password from the link.
        page.goto(f"{base}/vendor/team/")
        page.fill("#id_email", "colleague@volt.test")
        page.select_option("#id_role", "engineer")
        page.click("text=Send invitation")
        page.wait_for_selector("text=Invitation sent to colleague@volt.test")
        assert "invitation pending" in page.locator("#team").inner_text()
        invited = get_user_model().objects.get(email="colleague@volt.test")
        uid = urlsafe_base64_encode(force_bytes(invited.pk))
        token = default_token_generator.make_token(invited)  # what the email carries
        colleague = browser.new_page()
        colleague.set_default_timeout(WAIT_MS)
        colleague.goto(f"{base}/vendor/invite/{uid}/{token}/")
        colleague.fill("#id_new_password1", "colleague-passphrase")
        colleague.fill("#id_new_password2", "colleague-passphrase")
        colleague.click("text=Set password")
        colleague.wait_for_url(f"{base}/vendor/")
        assert "Engineer" in colleague.locator("main").inner_text()
        colleague.goto(f"{base}/programs/")
        assert "Vendor accounts use the vendor portal" in colleague.locator("main").inner_text()
        colleague.close()

        page.goto(application_url)
        page.click("text=Issue certificate")
        lfdi = page.locator("#lfdi").inner_text()
        assert "BEGIN PRIVATE KEY" in page.locator("#key-pem").input_value()
        cert_pem = page.locator("#cert-pem").input_value()
        assert IssuedCertificate.objects.get().lfdi == lfdi
        screenshot(page, "certificate")
        page.click("text=Back to the application")
        page.fill("#id_time_scale", "0.01")
        for key in PROCEDURES:
            page.check(f"input[name=procedures][value={key}]")
        page.click("text=Start a run")
        page.wait_for_selector("#run-progress")
        run = ConformanceRun.objects.get()
        # The vendor's client and the run's driver, in a thread of their own (Playwright's
        # event loop owns this one), as a Celery worker would drive the run.
        worker = threading.Thread(target=_drive, args=(run.pk, cert_pem))
        worker.start()
        try:
            page.wait_for_function(
                "() => document.querySelector('#run-status').innerText === 'Passed'",
                timeout=WAIT_MS,
            )
        finally:
            worker.join(timeout=120)
        screenshot(page, "run-passed")
        run_url = page.url
        page.goto(f"{base}/vendor/")
        assert _checklist(page) == {
            "profile": "To do", "products": "Done", "certificate": "Done", "sandbox": "Done",
            "conformance": "Done", "approval": "To do",
        }  # fmt: skip
        assert "Sandbox" in page.locator("#apply ~ table .badge.sandbox").first.inner_text()
        page.goto(run_url)
        with page.expect_download() as download:
            page.click("#report")
        report = json.loads(download.value.path().read_text())
        assert report["status"] == "passed" and report["timeline"]
        with page.expect_download() as download:
            page.click("#report-html")
        assert download.value.suggested_filename == f"conformance-run-{run.pk}.html"
        html = download.value.path().read_text()
        assert 'id="verdict">passed' in html and "<style>" in html and "<script" not in html
        page.close()

        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        _login(page, base, manager.email)
        page.goto(f"{base}/conformance/")
        page.click("text=Review")
        page.click("text=Approve on this run")
        assert "Approved" in page.locator("main").inner_text()
        screenshot(page, "approved")
        (row,) = QualifiedEquipment.objects.filter(program=program)
        assert (row.model_name, row.note) == ("V10", f"Proved by conformance run #{run.pk}")
        page.close()

        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "eng@volt.test")
        page.fill("#id_password", "a-long-password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/vendor/")
        assert _checklist(page) == {**dict.fromkeys(steps, "Done"), "profile": "To do"}
        assert "5 of 6 steps done" in page.locator(".onboarding").inner_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "vendor-checklist.png"), full_page=True)
        screenshot(page, "checklist")
        for href in page.locator(".onboarding-steps a").evaluate_all("els => els.map(a => a.href)"):
            assert page.request.get(href).status == 200, href
        page.click("#step-profile a")
        page.wait_for_url(f"{base}/vendor/contacts/")
        page.close()


def _checklist(page) -> dict[str, str]:
    return {
        item.get_attribute("id").removeprefix("step-"): item.locator(".step-state").inner_text()
        for item in page.locator(".onboarding-steps li").all()
    }


def _login(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
