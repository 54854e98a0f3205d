"""2030.5 as a field client meets it: `make run`'s own nginx config (portal.devstack, as
runstack writes it) in front of the 2030.5 listener, reached from 127.0.0.2 (not the
loopback address nginx itself uses), with certificates the vendor portal issues.

- The whole discovery walk, /dcap → /edev → FSA → DERProgram → DERControl → MUP POST,
  answers 200/201 with schema-valid bodies. On main before this change nginx refused the
  portal-issued certificate at the handshake (it trusted only the demo CA).
- Once revoked, the same certificate fails nginx's check at the handshake (ssl_crl): nginx
  answers 400 itself and the request never reaches the app.
- A certificate issued by another utility's CA is refused on this utility's resources.
"""

import contextlib
import http.client
import socket
import ssl
import subprocess
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import override_settings
from django.utils import timezone

from devices.models import TelemetrySample
from programs.models import DispatchGroup
from programs.services import event_create, participant_add
from protocol import pki, trust
from protocol.identity import sfdi_from_lfdi
from protocol.managers.derp import der_control_mrid
from protocol.models import Client, EndDevice
from protocol.services import client_register
from protocol.xml import SEP_CONTENT_TYPE, parse, serialize
from protocol.xml.resources.common import DateTimeInterval, time_type
from protocol.xml.resources.dcap import DeviceCapability
from protocol.xml.resources.der import DERCapability, DERStatus, StateOfChargeStatus
from protocol.xml.resources.derp import DERControl, DERControlList, DERProgramList
from protocol.xml.resources.edev import EndDevice as SepEndDevice
from protocol.xml.resources.edev import EndDeviceList
from protocol.xml.resources.mirror import MirrorMeterReading, MirrorUsagePoint, Reading, ReadingType
from protocol.xml.resources.units import WattHour, active_power
from tenancy import generations
from tests import factories
from tests.integration.servers import sep2_server, subprocess_env, wait_until
from tests.integration.test_sep2_mtls import free_port, require_nginx, stop, wait_for_port
from tests.protocol.schema import assert_valid_sep
from vendors.certificates import certificate_issue, certificate_revoke
from vendors.services import application_create, vendor_organization_approve, vendor_signup

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FIELD_ADDRESS = "127.0.0.2"  # a client that is not on nginx's own loopback address


def field_address_or_skip() -> str:
    with socket.socket() as sock:
        try:
            sock.bind((FIELD_ADDRESS, 0))
        except OSError:
            pytest.skip(f"{FIELD_ADDRESS} is not a local address here")
    return FIELD_ADDRESS


class FieldClient:
    """A keep-alive HTTPS 2030.5 client bound to 127.0.0.2; schema-checks every answer."""

    def __init__(self, port: int, context: ssl.SSLContext):
        self.conn = http.client.HTTPSConnection(
            "127.0.0.1", port, context=context, timeout=20, source_address=(FIELD_ADDRESS, 0)
        )

    def call(self, method: str, path: str, body: bytes | None = None):
        headers = {"Content-Type": SEP_CONTENT_TYPE} if body is not None else {}
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        content = response.read()
        if response.getheader("Content-Type", "").startswith(SEP_CONTENT_TYPE) and content:
            assert_valid_sep(content, "csip")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, content

    def get(self, path: str, cls=None):
        status, _, content = self.call("GET", path)
        assert status == 200, (path, status, content)
        return parse(content, cls)

    def close(self):
        self.conn.close()


