"""Every control mode, end to end on the real server (issue 17's tests).

nginx terminates mutual TLS in front of uvicorn; a CSIP-AUS program has one dispatch group
per simulated battery, and each group gets one mode: an event made through /api/v1/events/
(a curve event links a curve made through /api/v1/curves/), or, for the last group, a
DefaultDERControl made through /api/v1/dispatch-groups/{id}/default-control/. For each:

- the DERControl (or DefaultDERControl) served over mTLS to the project's own 2030.5 client
  is schema-valid and carries exactly that mode and value;
- the `devices.simulator.sep2_fleet` battery obeys it, and the telemetry it mirrored, as
  the server stored it, shows that: the limit held, the connect state changed, the
  reactive power the PF or the curve asks for.

Each battery idles (no control in force) at a W of its own: discharging where a limit on
output or export shows, charging where a limit on charging or import shows. Every
simulated site also PUTs its csipaus:ConnectionPoint, and the site keeps its NMI.
"""

import math
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from devices.models import Device, TelemetrySample
from devices.simulator.der_modes import AVAILABLE, CONNECTED, OPERATING, Grid
from devices.simulator.sep2_fleet import Sep2Fleet, fleet_nmi
from programs.choices import EventKind
from programs.controls import allowed_kinds
from programs.services import group_member_add
from protocol import pki
from protocol.identity import client_identity_from_der
from protocol.models import EndDevice
from protocol.services import client_register
from protocol.xml.resources.derp import DefaultDERControl, DERControlList, DERProgramList
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

pytestmark = [
    pytest.mark.integration,
    pytest.mark.production_stack,
    pytest.mark.django_db(transaction=True),
]

MAX_W = 5000.0
PF = 0.9
# A volt-var curve: 50 % of setMaxW at 90 % of nominal, 10 % at 110 %: 30 % (1500 var) at
# the simulated grid's 100 %.
VOLT_VAR = [{"x": 90, "y": 50}, {"x": 110, "y": 10}]
# A volt-watt curve: 100 % at 90 % of nominal, 20 % at 110 %: 60 % (3000 W) at 100 %.
VOLT_WATT = [{"x": 90, "y": 100}, {"x": 110, "y": 20}]
# A frequency-watt curve: 100 % at 59 Hz, 20 % at 61 Hz: 60 % (3000 W) at 60 Hz.
FREQ_WATT = [{"x": 59, "y": 100}, {"x": 61, "y": 20}]
# A watt-PF curve: PF 1.00 at 0 % of setMaxW, 0.80 at 100 %: 0.88 at 3000 W.
WATT_PF = [{"x": 0, "y": 100}, {"x": 100, "y": 80}]
# Frequency droop: dead bands 36 mHz, droops 5 %, open loop 2 s. The droop battery's grid
# runs at 60.5 Hz: 0.464 Hz past the dead band / (60 Hz * 0.05) = 15.47 % of setMaxW down.
DROOP = {"dBOF": 36, "dBUF": 36, "kOF": 50, "kUF": 50, "openLoopTms": 200}
DROOP_HZ = 60.5
DROOP_W = 3000 - (DROOP_HZ - 60.036) / (60 * 0.05) * MAX_W


def latest(device: Device, channel: str) -> float | None:
    sample = TelemetrySample.objects.filter(device=device, channel=channel).order_by("-at").first()
    return sample.value if sample else None


def power(device: Device) -> float | None:
    return Device.objects.get(pk=device.pk).power_w


def near(value, goal, tolerance) -> bool:
    return value is not None and abs(value - goal) <= tolerance


