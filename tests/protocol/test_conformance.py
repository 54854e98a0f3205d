"""Vendor certificates. Conformance procedures are proved in test_conformance_procedures.py
(each criterion, fast) and tests/integration/test_conformance_fleet.py (a real client)."""

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError

from protocol.identity import client_identity_from_pem
from tests import factories
from tests.protocol.client import SepClient
from tests.protocol.conformance_clients import Pem
from vendors.certificates import certificate_issue, certificate_revoke
from vendors.models import CertificateAuthority

pytestmark = pytest.mark.django_db


def _csr(key, cn="Acme gateway 1") -> str:
    # Longer than one attribute may be: spread over organisational units.
    units = [cn[i : i + 60] for i in range(60, len(cn), 60)]
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn[:60])]
        + [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, u) for u in units]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def application(utility_a):
    return factories.vendor_application(utility_a)


def test_csr_p256_is_signed_and_the_client_gets_in_until_revoked(application):
    key = ec.generate_private_key(ec.SECP256R1())
    issuance = certificate_issue(application=application, csr_pem=_csr(key))
    cert = issuance.certificate
    assert issuance.key_pem is None  # the vendor kept its key
    identity = client_identity_from_pem(cert.pem)
    assert (identity.lfdi, identity.sfdi) == (cert.lfdi, cert.sfdi)
    http = SepClient(Pem(cert.pem.encode()))
    assert http.get("/dcap").status_code == 200
    certificate_revoke(certificate=cert)
    refused = http.get("/dcap")
    assert refused.status_code == 403 and b"revoked" in refused.content


@pytest.mark.parametrize(
    ("key", "cn", "reason"),
    [
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "x", "RSA"),
        (lambda: ec.generate_private_key(ec.SECP384R1()), "x", "secp384r1"),
        (lambda: ec.generate_private_key(ec.SECP256R1()), "y" * 300, "bytes"),
    ],
)
def test_bad_csrs_are_refused_with_the_reason(application, key, cn, reason):
    with pytest.raises(ValidationError) as refused:
        certificate_issue(application=application, csr_pem=_csr(key(), cn))
    assert reason in " ".join(refused.value.messages)
    assert not application.certificates.exists()


def _tampered(pem: str, old: bytes, new: bytes) -> str:
    """The CSR with bytes of its signed part replaced: well formed, signature now wrong."""
    der = x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER)
    assert der.count(old) == 1 and len(old) == len(new)
    tampered = x509.load_der_x509_csr(der.replace(old, new))
    return tampered.public_bytes(serialization.Encoding.PEM).decode()


def test_tampered_csrs_are_refused(application):
    key = ec.generate_private_key(ec.SECP256R1())
    renamed = _tampered(_csr(key, "Acme gateway 1"), b"Acme gateway 1", b"Evil gateway 1")
    # Someone else's public key under this key's signature: what a forged CSR looks like.
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    other_point = other.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    swapped = _tampered(_csr(key), point, other_point)
    for pem in (renamed, swapped):
        with pytest.raises(ValidationError) as refused:
            certificate_issue(application=application, csr_pem=pem)
        assert "signature does not verify" in " ".join(refused.value.messages)
    assert not application.certificates.exists()


def test_generated_key_is_offered_once_and_ca_keys_are_encrypted(application):
    issuance = certificate_issue(application=application)
    assert issuance.key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(issuance.key_pem.encode(), None)
    cert = x509.load_pem_x509_certificate(issuance.certificate.pem.encode())
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert {p.policy_identifier.dotted_string for p in policies} >= {"1.3.6.1.4.1.40732.2.1"}
    for ca in CertificateAuthority.objects.filter(utility=application.utility):
        assert "PRIVATE KEY" not in ca.encrypted_key
    # The issued certificate chains to the utility's intermediate.
    mica = CertificateAuthority.objects.get(utility=application.utility, role="intermediate")
    issuer = x509.load_pem_x509_certificate(mica.certificate_pem.encode())
    cert.verify_directly_issued_by(issuer)
