"""A utility's 2030.5 CA hierarchy and the client certificates it issues to vendors.

Root (SERCA-like) → intermediate (MICA-like) → client, all ECDSA P-256 / SHA-256.
CA private keys are stored only as Fernet tokens under settings.CA_KEY_ENCRYPTION_KEY.
Client keys are never stored: a vendor either sends a CSR (its own, or one the vendor
page makes with a key generated in the browser), or receives a server-generated key once,
in the response that issues the certificate.

Certificate policies under the SEP 2 arc 1.3.6.1.4.1.40732 (IEEE 2030.5-2018 §6.11.7.2
device types: .1.1 generic, .1.2 mobile, .1.3 post-manufacture; §6.11.7.3 policies: .2.1
test, .2.2 self-signed test, .2.3 service provider, .2.4 bulk-issued). Sandbox
certificates carry "device generic" and "test". Where this was confirmed: the
"Certificate policy OIDs" section of protocol/conformance/README.md.

The 2030.5 side (the certificate's LFDI/SFDI, the sandbox client it lets in) is reached
through `vendors.registry`; this module never imports `protocol`.
"""

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from vendors.models import CertificateAuthority, IssuedCertificate, VendorApplication
from vendors.registry import engine
from vendors.roles import Capability, vendor_capability_check
from vendors.services import trust_write_on_commit, vendor_organization_check_approved

# 2030.5 device certificates never expire (notAfter 99991231235959Z).
NO_EXPIRY = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
POLICY_DEVICE_GENERIC = x509.ObjectIdentifier("1.3.6.1.4.1.40732.1.1")
POLICY_TEST = x509.ObjectIdentifier("1.3.6.1.4.1.40732.2.1")
MAX_SUBJECT_BYTES = 256
MAX_CN_CHARS = 64
# A CRL stays valid this long; beat rewrites them daily, and on every CA or revocation.
CRL_VALID_DAYS = 30


def _fernet() -> Fernet:
    return Fernet(settings.CA_KEY_ENCRYPTION_KEY.encode())


