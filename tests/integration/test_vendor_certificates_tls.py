"""Vendor certificates over real mutual TLS: nginx → uvicorn → Django.

A certificate issued from the utility's CA is accepted; once revoked, the very next
request is refused.
"""

import subprocess
from urllib.parse import urlparse

import pytest

from protocol import pki
from tests import factories
from tests.integration.servers import sep2_server, subprocess_env
from tests.integration.test_sep2_flow_tls import TlsSep
from tests.integration.test_sep2_mtls import (
    client_context,
    free_port,
    nginx_config,
    require_nginx,
    stop,
    wait_for_port,
)
from vendors.certificates import certificate_issue, certificate_revoke, chain_pem

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_issued_certificate_is_accepted_then_refused_once_revoked(tmp_path):
    nginx = require_nginx()
    built = pki.build_test_pki(tmp_path / "pki")
    utility = factories.utility()
    application = factories.vendor_application(utility)
    issuance = certificate_issue(application=application)
    # nginx trusts the utility's hierarchy too; the vendor's key exists only in this test.
    with built.ca_bundle.open("a") as bundle:
        bundle.write(chain_pem(utility=utility))
    cert_path, key_path = tmp_path / "vendor.pem", tmp_path / "vendor.key"
    intermediate = application.certificates.get().authority.certificate_pem
    cert_path.write_text(issuance.certificate.pem + intermediate)
    key_path.write_text(issuance.key_pem)
    key_path.chmod(0o600)
    with sep2_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        tls_port = free_port()
        conf = tmp_path / "nginx.conf"
        conf.write_text(nginx_config(tmp_path, built, tls_port, urlparse(base).port))
        log = tmp_path / "nginx.out"
        with log.open("wb") as out:
            proxy = subprocess.Popen(
                [nginx, "-p", str(tmp_path), "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
            )
        try:
            wait_for_port(tls_port, proxy, log)
            sep = TlsSep(tls_port, client_context(built, cert_path, key_path))
            status, _, content = sep.call("GET", "/dcap")
            assert status == 200, content
            certificate_revoke(certificate=issuance.certificate)
            status, _, content = sep.call("GET", "/dcap")
            assert status == 403 and b"revoked" in content
            sep.close()
        finally:
            stop(proxy)
