"""The CSIP client journey over a real TLS handshake: nginx (mTLS) → uvicorn → Django.

Every sep+xml body the server returns is validated against the official schema here too.
"""

import http.client
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest
from django.urls import reverse

from devices.models import Device, TelemetrySample
from programs.choices import EventKind
from programs.services import participant_add
from protocol import pki
from protocol.identity import client_identity_from_der
from protocol.models import EndDevice
from protocol.services import client_register, client_revoke
from protocol.xml import SEP_CONTENT_TYPE, parse, serialize
from protocol.xml.resources.common import DateTimeInterval, time_type
from protocol.xml.resources.dcap import DeviceCapability
from protocol.xml.resources.der import (
    ConnectStatus,
    DERAvailability,
    DERCapability,
    DERList,
    DERSettings,
    DERStatus,
    StateOfChargeStatus,
    StatusValue,
)
from protocol.xml.resources.derp import DefaultDERControl, DERControlList, DERProgramList
from protocol.xml.resources.edev import ConnectionPoint
from protocol.xml.resources.edev import EndDevice as SepEndDevice
from protocol.xml.resources.mirror import MirrorMeterReading, MirrorUsagePoint, Reading, ReadingType
from protocol.xml.resources.time import Time
from protocol.xml.resources.units import active_power
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for
from tests.integration.servers import sep2_server, subprocess_env
from tests.integration.test_sep2_mtls import client_context, mutual_tls_proxy
from tests.protocol.schema import assert_valid_sep

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


class TlsSep:
    """A keep-alive HTTPS 2030.5 client that schema-checks every sep+xml answer."""

    def __init__(self, port: int, context, *, profile: str = "csip"):
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=20)
        self.profile = profile

    def call(self, method: str, path: str, body: bytes | None = None):
        headers = {"Content-Type": SEP_CONTENT_TYPE} if body is not None else {}
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        content = response.read()
        if response.getheader("Content-Type", "").startswith(SEP_CONTENT_TYPE) and content:
            assert_valid_sep(content, self.profile)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, content

    def get(self, path: str, cls=None):
        status, _, content = self.call("GET", path)
        assert status == 200, (path, status, content)
        return parse(content, cls, profile=self.profile)

    def close(self):
        self.conn.close()


@pytest.fixture
def stack(tmp_path):
    built = pki.build_test_pki(tmp_path / "pki")
    with (
        sep2_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base,
        mutual_tls_proxy(tmp_path, built, urlparse(base).port) as tls_port,
    ):
        yield tls_port, built


def test_csip_flow_over_mutual_tls(stack):
    port, built = stack
    utility = factories.utility()
    program = factories.program(utility, poll_rate_s=60, max_events_per_day=None)
    group = factories.dispatch_group(utility, prog=program)
    agg_identity = client_identity_from_der(built.aggregator.cert_der)
    agg_client = client_register(
        utility=utility, lfdi=agg_identity.lfdi, kind="aggregator", name="agg", program=program
    )
    sep = TlsSep(port, client_context(built, built.aggregator_cert, built.aggregator_key))
    try:
        dcap = sep.get("/dcap", DeviceCapability)
        assert dcap.poll_rate == 60
        sep.get(dcap.time_link.href, Time)

        device_identity = client_identity_from_der(built.device.cert_der)
        status, headers, _ = sep.call(
            "POST",
            "/edev",
            serialize(
                SepEndDevice(lfdi=device_identity.lfdi, sfdi=device_identity.sfdi, changed_time=0)
            ),
        )
        assert status == 201
        edev = sep.get(headers["location"], SepEndDevice)
        end_device = EndDevice.objects.get(lfdi=device_identity.lfdi)
        participant_add(program=program, device=end_device.device)

        fsa = sep.get(edev.function_set_assignments_list_link.href).function_set_assignments[0]
        derp = sep.get(fsa.der_program_list_link.href, DERProgramList).der_programs[0]
        sep.get(derp.default_der_control_link.href, DefaultDERControl)
        sep.get(derp.der_control_list_link.href, DERControlList)

        der = sep.get(edev.der_list_link.href, DERList).ders[0]
        now = time_type(datetime.now(UTC))
        puts = {
            der.der_capability_link.href: DERCapability(
                modes_supported=1, rtg_max_w=active_power(5000), type=83
            ),
            der.der_settings_link.href: DERSettings(
                set_grad_w=100, set_max_w=active_power(4800), updated_time=now
            ),
            der.der_status_link.href: DERStatus(
                reading_time=now,
                state_of_charge_status=StateOfChargeStatus(date_time=now, value=5000),
            ),
            der.der_availability_link.href: DERAvailability(
                reading_time=now, stat_w_avail=active_power(4000)
            ),
        }
        for href, body in puts.items():
            assert sep.call("PUT", href, serialize(body))[0] == 204, href
            sep.get(href, type(body))

        mup = MirrorUsagePoint(
            mrid="1" * 32,
            role_flags=0x09,
            service_category_kind=0,
            status=1,
            device_lfdi=device_identity.lfdi,
            mirror_meter_readings=[
                MirrorMeterReading(mrid="2" * 32, reading_type=ReadingType(uom=38))
            ],
        )
        status, headers, _ = sep.call("POST", "/mup", serialize(mup))
        assert status == 201
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=25)
        for i in range(5):
            at = time_type(start + timedelta(minutes=5 * i))
            mmr = MirrorMeterReading(
                mrid="2" * 32,
                reading=Reading(
                    value=1000 + i, time_period=DateTimeInterval(duration=300, start=at)
                ),
            )
            assert sep.call("POST", headers["location"], serialize(mmr))[0] == 201

        device = Device.objects.get(pk=end_device.device_id)
        assert device.rtg_max_discharge_rate_w == 5000
        assert device.set_max_discharge_rate_w == 4800
        assert device.soc_pct == 50 and device.stat_w_avail_w == 4000
        assert TelemetrySample.objects.filter(device=device, channel="w").count() == 5
        assert device.power_w == 1004

        _controls_through_the_api_reach_the_device(sep, utility, group, derp)

        # Revocation takes effect on the very next request, on the same connection.
        client_revoke(client=agg_client)
        assert sep.call("GET", "/dcap")[0] == 403
    finally:
        sep.close()