def _encrypt_key(key: ec.EllipticCurvePrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _fernet().encrypt(raw).decode()


@dataclass(frozen=True)
class Signer:
    """A CA certificate with its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _authority_issued(ca: CertificateAuthority) -> Signer:
    key = serialization.load_der_private_key(_fernet().decrypt(ca.encrypted_key.encode()), None)
    return Signer(x509.load_pem_x509_certificate(ca.certificate_pem.encode()), key)


def _store(utility, role, issued, parent=None) -> CertificateAuthority:
    ca = CertificateAuthority(
        utility=utility,
        role=role,
        parent=parent,
        common_name=issued.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
        certificate_pem=issued.certificate.public_bytes(serialization.Encoding.PEM).decode(),
        encrypted_key=_encrypt_key(issued.key),
        not_after=issued.certificate.not_valid_after_utc,
    )
    ca.full_clean()
    ca.save()
    return ca


@transaction.atomic
def authority_ensure(*, utility) -> CertificateAuthority:
    """The utility's issuing (intermediate) CA, creating root and intermediate on first use."""
    issuing = CertificateAuthority.objects.for_utility(utility).filter(role="intermediate").first()
    if issuing is not None:
        return issuing
    org = utility.name[:60]
    conformance = engine()  # the 2030.5-shaped hierarchy (SERCA-like root, MICA-like CA)
    root = conformance.ca_root_create(f"{org} SERCA"[:MAX_CN_CHARS], organization=org)
    mica = conformance.ca_intermediate_create(root, f"{org} MICA"[:MAX_CN_CHARS], organization=org)
    try:
        with transaction.atomic():
            root_row = _store(utility, "root", root)
            issuing = _store(utility, "intermediate", mica, parent=root_row)
    except (IntegrityError, ValidationError):
        # Concurrent first issuances (several clients at once on a fresh install): another
        # request stored the hierarchy after this one looked. Use it; a 500 helps nobody.
        stored = CertificateAuthority.objects.for_utility(utility).filter(role="intermediate")
        winner = stored.first()
        if winner is None:
            raise
        return winner
    trust_write_on_commit()  # nginx must trust the new hierarchy
    return issuing


def chain_pem(*, utility) -> str:
    """Issuing CA then root, PEM: what a vendor's TLS stack needs to present its chain."""
    cas = CertificateAuthority.objects.for_utility(utility).order_by("-pk")
    return "".join(ca.certificate_pem for ca in cas)


def csr_check(pem: str | bytes) -> x509.CertificateSigningRequest:
    """A CSR we will sign, or ValidationError saying why not (EC P-256 only)."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError:
        raise ValidationError("Not a PEM certificate signing request.") from None
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValidationError(
            f"2030.5 requires an ECDSA P-256 key; this CSR has {type(key).__name__.lstrip('_')}."
        )
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValidationError(
            f"2030.5 requires the P-256 (secp256r1) curve; this CSR uses {key.curve.name}."
        )
    if not csr.is_signature_valid:
        raise ValidationError("The CSR's signature does not verify.")
    subject_len = len(csr.subject.public_bytes())
    if subject_len > MAX_SUBJECT_BYTES:
        raise ValidationError(
            f"The subject is {subject_len} bytes; at most {MAX_SUBJECT_BYTES} are accepted."
        )
    for attr in csr.subject:
        if attr.oid == NameOID.COMMON_NAME and len(attr.value) > MAX_CN_CHARS:
            raise ValidationError(f"The common name is longer than {MAX_CN_CHARS} characters.")
    return csr


@dataclass(frozen=True)
class Issuance:
    certificate: IssuedCertificate
    key_pem: str | None  # only when the server generated the key: shown once, never stored


def _sign(*, issuer: Signer, public_key, common_name: str, kind: str, org: str):
    now = dt.datetime.now(dt.UTC)
    not_after = NO_EXPIRY if kind == "device" else now + dt.timedelta(days=730)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org[:64] or "vendor"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:MAX_CN_CHARS] or "client"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, True, False, False, False, False), True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .add_extension(
            x509.CertificatePolicies(
                [
                    x509.PolicyInformation(POLICY_DEVICE_GENERIC, None),
                    x509.PolicyInformation(POLICY_TEST, None),
                ]
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False
        )
        .sign(issuer.key, hashes.SHA256())
    )


@transaction.atomic
def certificate_issue(
    *,
    application: VendorApplication,
    kind: str = "aggregator",
    csr_pem: str | None = None,
    common_name: str = "",
    actor=None,
) -> Issuance:
    """Sign a CSR (or a server-generated key) and let the certificate into the sandbox.

    Only for an approved organisation, and, when a user asks (`actor`), one whose role
    may test. The new Client is mapped to the application's sandbox program, so the
    2030.5 endpoint accepts the certificate from the next request on.
    """
    if actor is not None:
        vendor_capability_check(
            user=actor, organization=application.organization, capability=Capability.TEST
        )
    vendor_organization_check_approved(organization=application.organization)
    kinds = list(engine().client_kinds)
    if kind not in kinds:
        raise ValidationError(f"kind must be one of {kinds}")
    if application.sandbox_program_id is None:
        raise ValidationError("The application has no sandbox yet.")
    key = None
    if csr_pem:
        public_key = csr_check(csr_pem).public_key()
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        public_key = key.public_key()
    authority = authority_ensure(utility=application.utility)
    org = application.organization.name
    cert = _sign(
        issuer=_authority_issued(authority),
        public_key=public_key,
        common_name=common_name or f"{org} {kind}",
        kind=kind,
        org=org,
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    lfdi, sfdi = engine().sandbox_client_register(
        utility=application.utility,
        certificate_der=der,
        kind=kind,
        name=f"{org} sandbox {kind}"[:120],
        program=application.sandbox_program,
        cert_not_after=cert.not_valid_after_utc,
    )
    issued = _issued_store(
        utility=application.utility,
        application=application,
        authority=authority,
        kind=kind,
        identity=(lfdi, sfdi),
        cert=cert,
    )
    if not application.certificate_issued:
        application.certificate_issued = True
        application.save(update_fields=["certificate_issued"])
    key_pem = None
    if key is not None:
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    return Issuance(certificate=issued, key_pem=key_pem)


@transaction.atomic
def utility_certificate_issue(
    *, utility, csr_pem: str, kind: str, common_name: str = ""
) -> IssuedCertificate:
    """Sign a client's CSR with the utility's own CA (no vendor application): the
    northbound API's "issue from CSR". The CSR passes the same gate as a vendor's
    (`csr_check`); the subject is the server's (O = utility, CN = `common_name`). The
    caller registers the 2030.5 client the certificate maps to."""
    kinds = list(engine().client_kinds)
    if kind not in kinds:
        raise ValidationError(f"kind must be one of {kinds}")
    public_key = csr_check(csr_pem).public_key()
    authority = authority_ensure(utility=utility)
    cert = _sign(
        issuer=_authority_issued(authority),
        public_key=public_key,
        common_name=common_name or f"{utility.name} {kind}",
        kind=kind,
        org=utility.name,
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    lfdi, sfdi = engine().certificate_identity(der)
    return _issued_store(
        utility=utility,
        application=None,
        authority=authority,
        kind=kind,
        identity=(lfdi, sfdi),
        cert=cert,
    )


def _issued_store(
    *, utility, application, authority, kind: str, identity: tuple[str, int], cert
) -> IssuedCertificate:
    """The record of a certificate the utility's CA signed (its public part only)."""
    lfdi, sfdi = identity
    issued = IssuedCertificate(
        utility=utility,
        application=application,
        authority=authority,
        kind=kind,
        lfdi=lfdi,
        sfdi=sfdi,
        serial=f"{cert.serial_number:X}",
        not_after=cert.not_valid_after_utc,
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
    )
    issued.full_clean()
    issued.save()
    return issued


def utility_certificate_revoked_set(*, utility, lfdi: str, revoked: bool) -> int:
    """Mark the utility's issued certificate for `lfdi` revoked (or restored) and have the
    CRLs rewritten, so nginx refuses (or accepts again) it at the handshake."""
    now = timezone.now() if revoked else None
    changed = (
        IssuedCertificate.objects.for_utility(utility)
        .filter(lfdi=lfdi)
        .exclude(revoked=revoked)
        .update(revoked=revoked, revoked_at=now)
    )
    if changed:
        trust_write_on_commit()
    return changed


@transaction.atomic
def certificate_revoke(*, certificate: IssuedCertificate) -> IssuedCertificate:
    """Revoke: the 2030.5 endpoint refuses the certificate from the next request on."""
    now = timezone.now()
    engine().sandbox_client_revoke(
        utility_id=certificate.utility_id, lfdi=certificate.lfdi, now=now
    )
    certificate.revoked = True
    certificate.revoked_at = now
    certificate.save(update_fields=["revoked", "revoked_at"])
    trust_write_on_commit()  # nginx refuses it at the handshake once the CRL is rewritten
    return certificate


def program_ca_bundle_pem() -> str:
    """Every utility's CA certificates (root and issuing), PEM: what nginx verifies
    client certificates against. A system-wide read: the 2030.5 endpoint is shared."""
    cas = CertificateAuthority.objects.order_by("utility_id", "pk")
    return "".join(ca.certificate_pem for ca in cas)


def crl_build(
    *, issuer: Signer, serials: list[int], now: dt.datetime
) -> x509.CertificateRevocationList:
    """A CRL signed by `issuer` listing `serials` (revoked at `now` as far as it says)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=CRL_VALID_DAYS))
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    return builder.sign(issuer.key, hashes.SHA256())


def program_crls_pem(*, now: dt.datetime | None = None) -> str:
    """One CRL per utility CA, concatenated (nginx's ssl_crl wants one for every CA in a
    chain): the issuing CAs list their revoked client certificates."""
    now = now or dt.datetime.now(dt.UTC)
    revoked: dict[int, list[int]] = {}
    rows = IssuedCertificate.objects.filter(revoked=True).values_list("authority_id", "serial")
    for authority_id, serial in rows:
        revoked.setdefault(authority_id, []).append(int(serial, 16))
    crls = []
    for ca in CertificateAuthority.objects.order_by("utility_id", "pk"):
        crl = crl_build(issuer=_authority_issued(ca), serials=revoked.get(ca.pk, []), now=now)
        crls.append(crl.public_bytes(serialization.Encoding.PEM).decode())
    return "".join(crls)