# kind → (API fields, 2030.5 element, served value, idle W, what the telemetry shows, check)
# `check(device)` is true once the stored telemetry shows the mode obeyed.
def cases(curve_ids: dict[str, int]):
    var_at_pf = 3000 * math.tan(math.acos(PF))
    var_at_watt_pf = 3000 * math.tan(math.acos(0.88))
    var_at_multi = 1200 * math.tan(math.acos(PF))
    return {
        "connect": (
            {"op_mod_connect": False},
            "op_mod_connect",
            False,
            3000,
            "gen/storConnectStatus 'available' only (not connected), 0 W",
            lambda d: (
                Device.objects.get(pk=d.pk).gen_connect_status == AVAILABLE
                and Device.objects.get(pk=d.pk).storage_connect_status == AVAILABLE
                and near(power(d), 0, 1)
            ),
        ),
        "max_w": (
            {"op_mod_max_lim_w": 3000},
            "op_mod_max_lim_w",
            3000,
            MAX_W,
            "W held at 30 % of setMaxW (1500 W) while idling at 5000 W",
            lambda d: near(power(d), 1500, 5),
        ),
        "fixed_w": (
            {"op_mod_fixed_w": -4000},
            "op_mod_fixed_w",
            -4000,
            None,
            "W at -40 % of setMaxW (charging 2000 W)",
            lambda d: near(power(d), -2000, 5),
        ),
        "export_limit": (
            {"op_mod_exp_lim_w": 1000},
            "op_mod_exp_lim_w",
            1000,
            MAX_W,
            "site W at -1000 (export held at 1000 W) while idling at 5000 W",
            lambda d: near(latest(d, "site_w"), -1000, 5) and (power(d) or MAX_W) < MAX_W - 5,
        ),
        "import_limit": (
            {"op_mod_imp_lim_w": 500},
            "op_mod_imp_lim_w",
            500,
            -MAX_W,
            "site W at 500 (import held) while idling at -5000 W",
            lambda d: near(latest(d, "site_w"), 500, 5) and (power(d) or -MAX_W) > -MAX_W + 5,
        ),
        "generation_limit": (
            {"op_mod_gen_lim_w": 1200},
            "op_mod_gen_lim_w",
            1200,
            MAX_W,
            "W held at 1200 while idling at 5000 W",
            lambda d: near(power(d), 1200, 5),
        ),
        "load_limit": (
            {"op_mod_load_lim_w": 800},
            "op_mod_load_lim_w",
            800,
            -MAX_W,
            "W held at -800 while idling at -5000 W",
            lambda d: near(power(d), -800, 5),
        ),
        "fixed_pf": (
            {
                "op_mod_fixed_pf_inject_w": f"{PF}",
                "op_mod_fixed_pf_inject_excitation": True,
            },
            "op_mod_fixed_pf_inject_w",
            PF,
            3000,
            f"var {var_at_pf:.0f} at 3000 W (PF {PF})",
            lambda d: near(Device.objects.get(pk=d.pk).reactive_var, var_at_pf, 5),
        ),
        "volt_var": (
            {"op_mod_volt_var": curve_ids["volt_var"]},
            "op_mod_volt_var",
            None,  # a link to the curve, checked apart
            0,
            "var 1500 at 100 % V (the curve's 30 % of setMaxW)",
            lambda d: near(Device.objects.get(pk=d.pk).reactive_var, 1500, 5),
        ),
        "volt_watt": (
            {"op_mod_volt_watt": curve_ids["volt_watt"]},
            "op_mod_volt_watt",
            None,
            MAX_W,
            "W held at 3000 at 100 % V (the curve's 60 %) while idling at 5000 W",
            lambda d: near(power(d), 3000, 5),
        ),
        "freq_watt": (
            {"op_mod_freq_watt": curve_ids["freq_watt"]},
            "op_mod_freq_watt",
            None,
            MAX_W,
            "W held at 3000 at 60 Hz (the curve's 60 %) while idling at 5000 W",
            lambda d: near(power(d), 3000, 5),
        ),
        "watt_pf": (
            {"op_mod_watt_pf": curve_ids["watt_pf"]},
            "op_mod_watt_pf",
            None,
            3000,
            f"var {var_at_watt_pf:.0f} at 3000 W (the curve's PF 0.88)",
            lambda d: near(Device.objects.get(pk=d.pk).reactive_var, var_at_watt_pf, 5),
        ),
        "energize": (
            {"op_mod_energize": False},
            "op_mod_energize",
            False,
            3000,
            "gen/storConnectStatus 'available' only (de-energized), 0 W",
            lambda d: (
                Device.objects.get(pk=d.pk).gen_connect_status == AVAILABLE and near(power(d), 0, 1)
            ),
        ),
        "target_w": (
            {"op_mod_target_w": 2500},
            "op_mod_target_w",
            2500,
            None,
            "W at 2500",
            lambda d: near(power(d), 2500, 5),
        ),
        "freq_droop": (
            {"op_mod_freq_droop": DROOP},
            "op_mod_freq_droop",
            DROOP,
            3000,
            f"W at {DROOP_W:.0f} at {DROOP_HZ} Hz (droop 5 %) while idling at 3000 W",
            lambda d: near(power(d), DROOP_W, 5),
        ),
        "fixed_var": (
            {"op_mod_fixed_var": -1500},
            "op_mod_fixed_var",
            -1500,
            1000,
            "var -750 (-15 % of setMaxW)",
            lambda d: near(Device.objects.get(pk=d.pk).reactive_var, -750, 5),
        ),
        # Several modes in one control: each element served, both obeyed at once.
        "multi_mode": (
            {
                "op_mod_gen_lim_w": 1200,
                "op_mod_fixed_pf_inject_w": f"{PF}",
                "op_mod_fixed_pf_inject_excitation": True,
                "ramp_tms": 100,
            },
            ("op_mod_gen_lim_w", "op_mod_fixed_pf_inject_w", "ramp_tms"),
            (1200, PF, 100),
            MAX_W,
            f"W held at 1200 while idling at 5000 W, and var {var_at_multi:.0f} there (PF {PF})",
            lambda d: (
                near(power(d), 1200, 5)
                and near(Device.objects.get(pk=d.pk).reactive_var, var_at_multi, 5)
            ),
        ),
    }


