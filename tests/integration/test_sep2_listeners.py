"""The portal and 2030.5 listeners as `make run` and deploy/ start them (portal.processes).

A forged X-SSL-Client-Cert carrying a registered aggregator's *public* certificate, with no
private key, gets no 2xx anywhere: the portal listener does not route 2030.5 paths and drops
the header; the 2030.5 listener wants the proxy secret too; nginx wants a real handshake.
On main before this change the portal listener answered such a request with 200.
"""

import http.client
import ssl
from urllib.parse import quote, urlparse

import pytest

from protocol import pki
from protocol.identity import client_identity_from_der
from protocol.services import client_register
from tests import factories
from tests.integration.servers import asgi_server, sep2_server, subprocess_env
from tests.integration.test_sep2_mtls import client_context, mutual_tls_proxy

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PATHS = ("/dcap", "/edev", "/tm")


def plain(base: str, path: str, headers: dict) -> tuple[int, bytes]:
    url = urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def tls(port: int, context: ssl.SSLContext, path: str, headers: dict) -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_forged_certificate_header_gets_no_2xx_on_any_listener(tmp_path):
    built = pki.build_test_pki(tmp_path / "pki")
    utility = factories.utility()
    program = factories.program(utility)
    identity = client_identity_from_der(built.aggregator.cert_der)
    client_register(
        utility=utility, lfdi=identity.lfdi, kind="aggregator", name="agg", program=program
    )
    forged = {
        "X-SSL-Client-Cert": quote(built.aggregator.cert_pem.decode(), safe=""),
        "X-SSL-Client-Verify": "SUCCESS",
        "X-Forwarded-For": "127.0.0.1",
    }
    env = subprocess_env(tmp_path)
    with (
        asgi_server(env, tmp_path / "web.log") as web,
        sep2_server(env, tmp_path / "sep2.log") as sep2,
        mutual_tls_proxy(tmp_path, built, urlparse(sep2).port) as tls_port,
    ):
        for path in PATHS:
            # The portal listener: not a 2030.5 path there at all.
            assert plain(web, path, forged)[0] == 404, path
            # The 2030.5 listener, reached directly by a local process without the secret.
            status, body = plain(sep2, path, forged)
            assert status == 403 and b"no verified client certificate" in body, (path, body)
            wrong = {**forged, "X-Reservoir-Proxy-Secret": "0" * 64}
            assert plain(sep2, path, wrong)[0] == 403, path
            # nginx: no handshake with the key, no request to the app.
            assert tls(tls_port, client_context(built), path, forged)[0] == 400, path
        # The real key through nginx is served (the same aggregator, for contrast).
        context = client_context(built, built.aggregator_cert, built.aggregator_key)
        assert tls(tls_port, context, "/dcap", {})[0] == 200
        # Portal pages stay on the portal listener and are not on the 2030.5 one.
        assert plain(web, "/accounts/login/", {})[0] == 200
        assert plain(sep2, "/accounts/login/", {})[0] == 404
