"""A 2030.5-shaped certificate hierarchy for tests, sandboxes and the demo.

SERCA (root) -> MICA (intermediate) -> device or aggregator certificates, all ECDSA P-256
with SHA-256, as 2030.5 requires. Device certificates never expire (notAfter
99991231235959Z), as the standard specifies. Keys are generated on demand and written
with 0600 permissions; nothing here belongs in the repository.
"""

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NO_EXPIRY = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
CLIENT_ROLES = ("device", "aggregator")


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue(
    *,
    subject: x509.Name,
    issuer: Issued | None,
    ca: bool,
    path_length: int | None,
    not_after: dt.datetime,
    extra: Iterable[tuple[x509.ExtensionType, bool]] = (),
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    signer = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    else:
        usage = x509.KeyUsage(True, False, False, False, True, False, False, False, False)
    builder = builder.add_extension(usage, critical=True)
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False
        )
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical)
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def create_root_ca(
    common_name: str = "Reservoir Test SERCA", *, organization: str = "Reservoir", years: int = 20
) -> Issued:
    """A self-signed root, playing the part of the SERCA."""
    return _issue(
        subject=_name(common_name, organization),
        issuer=None,
        ca=True,
        path_length=None,
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * years),
    )


def create_intermediate_ca(
    issuer: Issued,
    common_name: str = "Reservoir Test MICA",
    *,
    organization: str = "Reservoir",
    years: int = 10,
) -> Issued:
    """An intermediate that issues only end-entity certificates (MICA-like)."""
    return _issue(
        subject=_name(common_name, organization),
        issuer=issuer,
        ca=True,
        path_length=0,
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * years),
    )


def create_client_certificate(
    issuer: Issued, common_name: str, *, role: str = "device", organization: str = "Reservoir"
) -> Issued:
    """A TLS client certificate for a device or an aggregator.

    Device certificates never expire, as 2030.5 specifies; aggregator certificates are
    ordinary organisation certificates and do (here after two years).
    """
    if role not in CLIENT_ROLES:
        raise ValueError(f"role must be one of {CLIENT_ROLES}")
    not_after = NO_EXPIRY
    if role == "aggregator":
        not_after = dt.datetime.now(dt.UTC) + dt.timedelta(days=730)
    return _issue(
        subject=_name(common_name, organization),
        issuer=issuer,
        ca=False,
        path_length=None,
        not_after=not_after,
        extra=[(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)],
    )


def create_server_certificate(
    issuer: Issued,
    hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1"),
    *,
    organization: str = "Reservoir",
) -> Issued:
    """A TLS server certificate naming `hosts` (IP addresses or DNS names)."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return _issue(
        subject=_name(hosts[0], organization),
        issuer=issuer,
        ca=False,
        path_length=None,
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=365),
        extra=[
            (x509.SubjectAlternativeName(names), False),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        ],
    )


def write_pem(directory: Path, name: str, issued: Issued, *chain: Issued) -> tuple[Path, Path]:
    """Write `<name>.pem` (certificate then `chain`) and `<name>.key` (mode 0600)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{name}.pem"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(issued.cert_pem + b"".join(c.cert_pem for c in chain))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(issued.key_pem)
    return cert_path, key_path


@dataclass(frozen=True)
class TestPki:
    """A complete hierarchy written to a folder: what a test server and client need."""

    __test__ = False  # not a pytest test class

    root: Issued
    intermediate: Issued
    server: Issued
    device: Issued
    aggregator: Issued
    ca_bundle: Path  # root + intermediate: what the server verifies clients against
    server_cert: Path  # server certificate followed by the intermediate
    server_key: Path
    device_cert: Path
    device_key: Path
    aggregator_cert: Path
    aggregator_key: Path


def build_test_pki(directory: Path) -> TestPki:
    """Generate SERCA -> MICA -> {device, aggregator, server} and write their PEM files."""
    root = create_root_ca()
    intermediate = create_intermediate_ca(root)
    server = create_server_certificate(intermediate)
    device = create_client_certificate(intermediate, "Test device", role="device")
    aggregator = create_client_certificate(intermediate, "Test aggregator", role="aggregator")
    directory.mkdir(parents=True, exist_ok=True)
    ca_bundle = directory / "ca-bundle.pem"
    ca_bundle.write_bytes(root.cert_pem + intermediate.cert_pem)
    # The CAs themselves too, so protocol.trust can sign the demo CA's CRLs for nginx.
    write_pem(directory, "ca-root", root)
    write_pem(directory, "ca-intermediate", intermediate)
    server_cert, server_key = write_pem(directory, "server", server, intermediate)
    device_cert, device_key = write_pem(directory, "device", device, intermediate)
    aggregator_cert, aggregator_key = write_pem(directory, "aggregator", aggregator, intermediate)
    return TestPki(
        root=root,
        intermediate=intermediate,
        server=server,
        device=device,
        aggregator=aggregator,
        ca_bundle=ca_bundle,
        server_cert=server_cert,
        server_key=server_key,
        device_cert=device_cert,
        device_key=device_key,
        aggregator_cert=aggregator_cert,
        aggregator_key=aggregator_key,
    )