def vendor_certificate(folder: Path, application, actor, name: str) -> tuple[Path, Path]:
    """What the vendor page does: a key of the vendor's own, a CSR, the certificate issued
    from it; written as the client's certificate chain and key."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    issuance = certificate_issue(
        application=application,
        csr_pem=csr.public_bytes(serialization.Encoding.PEM).decode(),
        actor=actor,
    )
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_text(issuance.certificate.pem + issuance.certificate.authority.certificate_pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def approved_application(utility, staff, name: str):
    membership = vendor_signup(name=name, email=f"{name}@example.test", password="pw-123456789")
    organization = vendor_organization_approve(organization=membership.organization, actor=staff)
    program = factories.program(utility)
    application = application_create(organization=organization, program=program)
    return application, membership.user


@contextlib.contextmanager
def devstack_nginx(tmp_path: Path, upstream_port: int):
    """nginx with the very config `make run` writes (portal.devstack.nginx_config_write)."""
    from portal.devstack import nginx_config_write

    nginx = require_nginx()
    tls_port = free_port()
    conf = nginx_config_write(upstream_port=upstream_port, tls_port=tls_port)
    log = tmp_path / "nginx.out"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [nginx, "-p", str(conf.parent), "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(tls_port, proc, log)
        yield tls_port
    finally:
        stop(proc)


@pytest.fixture
def field(tmp_path):
    field_address_or_skip()
    var = tmp_path / "var"
    with override_settings(
        VAR_DIR=var,
        SEP2_TLS_DIR=var / "tls",
        SEP2_DEMO_PKI_DIR=str(var / "demo" / "sep2"),
        SEP2_NGINX_DIR=var / "run" / "sep2-nginx",
    ):
        # The servers get this VAR_DIR too, and the test's cache-generation store is
        # reopened under it: the test's writes (a Client moved to another utility) must
        # reach the servers' identity cache. The foreign-CA test, run alone, was served
        # from a stale cache (200) while the test wrote its tokens elsewhere.
        generations._generations = None
        demo = pki.build_test_pki(var / "demo" / "sep2")  # as sep2_demo_pki does
        staff = factories.user(is_staff=True)
        utility = factories.utility()
        env = subprocess_env(tmp_path, RESERVOIR_VAR_DIR=str(var))
        try:
            yield {"tmp": tmp_path, "demo": demo, "staff": staff, "utility": utility, "env": env}
        finally:
            generations._generations = None  # reopened under the real VAR_DIR on next use


def server_context(demo: pki.TestPki, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(demo.ca_bundle))  # the server's certificate
    context.load_cert_chain(str(cert), str(key))
    return context


def nginx_refuses_certificate(port: int, context: ssl.SSLContext) -> bool:
    """Whether nginx's certificate check (done during the handshake, with the program CA
    bundle and CRLs) failed: nginx then answers 400 itself and forwards nothing."""
    client = FieldClient(port, context)
    try:
        status, _, content = client.call("GET", "/dcap")
    finally:
        client.close()
    return status == 400 and b"The SSL certificate error" in content


def nginx_workers() -> set[int]:
    """The worker processes of the nginx `make run` starts (by its pid file)."""
    master = (trust.nginx_run_dir() / "nginx.pid").read_text().strip()
    children = Path(f"/proc/{master}/task/{master}/children")
    return {int(pid) for pid in children.read_text().split()}


def test_discovery_walk_from_another_address_with_a_portal_certificate(field):
    tmp, demo, utility = field["tmp"], field["demo"], field["utility"]
    application, vendor_user = approved_application(utility, field["staff"], "acme-energy")
    cert, key = vendor_certificate(tmp, application, vendor_user, "acme-aggregator")
    sandbox = application.sandbox_program
    group = DispatchGroup.objects.get(program=sandbox)
    manager = factories.member(utility)
    event = event_create(
        program=sandbox,
        group=group,
        kind="discharge",
        start=timezone.now() + timedelta(minutes=60),
        duration_s=1800,
        target_w=3000,
        actor=manager,
    )
    with (
        sep2_server(field["env"], tmp / "sep2.log") as base,
        devstack_nginx(tmp, urlparse(base).port) as port,
    ):
        client = FieldClient(port, server_context(demo, cert, key))
        try:
            dcap = client.get("/dcap", DeviceCapability)
            client.get(dcap.end_device_list_link.href, EndDeviceList)
            device_lfdi = "AB" * 20
            status, headers, content = client.call(
                "POST",
                dcap.end_device_list_link.href,
                serialize(
                    SepEndDevice(lfdi=device_lfdi, sfdi=sfdi_from_lfdi(device_lfdi), changed_time=0)
                ),
            )
            assert status == 201, content
            edev = client.get(headers["location"], SepEndDevice)
            end_device = EndDevice.objects.get(lfdi=device_lfdi)
            participant_add(program=sandbox, device=end_device.device)
            # Its ratings and a SoC, as a battery reports them: that puts it in the plan.
            now = time_type(timezone.now())
            for path, body in (
                (
                    "dercap",
                    DERCapability(
                        modes_supported=1,
                        rtg_max_w=active_power(5000),
                        rtg_max_charge_rate_w=active_power(5000),
                        rtg_max_discharge_rate_w=active_power(5000),
                        rtg_max_wh=WattHour(multiplier=0, value=13500),
                        type=83,
                    ),
                ),
                (
                    "ders",
                    DERStatus(
                        reading_time=now,
                        state_of_charge_status=StateOfChargeStatus(date_time=now, value=8000),
                    ),
                ),
            ):
                href = f"{edev.href}/der/0/{path}"
                status, _, content = client.call("PUT", href, serialize(body))
                assert status == 204, content

            fsas = client.get(edev.function_set_assignments_list_link.href)
            fsa = fsas.function_set_assignments[0]
            derps = client.get(fsa.der_program_list_link.href, DERProgramList)
            derp = derps.der_programs[0]
            controls = client.get(derp.der_control_list_link.href, DERControlList)
            (control,) = controls.der_controls
            assert control.mrid == der_control_mrid(end_device, event)
            client.get(control.href, DERControl)

            mup = MirrorUsagePoint(
                mrid="1" * 32,
                role_flags=0x09,
                service_category_kind=0,
                status=1,
                device_lfdi=device_lfdi,
                mirror_meter_readings=[
                    MirrorMeterReading(mrid="2" * 32, reading_type=ReadingType(uom=38))
                ],
            )
            status, headers, content = client.call(
                "POST", dcap.mirror_usage_point_list_link.href, serialize(mup)
            )
            assert status == 201, content
            reading = MirrorMeterReading(
                mrid="2" * 32,
                reading=Reading(
                    value=1500,
                    time_period=DateTimeInterval(duration=300, start=time_type(timezone.now())),
                ),
            )
            status, _, content = client.call("POST", headers["location"], serialize(reading))
            assert status == 201, content
        finally:
            client.close()
    assert TelemetrySample.objects.filter(device=end_device.device, channel="w").exists()


def test_revoked_certificate_is_refused_at_the_handshake(field):
    tmp, demo, utility = field["tmp"], field["demo"], field["utility"]
    application, vendor_user = approved_application(utility, field["staff"], "acme-energy")
    cert, key = vendor_certificate(tmp, application, vendor_user, "acme-aggregator")
    with (
        sep2_server(field["env"], tmp / "sep2.log") as base,
        devstack_nginx(tmp, urlparse(base).port) as port,
    ):
        context = server_context(demo, cert, key)
        assert FieldClient(port, context).call("GET", "/dcap")[0] == 200
        certificate_revoke(certificate=application.certificates.get())
        before = nginx_workers()
        # What the task vendors queues after commit does (no worker runs in this test).
        assert trust.trust_write()["reloaded"]
        wait_until(
            lambda: nginx_workers() and not nginx_workers() & before,
            timeout_s=20,
            what="nginx to reload",
        )
        # nginx's verdict (400), not the app's (403 "client certificate revoked").
        assert nginx_refuses_certificate(port, context)


def test_certificate_of_another_utilitys_ca_is_refused_here(field):
    tmp, demo, utility = field["tmp"], field["demo"], field["utility"]
    other = factories.utility()
    application, vendor_user = approved_application(other, field["staff"], "elsewhere")
    cert, key = vendor_certificate(tmp, application, vendor_user, "elsewhere-aggregator")
    issued = application.certificates.get()
    here = factories.program(utility)
    with (
        sep2_server(field["env"], tmp / "sep2.log") as base,
        devstack_nginx(tmp, urlparse(base).port) as port,
    ):
        context = server_context(demo, cert, key)
        # One endpoint trusts every utility's CA: the handshake passes, and the certificate
        # acts in the utility whose CA issued it.
        assert FieldClient(port, context).call("GET", "/dcap")[0] == 200
        # Now this utility claims that LFDI (a manager registers it for its own program):
        # the certificate still comes from the other utility's CA and is refused here.
        Client.objects.filter(lfdi=issued.lfdi).delete()
        client_register(
            utility=utility, lfdi=issued.lfdi, kind="aggregator", name="claimed", program=here
        )
        for path in ("/dcap", "/edev", "/mup"):
            status, _, content = FieldClient(port, context).call("GET", path)
            assert status == 403 and b"another utility's CA" in content, (path, content)
