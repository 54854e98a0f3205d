"""Who a 2030.5 client is: LFDI and SFDI derived from its certificate.

The LFDI is the leftmost 160 bits of the SHA-256 hash of the certificate's DER encoding,
written as 40 upper-case hex digits. The SFDI is the leftmost 36 bits of that same hash
as a decimal number followed by a check digit that makes the sum of all digits a
multiple of 10.
"""

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

LFDI_HEX_DIGITS = 40
SFDI_BITS = 36
_LFDI = re.compile(r"[0-9A-Fa-f]{40}")


def lfdi_from_cert_der(der: bytes) -> str:
    """The certificate's LFDI: 40 upper-case hex digits."""
    if not der:
        raise ValueError("empty certificate")
    return hashlib.sha256(der).hexdigest()[:LFDI_HEX_DIGITS].upper()


def sfdi_check_digit(number: int) -> int:
    """The digit that brings the digit sum of `number` up to a multiple of 10."""
    return -sum(int(d) for d in str(number)) % 10


def sfdi_from_lfdi(lfdi: str) -> int:
    """The SFDI for an LFDI: its leftmost 36 bits in decimal, then the check digit."""
    if not isinstance(lfdi, str) or not _LFDI.fullmatch(lfdi):
        raise ValueError("an LFDI is exactly 40 hex digits")
    leading = int(lfdi, 16) >> (4 * LFDI_HEX_DIGITS - SFDI_BITS)
    return leading * 10 + sfdi_check_digit(leading)


def sfdi_is_valid(sfdi: int) -> bool:
    """True when the last digit of `sfdi` is the right check digit for the rest."""
    if isinstance(sfdi, bool) or not isinstance(sfdi, int) or sfdi < 0:
        return False
    return sum(int(d) for d in str(sfdi)) % 10 == 0 and sfdi < (1 << SFDI_BITS) * 10


@dataclass(frozen=True)
class ClientIdentity:
    """A client as the server knows it from its TLS certificate."""

    lfdi: str
    sfdi: int
    certificate: x509.Certificate

    def __str__(self) -> str:
        return self.lfdi


def client_identity_from_der(der: bytes) -> ClientIdentity:
    certificate = x509.load_der_x509_certificate(der)
    lfdi = lfdi_from_cert_der(der)
    return ClientIdentity(lfdi=lfdi, sfdi=sfdi_from_lfdi(lfdi), certificate=certificate)


def client_identity_from_pem(pem: bytes | str) -> ClientIdentity:
    """Identity from a PEM certificate; the hash is over its DER form, as the standard says."""
    if isinstance(pem, str):
        pem = pem.encode("ascii")
    certificate = x509.load_pem_x509_certificate(pem)
    return client_identity_from_der(certificate.public_bytes(Encoding.DER))


@lru_cache(maxsize=256)
def _authority(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def issued_by(certificate: x509.Certificate, authority_pem: str) -> bool:
    """Whether the CA certificate `authority_pem` issued `certificate`, judged by the
    signature (and the key identifiers, when both carry one), never by names alone: a
    look-alike CA with the very same subject has another key and fails."""
    try:
        authority = _authority(authority_pem)
        certificate.verify_directly_issued_by(authority)
    except (ValueError, TypeError, InvalidSignature):
        return False
    try:
        aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
        ski = authority.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return True
    return aki.value.key_identifier in (None, ski.value.digest)
