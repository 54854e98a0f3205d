"""A certificate acts only in the utility whose CA issued it, judged by the signature.

One 2030.5 endpoint trusts every utility's CA. A certificate one utility's CA signed must
be refused on another utility's resources even when that other utility's CA carries the
very same name (a look-alike CA): on main the check compared issuer names only, so the
look-alike's certificate was accepted (200).
"""

from cryptography import x509
from cryptography.x509.oid import NameOID

from protocol import pki, services
from protocol.identity import client_identity_from_der
from tests import factories
from tests.protocol.client import SepClient
from vendors.certificates import authority_ensure
from vendors.models import CertificateAuthority

PATHS = ("/dcap", "/edev", "/mup", "/tm")


def _authority(ca: CertificateAuthority) -> pki.Issued:
    """The utility's issuing CA with a key: the test plays that CA."""
    from vendors.certificates import _authority_issued

    signer = _authority_issued(ca)
    return pki.Issued(signer.certificate, signer.key)


def _look_alike(utility, original: CertificateAuthority) -> pki.Issued:
    """Another utility's CA hierarchy whose subjects copy `original`'s exactly."""
    subject = x509.load_pem_x509_certificate(original.certificate_pem.encode()).subject
    (org,) = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    root = pki.create_root_ca(original.parent.common_name, organization=str(org.value))
    mica = pki.create_intermediate_ca(root, original.common_name, organization=str(org.value))
    for role, issued, up in (("root", root, None), ("intermediate", mica, "root")):
        CertificateAuthority.objects.create(
            utility=utility,
            role=role,
            parent=CertificateAuthority.objects.get(utility=utility, role=up) if up else None,
            common_name=issued.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[
                0
            ].value,
            certificate_pem=issued.cert_pem.decode(),
            encrypted_key="-",
            not_after=issued.certificate.not_valid_after_utc,
        )
    return mica


def _client_here(utility, cert: pki.Issued):
    program = factories.program(utility)
    lfdi = client_identity_from_der(cert.cert_der).lfdi
    services.client_register(
        utility=utility, lfdi=lfdi, kind="aggregator", name="claimed", program=program
    )
    return SepClient(cert)


def _names(cert: pki.Issued) -> str:
    return cert.certificate.issuer.rfc4514_string()


def test_a_look_alike_ca_of_another_utility_is_refused_here(db):
    here, there = factories.utility(), factories.utility()
    ours = authority_ensure(utility=here)
    theirs = _look_alike(there, ours)
    # Same subject, different key: the names cannot tell them apart.
    assert (
        theirs.certificate.subject
        == x509.load_pem_x509_certificate(ours.certificate_pem.encode()).subject
    )
    cert = pki.create_client_certificate(theirs, "elsewhere-aggregator", role="aggregator")
    assert _names(cert) == _names(pki.create_client_certificate(_authority(ours), "x"))
    http = _client_here(here, cert)
    for path in PATHS:
        response = http.get(path)
        assert response.status_code == 403, (path, response.content)
        assert b"another utility's CA" in response.content


def test_a_certificate_naming_this_utilitys_ca_but_signed_by_another_key_is_refused(db):
    here = factories.utility()
    ours = authority_ensure(utility=here)
    root = pki.create_root_ca(ours.parent.common_name)
    impostor = pki.create_intermediate_ca(root, ours.common_name, organization=here.name[:60])
    cert = pki.create_client_certificate(impostor, "forged", role="aggregator")
    http = _client_here(here, cert)
    response = http.get("/dcap")
    assert response.status_code == 403, response.content


def test_this_utilitys_own_certificate_acts_here_even_with_a_look_alike_elsewhere(db):
    here, there = factories.utility(), factories.utility()
    ours = authority_ensure(utility=here)
    _look_alike(there, ours)
    cert = pki.create_client_certificate(_authority(ours), "own-aggregator", role="aggregator")
    http = _client_here(here, cert)
    for path in PATHS:
        assert http.get(path).status_code == 200, path


def test_a_certificate_of_no_utility_ca_is_judged_as_before(db):
    """The demo CA and a manufacturer's own PKI are trusted by nginx, not by a utility row."""
    here = factories.utility()
    authority_ensure(utility=here)
    cert = pki.create_client_certificate(pki.create_root_ca("Maker CA"), "m", role="aggregator")
    assert _client_here(here, cert).get("/dcap").status_code == 200


def test_identity_stays_one_query_then_none(db, django_assert_num_queries):
    here, there = factories.utility(), factories.utility()
    ours = authority_ensure(utility=here)
    _look_alike(there, ours)
    cert = pki.create_client_certificate(_authority(ours), "own-aggregator", role="aggregator")
    http = _client_here(here, cert)
    assert http.get("/tm").status_code == 200  # first contact notes last_seen_at
    from protocol import cache
    from protocol.fsets.base import client_for

    identity = client_identity_from_der(cert.cert_der)
    cache.clients.clear()
    with django_assert_num_queries(1):
        assert client_for(identity) is not None
    with django_assert_num_queries(0):
        assert client_for(identity) is not None
