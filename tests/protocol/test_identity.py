import hashlib

import pytest
from cryptography import x509

from protocol import pki
from protocol.identity import (
    client_identity_from_pem,
    lfdi_from_cert_der,
    sfdi_check_digit,
    sfdi_from_lfdi,
    sfdi_is_valid,
)

# The worked example in IEEE 2030.5: 0x3E4F45AB3 (the leftmost 36 bits) is 16726121139,
# whose digits sum to 39, so the check digit is 1.
STANDARD_LFDI = "3E4F45AB31EDFE5B67E343E5E4562E31984E23E5"
STANDARD_SFDI = 167261211391


def test_standard_worked_example():
    assert sfdi_from_lfdi(STANDARD_LFDI) == STANDARD_SFDI
    assert sfdi_from_lfdi(STANDARD_LFDI.lower()) == STANDARD_SFDI
    assert sfdi_is_valid(STANDARD_SFDI)
    assert not sfdi_is_valid(STANDARD_SFDI + 1)


@pytest.mark.parametrize(
    ("number", "digit"), [(0, 0), (1, 9), (19, 0), (16726121139, 1), (99999, 5)]
)
def test_check_digit(number, digit):
    assert sfdi_check_digit(number) == digit
    assert sum(int(d) for d in f"{number}{digit}") % 10 == 0


@pytest.mark.parametrize("lfdi", ["", "3E4F", STANDARD_LFDI + "0", "G" * 40, None])
def test_bad_lfdi_is_refused(lfdi):
    with pytest.raises(ValueError):
        sfdi_from_lfdi(lfdi)


def test_lfdi_is_the_leftmost_160_bits_of_sha256():
    der = b"\x30\x03\x02\x01\x01"
    digest = hashlib.sha256(der).digest()
    assert lfdi_from_cert_der(der) == digest[:20].hex().upper()
    assert len(lfdi_from_cert_der(der)) == 40
    with pytest.raises(ValueError):
        lfdi_from_cert_der(b"")


def test_identity_from_pem_hashes_the_der_encoding():
    root = pki.create_root_ca()
    device = pki.create_client_certificate(root, "Device 1")
    identity = client_identity_from_pem(device.cert_pem.decode())
    expected_lfdi = hashlib.sha256(device.cert_der).hexdigest()[:40].upper()
    assert identity.lfdi == expected_lfdi
    assert identity.sfdi == sfdi_from_lfdi(expected_lfdi)
    assert sfdi_is_valid(identity.sfdi)
    assert identity.certificate == device.certificate
    other = pki.create_client_certificate(root, "Device 2")
    assert client_identity_from_pem(other.cert_pem).lfdi != identity.lfdi


def test_identity_from_pem_refuses_garbage():
    with pytest.raises(ValueError):
        client_identity_from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def test_pki_hierarchy(tmp_path):
    built = pki.build_test_pki(tmp_path)
    root, mica = built.root.certificate, built.intermediate.certificate
    device = built.device.certificate
    device.verify_directly_issued_by(mica)
    mica.verify_directly_issued_by(root)
    built.server.certificate.verify_directly_issued_by(mica)
    assert mica.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert device.not_valid_after_utc == pki.NO_EXPIRY
    assert built.aggregator.certificate.not_valid_after_utc < pki.NO_EXPIRY
    assert device.public_key().curve.name == "secp256r1"
    assert (built.device_key.stat().st_mode & 0o777) == 0o600
    san = built.server.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert "localhost" in san.value.get_values_for_type(x509.DNSName)
    with pytest.raises(ValueError):
        pki.create_client_certificate(built.intermediate, "x", role="meter")
