"""A vendor engineer generates the certificate's key in the browser (WebCrypto): the CSR
the page encodes passes the server's checks, the certificate is for the downloaded key,
and the private key never travels to the server."""

from urllib.parse import parse_qs

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests import factories
from tests.integration.servers import asgi_server, subprocess_env
from vendors.models import CertificateAuthority, IssuedCertificate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT_MS = 60_000
ISSUE = 'form[action$="/certificate/"] button[type=submit]'


def _login(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_key_generated_in_the_browser_never_reaches_the_server(
    browser, screenshot, tmp_path, settings
):
    settings.VAR_DIR = tmp_path
    utility = factories.utility("Cascade Light")
    org = factories.vendor_organization("Volt Storage ")
    engineer = factories.vendor_member(org, "engineer")
    application = factories.vendor_application(utility, organization=org)
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page(accept_downloads=True)
        page.set_default_timeout(WAIT_MS)
        sent = []  # every request the page makes, with its body
        page.on("request", lambda r: sent.append((r.method, r.url, r.post_data or "")))
        _login(page, base, engineer.email)
        page.goto(f"{base}/vendor/applications/{application.pk}/")

        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.click("#keygen-button")
        page.wait_for_function(
            "() => !document.getElementById('keygen-status').textContent.startsWith('Generating')"
        )
        status = page.locator("#keygen-status").inner_text()
        assert status.startswith("Key generated"), (status, errors)
        csr_pem = page.locator("#id_csr").input_value()
        assert csr_pem.startswith("-----BEGIN CERTIFICATE REQUEST-----")
        assert "never leaves this browser" in page.locator("#keygen-offer").inner_text()
        # Issuing before the key is saved would leave a certificate nobody can use.
        page.click(ISSUE)
        assert "Download the private key first" in page.locator("#keygen-status").inner_text()
        assert not IssuedCertificate.objects.exists()
        screenshot(page, "generated")

        with page.expect_download() as download:
            page.click("#keygen-download")
        filename = download.value.suggested_filename
        assert filename == f"reservoir-application-{application.pk}-key.pem"
        key_pem = download.value.path().read_text()
        key = serialization.load_pem_private_key(key_pem.encode(), None)
        page.wait_for_selector("#keygen-download", state="hidden")  # offered once
        assert "PRIVATE KEY" not in page.locator("form").first.inner_html()

        page.click(ISSUE)
        page.wait_for_selector("#cert-pem")
        screenshot(page, "issued")
        assert "Certificate issued" in page.locator("main").inner_text()
        assert page.locator("#key-pem").count() == 0  # the server generated nothing
        assert "We never had that key" in page.locator("#key-kept").inner_text()

        # The CSR passed the server's checks, and the certificate is for the downloaded key.
        issued = IssuedCertificate.objects.get(application=application)
        assert page.locator("#lfdi").inner_text() == issued.lfdi
        cert = x509.load_pem_x509_certificate(page.locator("#cert-pem").input_value().encode())
        assert cert.public_bytes(serialization.Encoding.PEM).decode() == issued.pem
        assert cert.public_key().public_numbers() == key.public_key().public_numbers()
        mica = CertificateAuthority.objects.get(utility=utility, role="intermediate")
        cert.verify_directly_issued_by(
            x509.load_pem_x509_certificate(mica.certificate_pem.encode())
        )
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        assert csr.is_signature_valid
        common_name = csr.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
        assert common_name.startswith(org.name) and len(common_name.encode()) <= 64

        # What went over the wire: the CSR, and nothing of the private key.
        (post,) = [body for method, url, body in sent if method == "POST" and "certificate" in url]
        assert parse_qs(post)["csr"][0].replace("\r\n", "\n").strip() == csr_pem.strip()
        key_body = "".join(key_pem.strip().splitlines()[1:-1])
        for _method, _url, body in sent:
            fields = " ".join(v for vs in parse_qs(body).values() for v in vs)
            assert "PRIVATE" not in body and "PRIVATE" not in fields
            assert key_body[:40] not in "".join(fields.split())
        page.close()


def test_without_webcrypto_the_page_says_it_needs_https(browser, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    org = factories.vendor_organization()
    engineer = factories.vendor_member(org, "engineer")
    application = factories.vendor_application(factories.utility(), organization=org)
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        # What a plain-HTTP page on a real host name gets: no secure context, no subtle.
        page.add_init_script("Object.defineProperty(window, 'isSecureContext', {value: false});")
        _login(page, base, engineer.email)
        page.goto(f"{base}/vendor/applications/{application.pk}/")
        page.click("#keygen-button")
        status = page.locator("#keygen-status").inner_text()
        assert "HTTPS" in status and "localhost" in status
        assert page.locator("#id_csr").input_value() == ""
        page.close()