# The 2030.5 / CSIP-AUS element each served field is.
ELEMENTS = {
    "op_mod_connect": "opModConnect",
    "op_mod_max_lim_w": "opModMaxLimW",
    "op_mod_fixed_w": "opModFixedW",
    "op_mod_exp_lim_w": "csipaus:opModExpLimW",
    "op_mod_imp_lim_w": "csipaus:opModImpLimW",
    "op_mod_gen_lim_w": "csipaus:opModGenLimW",
    "op_mod_load_lim_w": "csipaus:opModLoadLimW",
    "op_mod_fixed_pf_inject_w": "opModFixedPFInjectW",
    "op_mod_volt_var": "opModVoltVar (link to a DERCurve)",
    "op_mod_volt_watt": "opModVoltWatt (link to a DERCurve)",
    "op_mod_freq_watt": "opModFreqWatt (link to a DERCurve)",
    "op_mod_watt_pf": "opModWattPF (link to a DERCurve)",
    "op_mod_energize": "opModEnergize",
    "op_mod_target_w": "opModTargetW",
    "op_mod_fixed_var": "opModFixedVar",
    "op_mod_freq_droop": "opModFreqDroop",
    "ramp_tms": "rampTms",
}
DEFAULT = ({"op_mod_exp_lim_w": 1500, "set_grad_w": 50}, MAX_W)


def served_value(base, field):
    value = getattr(base, field)
    if field.startswith("op_mod_fixed_pf"):
        return round(value.displacement * 10.0**value.multiplier, 3)
    if field == "op_mod_fixed_var":
        return value.value
    if field == "op_mod_freq_droop":
        return {
            "dBOF": value.db_of, "dBUF": value.db_uf, "kOF": value.k_of, "kUF": value.k_uf,
            "openLoopTms": value.open_loop_tms,
        }  # fmt: skip
    if field in ("op_mod_exp_lim_w", "op_mod_imp_lim_w", "op_mod_gen_lim_w", "op_mod_load_lim_w"):
        return value.value * 10.0 ** (value.multiplier or 0)
    if field in ("op_mod_target_w", "op_mod_storage_target_w"):
        return value.value * 10.0 ** (value.multiplier or 0)
    return value


