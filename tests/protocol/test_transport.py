"""The forwarded client certificate is believed only from a trusted proxy."""

from urllib.parse import quote

import pytest
from django.test import RequestFactory

from protocol import pki
from protocol.identity import lfdi_from_cert_der
from protocol.transport import client_certificate_from_request, client_identity_from_request


@pytest.fixture(scope="module")
def device():
    root = pki.create_root_ca()
    return pki.create_client_certificate(pki.create_intermediate_ca(root), "Device")


def request_from(peer: str, header: str | None = None, *, secret: str | None = None, **extra):
    from django.conf import settings

    meta = {"REMOTE_ADDR": peer, **extra}
    meta["HTTP_X_RESERVOIR_PROXY_SECRET"] = settings.SEP2_PROXY_SECRET if secret is None else secret
    if header is not None:
        meta["HTTP_X_SSL_CLIENT_CERT"] = header
    return RequestFactory().get("/dcap", **meta)


def escaped(issued) -> str:
    return quote(issued.cert_pem.decode(), safe="")  # what $ssl_client_escaped_cert sends


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1"])
def test_trusted_proxy_header_is_honoured(device, peer):
    request = request_from(peer, escaped(device))
    assert client_certificate_from_request(request) == device.cert_der
    assert client_identity_from_request(request).lfdi == lfdi_from_cert_der(device.cert_der)


@pytest.mark.parametrize("peer", ["203.0.113.9", "10.0.0.5", "", "127.0.0.2"])
def test_forged_header_from_untrusted_peer_is_ignored(device, peer):
    request = request_from(peer, escaped(device))
    assert client_certificate_from_request(request) is None
    assert client_identity_from_request(request) is None


@pytest.mark.parametrize("secret", ["", "wrong", "x" * 64])
def test_header_from_trusted_peer_without_the_proxy_secret_is_ignored(device, secret):
    """Failed before the proxy secret: any local process reaching the app could forge it."""
    request = request_from("127.0.0.1", escaped(device), secret=secret)
    assert client_certificate_from_request(request) is None


def test_no_secret_configured_trusts_no_header(device, settings):
    settings.SEP2_PROXY_SECRET = ""
    request = request_from("127.0.0.1", escaped(device), secret="")
    assert client_certificate_from_request(request) is None


def test_trusted_proxies_come_from_settings(device, settings):
    settings.SEP2_TRUSTED_PROXIES = ["10.0.0.5"]
    assert client_certificate_from_request(request_from("10.0.0.5", escaped(device)))
    assert client_certificate_from_request(request_from("127.0.0.1", escaped(device))) is None


@pytest.mark.parametrize("header", ["", "not-a-cert", quote("-----BEGIN CERTIFICATE-----\nx")])
def test_missing_or_garbled_header_means_no_certificate(header):
    assert client_certificate_from_request(request_from("127.0.0.1", header)) is None


def test_no_header_means_no_certificate():
    assert client_identity_from_request(request_from("127.0.0.1")) is None


def test_asgi_tls_extension_is_used(device):
    request = request_from("198.51.100.1")
    request.scope = {"extensions": {"tls": {"client_cert_chain": [device.cert_pem.decode()]}}}
    assert client_certificate_from_request(request) == device.cert_der


@pytest.mark.parametrize(
    ("proxies", "peer", "trusted"),
    [
        (["10.1.0.0/16"], "10.1.2.3", True),
        (["10.1.0.0/16"], "10.2.0.1", False),
        (["127.0.0.1"], "::ffff:127.0.0.1", True),
        (["::1"], "::1", True),
        (["127.0.0.1"], "unix:/run/reservoir.sock", False),
    ],
)
def test_trusted_proxy_networks(device, settings, proxies, peer, trusted):
    settings.SEP2_TRUSTED_PROXIES = proxies
    result = client_certificate_from_request(request_from(peer, escaped(device)))
    assert (result == device.cert_der) is trusted


@pytest.mark.parametrize(
    ("verify", "accepted"),
    [("SUCCESS", True), ("NONE", False), ("FAILED:unable to get issuer", False)],
)
def test_proxy_verification_result_is_respected(device, verify, accepted):
    request = request_from("127.0.0.1", escaped(device), HTTP_X_SSL_CLIENT_VERIFY=verify)
    assert (client_certificate_from_request(request) is not None) is accepted
