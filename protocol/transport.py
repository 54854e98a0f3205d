"""Where a request's client certificate comes from.

In production nginx terminates TLS, verifies the client certificate against the program
CA bundle and forwards it URL-encoded in `X-SSL-Client-Cert` (see
deploy/nginx/reservoir-sep2.conf). That header is only as trustworthy as the hop that set
it, so it is honoured only when both hold:

- the real peer (the 2030.5 listener runs without --proxy-headers, so REMOTE_ADDR is the
  hop itself) is one of `SEP2_TRUSTED_PROXIES`;
- the request carries the per-install `SEP2_PROXY_SECRET` in `X-Reservoir-Proxy-Secret`,
  which nginx sets on every request it forwards (overwriting anything a client sent).

The portal listener strips all of these headers (portal.asgi). An ASGI server that
terminates TLS itself can instead hand the chain over in the ASGI TLS extension.
"""

import hmac
import ipaddress
import logging
from functools import lru_cache
from urllib.parse import quote, unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.http import HttpRequest

from protocol import cache
from protocol.identity import ClientIdentity, client_identity_from_der

logger = logging.getLogger(__name__)

CLIENT_CERT_HEADER = "HTTP_X_SSL_CLIENT_CERT"
CLIENT_VERIFY_HEADER = "HTTP_X_SSL_CLIENT_VERIFY"
PROXY_SECRET_HEADER = "HTTP_X_RESERVOIR_PROXY_SECRET"  # noqa: S105  (a header name)
# The same headers as ASGI scope names (lower-case bytes), for listeners that strip them.
PROXY_HEADER_NAMES = (b"x-ssl-client-cert", b"x-ssl-client-verify", b"x-reservoir-proxy-secret")
DEFAULT_TRUSTED_PROXIES = ("127.0.0.1", "::1")


@lru_cache(maxsize=64)
def _networks(entries: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


@lru_cache(maxsize=4096)
def _trusted(peer: str, entries: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False  # unix sockets and garbage are never trusted
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(entries))


def is_trusted_proxy(peer: str) -> bool:
    """Whether `peer` (REMOTE_ADDR) is one of SEP2_TRUSTED_PROXIES (addresses or CIDRs).

    Parsed once per (peer, setting): this runs on every 2030.5 request."""
    entries = getattr(settings, "SEP2_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES)
    return _trusted(peer, tuple(entries))


def proxy_secret_matches(presented: str | None) -> bool:
    """Whether `presented` is this install's SEP2_PROXY_SECRET (never true when unset)."""
    expected = getattr(settings, "SEP2_PROXY_SECRET", "") or ""
    if not expected or not presented:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def proxy_headers(pem: bytes | str) -> dict[str, str]:
    """The headers the trusted proxy adds for a verified client certificate `pem`: for
    in-process test clients and benches that stand in for nginx."""
    if isinstance(pem, bytes):
        pem = pem.decode("ascii")
    return {
        "X-SSL-Client-Cert": quote(pem, safe=""),
        "X-SSL-Client-Verify": "SUCCESS",
        "X-Reservoir-Proxy-Secret": settings.SEP2_PROXY_SECRET,
    }


def _pem_to_der(pem: str) -> bytes | None:
    known = cache.certificates.get(pem)
    if known is not None:
        return known or None
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        der = b""
    else:
        der = certificate.public_bytes(Encoding.DER)
    cache.certificates.put(pem, der)  # b"": not a certificate
    return der or None


def client_certificate_from_request(request: HttpRequest) -> bytes | None:
    """The DER of the client's TLS certificate, or None when there is none we can trust."""
    scope = getattr(request, "scope", None) or {}
    chain = (scope.get("extensions") or {}).get("tls", {}).get("client_cert_chain") or []
    if chain:
        der = _pem_to_der(chain[0])
        if der is None:
            logger.warning("unparseable client certificate in the ASGI TLS extension")
        return der

    header = request.META.get(CLIENT_CERT_HEADER)
    if not header:
        return None
    peer = request.META.get("REMOTE_ADDR", "")
    if not is_trusted_proxy(peer):
        logger.warning("ignored X-SSL-Client-Cert from untrusted peer %s", peer)
        return None
    if not proxy_secret_matches(request.META.get(PROXY_SECRET_HEADER)):
        logger.warning("ignored X-SSL-Client-Cert from %s without the proxy secret", peer)
        return None
    verify = request.META.get(CLIENT_VERIFY_HEADER)
    if verify is not None and verify != "SUCCESS":
        # Defence in depth should the proxy ever be set to `ssl_verify_client optional`.
        logger.warning("proxy %s reports client certificate verification %s", peer, verify)
        return None
    der = _pem_to_der(unquote(header))
    if der is None:
        logger.warning("unparseable X-SSL-Client-Cert from proxy %s", peer)
    return der


def client_identity_from_request(request: HttpRequest) -> ClientIdentity | None:
    """The client's LFDI/SFDI, or None: the caller answers None with 403."""
    der = client_certificate_from_request(request)
    if not der:
        return None
    # The identity is a pure function of the certificate: parse each one once per process.
    identity = cache.identities.get(der)
    if identity is None:
        identity = client_identity_from_der(der)
        cache.identities.put(der, identity)
    return identity
