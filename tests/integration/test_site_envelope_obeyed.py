"""The CSIP-AUS site program end to end on the real server (issue 17's last part).

nginx terminates mutual TLS in front of uvicorn. A CSIP-AUS battery of the project's fleet
simulator PUTs its csipaus:ConnectionPoint; a site envelope (an export limit of 1,000 W) for
its NMI is published through /api/v1/programs/{id}/site-envelopes/; its FSA then lists the
site program (primacy 1) before the device program (primacy 10). During a device-level
discharge to 5,000 W (opModTargetW, made through /api/v1/events/), the battery applies both
by primacy, as CSIP asks: the envelope's export limit clamps the discharge, and the stored
telemetry shows the site's export held at 1,000 W while the battery still discharges.
"""

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from devices.models import Device, TelemetrySample
from devices.simulator.sep2_fleet import Sep2Fleet, fleet_nmi
from programs.services import group_member_add
from protocol import pki
from protocol.identity import client_identity_from_der
from protocol.models import EndDevice
from protocol.services import client_register
from protocol.xml.resources.derp import DERControlList, DERProgramList
from protocol.xml.resources.edev import EndDevice as SepEndDevice
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for
from tests.integration.fleet import (
    FleetThread,
    fleet_participants,
    unconstrained_csip_aus_program,
)
from tests.integration.servers import sep2_server, subprocess_env, wait_until
from tests.integration.test_sep2_flow_tls import TlsSep
from tests.integration.test_sep2_mtls import client_context, mutual_tls_proxy

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

EXPORT_LIMIT_W = 1000
DISCHARGE_W = 5000
HOUSE_W = 500.0


def latest(device: Device, channel: str) -> float | None:
    sample = TelemetrySample.objects.filter(device=device, channel=channel).order_by("-at").first()
    return sample.value if sample else None


def test_the_site_envelope_clamps_a_device_discharge_by_primacy(tmp_path, capsys):
    utility = factories.utility()
    api = api_client_for(factories.member(utility, Role.PROGRAM_MANAGER))
    program = unconstrained_csip_aus_program(utility, primacy=10, site_envelope_primacy=1)
    built = pki.build_test_pki(tmp_path / "pki")
    identity = client_identity_from_der(built.aggregator.cert_der)
    agg = client_register(
        utility=utility, lfdi=identity.lfdi, kind="aggregator", name="agg", program=program
    )
    (device,) = fleet_participants(program=program, client=agg, count=1)
    group = factories.dispatch_group(utility, prog=program)
    group_member_add(group=group, device=device)
    nmi = fleet_nmi(seed=0, index=0)
    logs = [tmp_path / "asgi.log"]
    with (
        sep2_server(subprocess_env(tmp_path), logs[0]) as base,
        mutual_tls_proxy(tmp_path, built, urlparse(base).port) as tls_port,
    ):
        fleet = Sep2Fleet(
            base_url=f"https://127.0.0.1:{tls_port}",
            devices=1,
            cert_path=built.aggregator_cert,
            key_path=built.aggregator_key,
            ca_path=built.ca_bundle,
            time_scale=60,
            profile="csipaus",
            idle_w=lambda i: None,
            # A steady household (500 W, no PV): on its own the export limit does not bind
            # (the battery covers the house, the site at 0 W); only the discharge makes it.
            battery_params=lambda i: {
                "capacity_wh": 500_000.0,
                "initial_soc_pct": 50.0,
                "ramp_w_per_s": 5000.0,
                "noise_w": 0.0,
                "solar_peak_w": 0.0,
                "base_load_w": HOUSE_W,
                "evening_load_w": 0.0,
            },
        )
        with FleetThread(fleet):
            wait_until(
                lambda: Device.objects.get(pk=device.pk).connection_point_id == nmi,
                timeout_s=30,
                what="the battery PUT its ConnectionPoint",
                logs=logs,
            )
            start = timezone.now() + timedelta(seconds=10)
            published = api.post(
                f"/api/v1/programs/{program.pk}/site-envelopes/",
                [
                    {
                        "connection_point_id": nmi,
                        "start": (start - timedelta(seconds=5)).isoformat(),
                        "duration_s": 900,
                        "op_mod_exp_lim_w": EXPORT_LIMIT_W,
                    }
                ],
                format="json",
            )
            assert published.status_code == 201, published.content
            event = api.post(
                "/api/v1/events/",
                {
                    "group": group.pk,
                    "kind": "target_w",
                    "start": start.isoformat(),
                    "duration_s": 600,
                    "op_mod_target_w": DISCHARGE_W,
                },
                format="json",
            )
            assert event.status_code == 201, event.content

            # Served over mTLS, schema-valid: the site program first, by primacy.
            sep = TlsSep(
                tls_port,
                client_context(built, built.aggregator_cert, built.aggregator_key),
                profile="csipaus",
            )
            try:
                end_device = EndDevice.objects.get(device=device)
                edev = sep.get(f"/edev/{end_device.pk}", SepEndDevice)
                fsas = sep.get(edev.function_set_assignments_list_link.href)
                (fsa,) = fsas.function_set_assignments
                derps = sep.get(
                    f"{fsa.der_program_list_link.href}?l=10", DERProgramList
                ).der_programs
                assert [p.primacy for p in derps] == [1, 10]
                site = sep.get(f"{derps[0].der_control_list_link.href}?l=10", DERControlList)
                (control,) = site.der_controls
                assert control.der_control_base.op_mod_exp_lim_w.value == EXPORT_LIMIT_W
                served = {k for k, v in vars(control.der_control_base).items() if v is not None}
                assert served == {"op_mod_exp_lim_w"}
                (dispatch,) = sep.get(f"{derps[1].der_control_list_link.href}?l=10").der_controls
                assert dispatch.der_control_base.op_mod_target_w.value == DISCHARGE_W
            finally:
                sep.close()

            # Obeyed, by the stored telemetry: the battery discharges 1,500 W (the house's
            # 500 W and 1,000 W exported) and the site exports 1,000 W, no more. Under the
            # envelope alone it would cover the house (the site at 0 W); under the discharge
            # alone it would export 4,500 W: both apply, the limit clamping the discharge.
            def held() -> bool:
                site_w = latest(device, "site_w")
                power_w = Device.objects.get(pk=device.pk).power_w
                return (
                    site_w is not None
                    and abs(site_w + EXPORT_LIMIT_W) <= 5
                    and power_w is not None
                    and abs(power_w - (HOUSE_W + EXPORT_LIMIT_W)) <= 5
                )

            wait_until(
                held,
                timeout_s=40,
                what=f"export held: {vars(Device.objects.get(pk=device.pk))}",
                logs=logs,
            )
            power_w = Device.objects.get(pk=device.pk).power_w
    assert fleet.stats.status_codes.get(400, 0) == 0, fleet.stats.status_codes
    with capsys.disabled():
        print(
            "\n| Site envelope (DOE) | POST /api/v1/programs/{id}/site-envelopes/: "
            "op_mod_exp_lim_w (also imp/gen/load) | site DERProgram (primacy 1) DERControl "
            f"csipaus:opModExpLimW | site W at -{EXPORT_LIMIT_W} while a device program "
            f"discharges at {DISCHARGE_W} W (battery at {power_w:.0f} W) | site envelopes page |"
        )
