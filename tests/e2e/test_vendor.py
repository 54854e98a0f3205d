"""A vendor signs up, gets a certificate, runs conformance and downloads the report; a
program manager approves it. The vendor's 2030.5 client is the scripted one from the
protocol tests, driven in this process alongside the run."""

import json
import threading
import time

import pytest

from enrollment.models import ConformanceRun, IssuedCertificate
from programs.models import QualifiedEquipment
from protocol.conformance.runner import run_advance
from tests import factories
from tests.integration.servers import asgi_server, subprocess_env
from tests.protocol.conformance_clients import ScriptedClient

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROCEDURES = ["discovery", "time_sync", "registration", "storage_ratings"]


def _drive(run_id: int, cert_pem: str) -> None:
    from django.db import connection

    vendor_client = ScriptedClient(cert_pem)
    deadline = time.monotonic() + 60
    try:
        while not run_advance(run_id=run_id) and time.monotonic() < deadline:
            vendor_client.tick()
            time.sleep(0.3)
    finally:
        connection.close()


def test_vendor_onboarding_in_the_browser(browser, screenshot, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    utility = factories.utility("Cascade Light")
    program = factories.program(utility, name="Summer Peak", status="active")
    factories.dispatch_group(utility, prog=program)
    manager = factories.member(utility)
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page(accept_downloads=True)
        page.goto(f"{base}/vendor/signup/")
        page.fill("#id_organization", "Volt Storage")
        page.fill("#id_email", "eng@volt.test")
        page.fill("#id_password", "a-long-password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/vendor/")
        page.fill("#id_vendor_name", "Volt")
        page.fill("#id_model_name", "V10")
        page.fill("#id_power_kw", "5")
        page.fill("#id_energy_kwh", "13.5")
        page.click("text=Add product")
        page.select_option("#id_program", label=f"{program.name}")
        page.click("text=Apply")
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
        page.wait_for_function(
            "document.querySelector('#run-status').innerText === 'Passed'", timeout=15000
        )
        worker.join(timeout=60)
        screenshot(page, "run-passed")
        with page.expect_download() as download:
            page.click("#report")
        report = json.loads(download.value.path().read_text())
        assert report["status"] == "passed" and report["timeline"]
        page.close()

        page = browser.new_page()
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", manager.email)
        page.fill("#id_password", factories.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/conformance/")
        page.click("text=Review")
        page.click("text=Approve on this run")
        assert "Approved" in page.locator("main").inner_text()
        screenshot(page, "approved")
        (row,) = QualifiedEquipment.objects.filter(program=program)
        assert (row.model_name, row.note) == ("V10", f"Proved by conformance run #{run.pk}")
        page.close()
