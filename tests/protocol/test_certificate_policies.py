"""Issued client certificates carry the IEEE 2030.5 certificate policies we claim.

The arc 1.3.6.1.4.1.40732 and its assignments (IEEE 2030.5-2018 §6.11.7.2 device types,
§6.11.7.3 policies) are listed in protocol/conformance/README.md with where we confirmed
them.
"""

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from tests import factories
from tests.protocol.test_conformance import _csr
from vendors.certificates import (
    POLICY_DEVICE_GENERIC,
    POLICY_TEST,
    certificate_issue,
)

pytestmark = pytest.mark.django_db


def test_policy_constants_are_the_standard_assignments():
    assert POLICY_DEVICE_GENERIC.dotted_string == "1.3.6.1.4.1.40732.1.1"
    assert POLICY_TEST.dotted_string == "1.3.6.1.4.1.40732.2.1"


@pytest.mark.parametrize("kind", ["aggregator", "device"])
@pytest.mark.parametrize("from_csr", [True, False])
def test_issued_certificates_carry_device_generic_and_test_policies(utility_a, kind, from_csr):
    application = factories.vendor_application(utility_a)
    csr = _csr(ec.generate_private_key(ec.SECP256R1())) if from_csr else None
    issued = certificate_issue(application=application, kind=kind, csr_pem=csr).certificate
    cert = x509.load_pem_x509_certificate(issued.pem.encode())
    extension = cert.extensions.get_extension_for_class(x509.CertificatePolicies)
    assert extension.critical  # 2030.5 marks the policies extension critical
    oids = [p.policy_identifier.dotted_string for p in extension.value]
    assert oids == ["1.3.6.1.4.1.40732.1.1", "1.3.6.1.4.1.40732.2.1"]
    # Not self-signed test (.2.2), service provider (.2.3), bulk (.2.4) or any other.
    assert all(p.policy_qualifiers is None for p in extension.value)