def test_every_mode_is_served_and_obeyed(tmp_path, capsys):
    utility = factories.utility()
    manager = factories.member(utility, Role.PROGRAM_MANAGER)
    api = api_client_for(manager)
    program = unconstrained_csip_aus_program(utility)
    built = pki.build_test_pki(tmp_path / "pki")
    identity = client_identity_from_der(built.aggregator.cert_der)
    agg = client_register(
        utility=utility, lfdi=identity.lfdi, kind="aggregator", name="agg", program=program
    )

    def make_curve(description, curve_type, points, y_ref_type, **more) -> int:
        made = api.post(
            "/api/v1/curves/",
            {
                "program": program.pk,
                "description": description,
                "curve_type": curve_type,
                "points": points,
                "y_ref_type": y_ref_type,
                **more,
            },
            format="json",
        )
        assert made.status_code == 201, made.content
        return made.json()["id"]

    # y of volt-var and volt-watt: % of setMaxVar and of setMaxW (the simulator's setMaxW
    # is its var base too); the watt-PF curve's y is a PF (0.01 units): no reference.
    curve_ids = {
        "volt_var": make_curve("volt-var test", 11, VOLT_VAR, 2),
        "volt_watt": make_curve("volt-watt test", 12, VOLT_WATT, 1),
        "freq_watt": make_curve("freq-watt test", 0, FREQ_WATT, 1),
        "watt_pf": make_curve("watt-PF test", 13, WATT_PF, 0, y_multiplier=-2),
    }
    modes = cases(curve_ids)
    kinds = [*modes, "default"]
    devices = fleet_participants(program=program, client=agg, count=len(kinds))
    # One group per battery: each battery's ZIP code is its group's one criterion.
    groups = {}
    for index, (kind, device) in enumerate(zip(kinds, devices, strict=True)):
        Device.objects.filter(pk=device.pk).update(zip_code=f"9{index:04d}")
        groups[kind] = factories.dispatch_group(utility, prog=program)
        groups[kind].zip_prefixes = f"9{index:04d}"
        groups[kind].save()
        group_member_add(group=groups[kind], device=device)
    idle = {i: modes[k][3] if k in modes else DEFAULT[1] for i, k in enumerate(kinds)}
    logs = [tmp_path / "asgi.log"]
    with (
        sep2_server(subprocess_env(tmp_path), logs[0]) as base,
        mutual_tls_proxy(tmp_path, built, urlparse(base).port) as tls_port,
    ):
        # The default first: the battery of its group follows it from its first poll.
        default_url = f"/api/v1/dispatch-groups/{groups['default'].pk}/default-control/"
        response = api.put(default_url, DEFAULT[0], format="json")
        assert response.status_code == 200, response.content
        # time_scale 60: polls every 1 s (pollRate 60), telemetry every 5 s.
        fleet = Sep2Fleet(
            base_url=f"https://127.0.0.1:{tls_port}",
            devices=len(kinds),
            cert_path=built.aggregator_cert,
            key_path=built.aggregator_key,
            ca_path=built.ca_bundle,
            time_scale=60,
            profile="csipaus",
            idle_w=idle.get,
            battery_params=lambda i: {
                "capacity_wh": 500_000.0,
                "initial_soc_pct": 50.0,
                "ramp_w_per_s": 5000.0,
            },
        )
        with FleetThread(fleet):
            wait_until(
                lambda: fleet.stats.registered == len(kinds),
                timeout_s=30,
                what="fleet registered",
                logs=logs,
            )
            # The droop battery's grid runs fast (the others stay at the nominal 60 Hz).
            fleet.devices[kinds.index("freq_droop")].grid = Grid(frequency_hz=DROOP_HZ)
            for kind, (fields, *_rest) in modes.items():
                # Each its own start, soon: on a loaded machine making them all takes a
                # while, and a start given once for all of them fell in the past.
                start = timezone.now() + timedelta(seconds=15)
                response = api.post(
                    "/api/v1/events/",
                    {
                        "group": groups[kind].pk,
                        "kind": kind,
                        "start": start.isoformat(),
                        "duration_s": 600,
                        **fields,
                    },
                    format="json",
                )
                assert response.status_code == 201, (kind, response.content)

            # Served over mTLS, schema-valid, exactly that mode and value.
            sep = TlsSep(
                tls_port,
                client_context(built, built.aggregator_cert, built.aggregator_key),
                profile="csipaus",
            )
            try:
                for kind, device in zip(kinds, devices, strict=True):
                    end_device = EndDevice.objects.get(device=device)
                    edev = sep.get(f"/edev/{end_device.pk}", SepEndDevice)
                    fsas = sep.get(edev.function_set_assignments_list_link.href)
                    derps = [
                        d
                        for fsa in fsas.function_set_assignments
                        for d in sep.get(
                            fsa.der_program_list_link.href, DERProgramList
                        ).der_programs
                    ]
                    assert len(derps) == 1, (kind, derps)
                    derp = derps[0]
                    if kind == "default":
                        default = sep.get(derp.default_der_control_link.href, DefaultDERControl)
                        base = default.der_control_base
                        served = {k for k, v in vars(base).items() if v is not None}
                        assert served == {"op_mod_exp_lim_w"}, served
                        assert served_value(base, "op_mod_exp_lim_w") == 1500
                        assert default.set_grad_w == 50
                        continue
                    listing = sep.get(f"{derp.der_control_list_link.href}?l=10", DERControlList)
                    assert len(listing.der_controls) == 1, (kind, listing.der_controls)
                    base = listing.der_controls[0].der_control_base
                    fields, element, value = modes[kind][:3]
                    served = {k for k, v in vars(base).items() if v is not None}
                    if isinstance(element, tuple):  # several modes in one control
                        assert served == set(element), (kind, served)
                        assert base.op_mod_fixed_pf_inject_w.excitation is True
                        for one, expected in zip(element, value, strict=True):
                            assert served_value(base, one) == expected, (kind, one, vars(base))
                        continue
                    if kind == "fixed_pf":
                        assert served == {element}, served
                        assert base.op_mod_fixed_pf_inject_w.excitation is True
                    else:
                        assert served == {element}, (kind, served, listing.der_controls[0])
                    if kind in curve_ids:
                        curve_id = fields[element]
                        assert getattr(base, element).href.endswith(f"/{curve_id}"), kind
                    else:
                        assert served_value(base, element) == value, (kind, vars(base))
            finally:
                sep.close()

            # Obeyed: the stored telemetry shows it.
            for kind, device in zip(kinds, devices, strict=True):
                if kind == "default":
                    wait_until(
                        lambda d=device: near(latest(d, "site_w"), -1500, 5),
                        timeout_s=40,
                        what="default export limit held",
                        logs=logs,
                    )
                    continue
                wait_until(
                    lambda d=device, k=kind: modes[k][5](d),
                    timeout_s=40,
                    what=f"{kind} obeyed: {vars(Device.objects.get(pk=device.pk))}",
                    logs=logs,
                )
            connected = CONNECTED | AVAILABLE | OPERATING
            assert Device.objects.get(pk=devices[1].pk).gen_connect_status == connected
    assert fleet.stats.status_codes.get(400, 0) == 0, fleet.stats.status_codes
    # Every site kept the NMI its client PUT as its csipaus:ConnectionPoint.
    for index, device in enumerate(devices):
        assert Device.objects.get(pk=device.pk).connection_point_id == fleet_nmi(
            seed=0, index=index
        )

    # The closing note's table.
    form_kinds = set(allowed_kinds(program.profile))  # the event form's kinds (its choices)
    rows = [
        "| mode | API field | 2030.5 resource element | simulator obeys | portal |",
        "|---|---|---|---|---|",
    ]
    for kind in modes:
        fields, element, _, _, shown, _ = modes[kind]
        elements = element if isinstance(element, tuple) else (element,)
        rows.append(
            f"| {EventKind(kind).label} | {', '.join(fields)} | DERControl "
            f"{' + '.join(ELEMENTS[e] for e in elements)} | {shown} | "
            f"{'event form' if kind in form_kinds else 'NO'} |"
        )
    rows.append(
        "| Default control | PUT default-control: op_mod_exp_lim_w, set_grad_w | "
        "DefaultDERControl csipaus:opModExpLimW, setGradW | site W at -1500 with no event | "
        "default-control page |"
    )
    with capsys.disabled():
        print("\n" + "\n".join(rows))