def _controls_through_the_api_reach_the_device(sep: TlsSep, utility, group, derp) -> None:
    """Events of several modes and a default, made through /api/v1, reach the device over
    mTLS as schema-valid DERControls carrying exactly that mode and value (issue 17)."""
    api = api_client_for(factories.member(utility, Role.PROGRAM_MANAGER))
    start = datetime.now(UTC) + timedelta(hours=1)
    modes = {
        "connect": ({"op_mod_connect": False}, "op_mod_connect", False),
        "max_w": ({"op_mod_max_lim_w": 6000}, "op_mod_max_lim_w", 6000),
        "fixed_var": ({"op_mod_fixed_var": -1500}, "op_mod_fixed_var", -1500),
    }
    for i, (kind, (fields, _, _)) in enumerate(modes.items()):
        response = api.post(
            "/api/v1/events/",
            {
                "group": group.pk,
                "kind": kind,
                "start": (start + timedelta(hours=i)).isoformat(),
                "duration_s": 1800,
                **fields,
            },
            format="json",
        )
        assert response.status_code == 201, response.content
    controls = sep.get(f"{derp.der_control_list_link.href}?l=10", DERControlList).der_controls
    by_label = {c.description: c.der_control_base for c in controls}
    for kind, (_, field, value) in modes.items():
        base = by_label[str(EventKind(kind).label)[:32]]
        served = {k: v for k, v in vars(base).items() if v is not None}
        assert set(served) == {field}, (kind, served)
        shown = served[field].value if kind == "fixed_var" else served[field]
        assert shown == value, (kind, served)

    url = f"/api/v1/dispatch-groups/{group.pk}/default-control/"
    response = api.put(url, {"op_mod_connect": True, "set_grad_w": 25}, format="json")
    assert response.status_code == 200, response.content
    default = sep.get(derp.default_der_control_link.href, DefaultDERControl)
    assert default.der_control_base.op_mod_connect is True and default.set_grad_w == 25


def test_csipaus_client_puts_its_connection_point_and_the_portal_shows_the_nmi(stack, client):
    port, built = stack
    utility = factories.utility()
    program = factories.program(utility, profile="csip_aus")
    factories.dispatch_group(utility, prog=program)
    agg_identity = client_identity_from_der(built.aggregator.cert_der)
    client_register(
        utility=utility, lfdi=agg_identity.lfdi, kind="aggregator", name="agg", program=program
    )
    sep = TlsSep(
        port,
        client_context(built, built.aggregator_cert, built.aggregator_key),
        profile="csipaus",
    )
    try:
        device_identity = client_identity_from_der(built.device.cert_der)
        status, headers, _ = sep.call(
            "POST",
            "/edev",
            serialize(
                SepEndDevice(lfdi=device_identity.lfdi, sfdi=device_identity.sfdi, changed_time=0)
            ),
        )
        assert status == 201
        edev = sep.get(headers["location"], SepEndDevice)
        href = edev.connection_point_link.href
        body = serialize(ConnectionPoint(connection_point_id="4103035611"), profile="csipaus")
        assert sep.call("PUT", href, body)[0] == 201  # the first report creates it
        assert sep.get(href, ConnectionPoint).connection_point_id == "4103035611"
        now = time_type(datetime.now(UTC))
        status_body = DERStatus(
            reading_time=now,
            gen_connect_status=ConnectStatus(date_time=now, value=0x07),
            operational_mode_status=StatusValue(date_time=now, value=2),
        )
        der = sep.get(edev.der_list_link.href, DERList).ders[0]
        assert sep.call("PUT", der.der_status_link.href, serialize(status_body))[0] == 204
    finally:
        sep.close()

    device = EndDevice.objects.get(lfdi=device_identity.lfdi).device
    assert device.connection_point_id == "4103035611"
    client.force_login(factories.member(utility, Role.PROGRAM_MANAGER))
    page = client.get(reverse("devices:device-detail", args=[device.pk])).content.decode()
    assert "<code>4103035611</code>" in page
    assert "<dt>Generation connection</dt><dd>connected, available, operating</dd>" in page
    assert "<dt>Operational mode</dt><dd>Operational</dd>" in page
