"""The simulated battery obeys every DERControlBase mode, read from 2030.5 XML (issue 17).

Each control is serialized and parsed back as a client receives it, learnt by a `SimDevice`
and stepped through its `BatteryModel`; the assertions read what its telemetry reports:
battery W, connect status, operational mode status, reactive power.
"""

import asyncio
import random

import pytest

from devices.simulator.battery import BatteryModel, BatteryParams
from devices.simulator.der_modes import (
    AVAILABLE,
    CONNECTED,
    OP_MODE_OFF,
    OP_MODE_OPERATIONAL,
    OPERATING,
    ControlModes,
    Curve,
    Grid,
    resolve,
    var_of,
)
from devices.simulator.sep2_device import FleetFaults, SimDevice
from devices.simulator.sep2_fleet import ROLE_MIRROR_DER, Sep2Fleet, dispatch_table
from protocol.xml import parse, serialize
from protocol.xml.resources.common import DateTimeInterval, Link, ListLink
from protocol.xml.resources.derp import (
    CurveData,
    DefaultDERControl,
    DERControl,
    DERControlBase,
    DERControlList,
    DERCurve,
    DERProgram,
    DERProgramList,
    EventStatus,
    FixedVar,
    FreqDroop,
    PowerFactorWithExcitation,
)
from protocol.xml.resources.edev import EndDevice as SepEndDevice
from protocol.xml.resources.edev import FunctionSetAssignments, FunctionSetAssignmentsList
from protocol.xml.resources.units import active_power

T0 = 1_800_000_000
SET_MAX_W = 5000.0
NOON = 12 * 3600.0


def device(**params) -> SimDevice:
    battery = BatteryModel(
        BatteryParams(
            noise_w=0.0, solar_peak_w=0.0, base_load_w=500.0, evening_load_w=0.0, **params
        ),
        t0_s=NOON,
    )
    return SimDevice(
        0,
        "AB" * 20,
        1,
        None,  # type: ignore[arg-type]  (no requests in these tests)
        battery,
        random.Random(0),
        faults=FleetFaults(),
        opts_out=False,
        customer_opt_outs=set(),
        idle_export_w=None,
    )


def served(base: DERControlBase, *, mrid: str = "A1" * 16, start: int = T0) -> DERControl:
    """A DERControl as a client parses it off the wire."""
    control = DERControl(
        mrid=mrid,
        creation_time=start - 60,
        event_status=EventStatus(current_status=1, date_time=start, potentially_superseded=False),
        interval=DateTimeInterval(duration=3600, start=start),
        der_control_base=base,
        reply_to=None,
    )
    return parse(serialize(control), DERControl)


def curve(curve_type: int, points, *, x_mult: int = 0, y_mult: int = 0) -> DERCurve:
    built = DERCurve(
        mrid="C0" * 16,
        creation_time=T0,
        curve_data=[CurveData(xvalue=x, yvalue=y) for x, y in points],
        curve_type=curve_type,
        x_multiplier=x_mult,
        y_multiplier=y_mult,
        y_ref_type=1,
    )
    return parse(serialize(built), DERCurve)


def run(dev: SimDevice, seconds: float = 30.0, dt: float = 1.0) -> None:
    for _ in range(round(seconds / dt)):
        dev.apply(T0 + 10)
        target = dev.target_w(dt_s=dt)
        dev.battery.step(dt, target, ramp_w_per_s=dev.ramp_w_per_s)


def obey(base: DERControlBase, curves=None, seconds: float = 30.0, **params) -> SimDevice:
    dev = device(**params)
    dev.learn(served(base), primacy=1, curves=curves)
    run(dev, seconds)
    return dev


def test_without_a_control_the_battery_covers_the_household():
    dev = device()
    run(dev)
    assert dev.battery.battery_w == pytest.approx(500.0)
    assert dev.command.connect_status == CONNECTED | AVAILABLE | OPERATING
    assert dev.command.op_mode_status == OP_MODE_OPERATIONAL


def test_disconnect_stops_at_once_and_the_status_says_so():
    dev = obey(DERControlBase(op_mod_connect=False, op_mod_target_w=active_power(3000)))
    assert dev.battery.battery_w == 0.0
    assert dev.command.connect_status == AVAILABLE  # not connected, not operating
    assert dev.command.op_mode_status == OP_MODE_OFF
    assert dev.command.held == ("opModConnect false",)


def test_deenergize_is_a_disconnect():
    dev = obey(DERControlBase(op_mod_energize=False))
    assert dev.battery.battery_w == 0.0
    assert not dev.command.connected


def test_connect_true_follows_the_other_modes():
    dev = obey(DERControlBase(op_mod_connect=True, op_mod_target_w=active_power(2000)))
    assert dev.battery.battery_w == pytest.approx(2000.0)
    assert dev.command.connected


@pytest.mark.parametrize(("pct", "watts"), [(5000, 2500.0), (-4000, -2000.0)])
def test_fixed_w_is_a_signed_percent_of_set_max_w(pct, watts):
    dev = obey(DERControlBase(op_mod_fixed_w=pct))
    assert dev.battery.battery_w == pytest.approx(watts)


def test_max_lim_w_caps_output_at_a_percent_of_set_max_w():
    # set_max_w is the discharge rating; the charge rating differs and is not the base.
    dev = obey(
        DERControlBase(op_mod_max_lim_w=2000, op_mod_target_w=active_power(4000)),
        max_charge_w=3000.0,
    )
    assert dev.battery.battery_w == pytest.approx(1000.0)


def test_target_w_charges_and_discharges():
    assert obey(DERControlBase(op_mod_target_w=active_power(-3000))).battery.battery_w == (
        pytest.approx(-3000.0)
    )


def test_storage_target_w_is_followed():
    dev = obey(DERControlBase(op_mod_storage_target_w=active_power(-1500)))
    assert dev.battery.battery_w == pytest.approx(-1500.0)
    assert "opModStorageTargetW" in dev.command.held


def test_export_limit_holds_the_site_export():
    dev = obey(DERControlBase(op_mod_target_w=active_power(4000), op_mod_exp_lim_w=active_power(0)))
    # the household draws 500 W: with no export allowed the battery gives only that
    assert dev.battery.battery_w == pytest.approx(500.0)
    assert dev.battery.site_w == pytest.approx(0.0)


def test_import_limit_holds_the_site_import():
    dev = obey(
        DERControlBase(op_mod_target_w=active_power(-4000), op_mod_imp_lim_w=active_power(1500))
    )
    assert dev.battery.battery_w == pytest.approx(-1000.0)
    assert dev.battery.site_w == pytest.approx(1500.0)


def test_generation_and_load_limits_cap_the_battery():
    gen = obey(
        DERControlBase(op_mod_target_w=active_power(4000), op_mod_gen_lim_w=active_power(1200))
    )
    load = obey(
        DERControlBase(op_mod_target_w=active_power(-4000), op_mod_load_lim_w=active_power(800))
    )
    assert gen.battery.battery_w == pytest.approx(1200.0)
    assert load.battery.battery_w == pytest.approx(-800.0)


def test_ramp_tms_ramps_toward_the_new_setpoint():
    dev = device(ramp_w_per_s=1e6)
    dev.learn(served(DERControlBase(op_mod_target_w=active_power(4000), ramp_tms=1000)), 1)
    run(dev, seconds=5)  # rampTms 1000: 10 s to get there from 0 W
    assert dev.battery.battery_w == pytest.approx(2000.0)
    run(dev, seconds=5)
    assert dev.battery.battery_w == pytest.approx(4000.0)


def test_fixed_pf_inject_sets_the_reactive_power():
    pf = PowerFactorWithExcitation(displacement=80, excitation=True, multiplier=-2)
    dev = obey(DERControlBase(op_mod_target_w=active_power(4000), op_mod_fixed_pf_inject_w=pf))
    assert dev.command.power_factor == pytest.approx(0.8)
    assert var_of(dev.battery.battery_w, dev.command.power_factor) == pytest.approx(3000.0)


def test_fixed_pf_absorb_applies_while_charging():
    pf = PowerFactorWithExcitation(displacement=90, excitation=False, multiplier=-2)
    dev = obey(DERControlBase(op_mod_target_w=active_power(-2000), op_mod_fixed_pf_absorb_w=pf))
    assert dev.command.power_factor == pytest.approx(-0.9)
    assert "opModFixedPFAbsorbW" in dev.command.held


def test_fixed_var_is_a_percent_of_set_max_w():
    dev = obey(DERControlBase(op_mod_fixed_var=FixedVar(ref_type=1, value=-2000)))
    assert dev.command.var == pytest.approx(-1000.0)


def test_volt_watt_curve_is_followed_against_the_simulated_voltage():
    href = "/derp/1/dc/1"
    vw = curve(12, [(1060, 100), (1100, 20)], x_mult=-1)  # % of nominal V → % setMaxW
    dev = device()
    dev.grid = Grid(voltage_pct=108.0)
    dev.learn(
        served(DERControlBase(op_mod_volt_watt=Link(href=href), op_mod_fixed_w=10000)),
        1,
        curves={href: vw},
    )
    run(dev)
    assert dev.battery.battery_w == pytest.approx(SET_MAX_W * 0.60)
    dev.grid = Grid(voltage_pct=100.0)
    run(dev)
    assert dev.battery.battery_w == pytest.approx(SET_MAX_W)


def test_freq_watt_curve_curtails_output_at_high_frequency():
    href = "/derp/1/dc/2"
    fw = curve(0, [(6010, 100), (6100, 0)], x_mult=-2)
    dev = device()
    dev.grid = Grid(frequency_hz=60.55)
    dev.learn(
        served(DERControlBase(op_mod_freq_watt=Link(href=href), op_mod_fixed_w=10000)),
        1,
        curves={href: fw},
    )
    run(dev)
    assert dev.battery.battery_w == pytest.approx(SET_MAX_W * 0.5)


# Dead bands 36 mHz, droops 5 % (0.05 per unit), open loop 5 s.
DROOP = FreqDroop(db_of=36, db_uf=36, k_of=50, k_uf=50, open_loop_tms=500)


@pytest.mark.parametrize(
    ("frequency_hz", "watts"),
    [
        # 60.5 Hz: 0.464 Hz past the dead band / (60 Hz * 0.05) = 0.1547 of setMaxW down.
        (60.5, 2500 - 0.464 / 3 * SET_MAX_W),
        (59.5, 2500 + 0.464 / 3 * SET_MAX_W),
        (60.03, 2500.0),  # inside the over-frequency dead band
        (59.97, 2500.0),
        (65.0, -SET_MAX_W),  # far past it: no further than charging at setMaxW
    ],
)
def test_freq_droop_moves_output_against_the_frequency_outside_its_dead_bands(frequency_hz, watts):
    dev = device(ramp_w_per_s=1e6, max_charge_w=SET_MAX_W)
    dev.grid = Grid(frequency_hz=frequency_hz)
    dev.learn(served(DERControlBase(op_mod_fixed_w=5000, op_mod_freq_droop=DROOP)), 1)
    run(dev, seconds=10)
    assert dev.battery.battery_w == pytest.approx(watts, abs=0.5)
    assert "opModFreqDroop" in dev.command.held


def test_freq_droop_reaches_its_output_over_the_open_loop_time():
    dev = device(ramp_w_per_s=1e6)
    dev.grid = Grid(frequency_hz=50.0, nominal_hz=50.0)  # a 50 Hz grid, at nominal
    base = DERControlBase(op_mod_target_w=active_power(1000), op_mod_freq_droop=DROOP)
    dev.learn(served(base), 1)
    run(dev, seconds=10)
    assert dev.battery.battery_w == pytest.approx(1000.0)
    dev.grid = Grid(frequency_hz=50.5, nominal_hz=50.0)  # the frequency rises
    goal = 1000 - (50.5 - 50.036) / (50 * 0.05) * SET_MAX_W
    run(dev, seconds=2)  # 2 of the 5 s: on the way
    assert goal < dev.battery.battery_w < 1000
    run(dev, seconds=5)
    assert dev.battery.battery_w == pytest.approx(goal, abs=0.5)


def test_volt_var_curve_sets_the_reactive_power():
    href = "/derp/1/dc/3"
    vv = curve(11, [(920, 44), (980, 0), (1020, 0), (1080, -44)], x_mult=-1)
    dev = device()
    dev.grid = Grid(voltage_pct=105.0)
    dev.learn(served(DERControlBase(op_mod_volt_var=Link(href=href))), 1, curves={href: vv})
    run(dev)
    assert dev.command.var == pytest.approx(SET_MAX_W * -0.22)


def test_watt_pf_curve_follows_the_output():
    href = "/derp/1/dc/4"
    wpf = curve(13, [(0, 100), (50, 100), (100, 90)], y_mult=-2)
    dev = device()
    dev.learn(
        served(DERControlBase(op_mod_watt_pf=Link(href=href), op_mod_fixed_w=10000)),
        1,
        curves={href: wpf},
    )
    run(dev)
    assert dev.command.power_factor == pytest.approx(0.9)


def test_a_curve_link_that_was_not_fetched_is_an_error():
    with pytest.raises(KeyError):
        ControlModes.of(DERControlBase(op_mod_volt_var=Link(href="/derp/1/dc/9")), {})


def test_default_control_applies_when_no_event_is_active_with_its_gradient():
    dev = device(ramp_w_per_s=1e6)
    default = DefaultDERControl(
        mrid="D0" * 16,
        der_control_base=DERControlBase(op_mod_fixed_w=-6000),
        set_grad_w=1000,  # 10 % of setMaxW per second: 500 W/s
    )
    dev.learn_default(parse(serialize(default), DefaultDERControl))
    run(dev, seconds=2)
    assert dev.battery.battery_w == pytest.approx(-1000.0)
    run(dev, seconds=10)
    assert dev.battery.battery_w == pytest.approx(-3000.0)
    # An event overrides the default; when it is gone the default is back.
    dev.learn(served(DERControlBase(op_mod_target_w=active_power(1000))), 1)
    run(dev, seconds=10)
    assert dev.battery.battery_w == pytest.approx(1000.0)


def test_soft_gradient_after_a_reconnection():
    dev = device(ramp_w_per_s=1e6)
    dev.learn(served(DERControlBase(op_mod_connect=False)), 1)
    run(dev, seconds=2)
    assert not dev.command.connected
    default = DefaultDERControl(
        mrid="D0" * 16,
        der_control_base=DERControlBase(op_mod_fixed_w=8000),
        set_grad_w=10000,
        set_soft_grad_w=200,  # 2 % of setMaxW per second: 100 W/s
    )
    dev.learn_default(parse(serialize(default), DefaultDERControl))
    dev.controls.clear()
    run(dev, seconds=4)
    assert dev.battery.battery_w == pytest.approx(400.0)  # soft, not 5000 W/s
    run(dev, seconds=36)
    assert dev.battery.battery_w == pytest.approx(4000.0)


def test_ignore_default_control_fault_ignores_it():
    dev = device()
    dev.faults = FleetFaults(ignore_default_control=True)
    default = DefaultDERControl(
        mrid="D0" * 16, der_control_base=DERControlBase(op_mod_connect=False)
    )
    dev.learn_default(default)
    run(dev)
    assert dev.command.connected


def test_export_limit_wins_over_an_import_limit_it_contradicts():
    modes = ControlModes(exp_lim_w=0.0, imp_lim_w=0.0)
    command = resolve(modes, set_max_w=SET_MAX_W, net_load_w=-2000.0)
    assert command.target_w == pytest.approx(-2000.0)


def test_curve_is_flat_beyond_its_points():
    c = Curve(12, ((100.0, 100.0), (110.0, 0.0)))
    assert (c.at(90), c.at(105), c.at(120)) == (100.0, 50.0, 0.0)


def test_readings_show_the_disconnect_and_the_power_factor():
    fleet = Sep2Fleet(base_url="https://127.0.0.1:1", devices=1, client_style="independent")
    dev = obey(DERControlBase(op_mod_connect=False))
    values = fleet.readings_of(dev, site_w=500.0)
    assert values[ROLE_MIRROR_DER, "w"] == 0.0 and values[ROLE_MIRROR_DER, "var"] == 0.0
    pf = PowerFactorWithExcitation(displacement=80, excitation=True, multiplier=-2)
    dev = obey(DERControlBase(op_mod_target_w=active_power(4000), op_mod_fixed_pf_inject_w=pf))
    values = fleet.readings_of(dev, site_w=-3500.0)
    assert values[ROLE_MIRROR_DER, "pf"] == pytest.approx(0.8)
    assert values[ROLE_MIRROR_DER, "va"] == pytest.approx(5000.0)
    assert values[ROLE_MIRROR_DER, "a"] == pytest.approx(5000.0 / 240.0)


class FakeServer:
    """A 2030.5 server's resources by path; every answer goes through the XML codec."""

    def __init__(self, resources):
        self.resources, self.gets = resources, []

    async def get(self, path, cls=None):
        path = path.split("?")[0]
        self.gets.append(path)
        return parse(serialize(self.resources[path]), cls)


def served_program(control_base: DERControlBase, default_base: DERControlBase) -> FakeServer:
    listed = ListLink(href="/edev/1/fsa", all=1)
    return FakeServer(
        {
            listed.href: FunctionSetAssignmentsList(
                href=listed.href,
                all=1,
                results=1,
                function_set_assignments=[
                    FunctionSetAssignments(
                        href="/edev/1/fsa/1",
                        mrid="F5" * 16,
                        der_program_list_link=ListLink(href="/edev/1/derp", all=1),
                    )
                ],
            ),
            "/edev/1/derp": DERProgramList(
                href="/edev/1/derp",
                all=1,
                results=1,
                der_programs=[
                    DERProgram(
                        href="/edev/1/derp/1",
                        mrid="DE" * 16,
                        primacy=1,
                        der_control_list_link=ListLink(href="/edev/1/derp/1/derc", all=1),
                        default_der_control_link=Link(href="/edev/1/derp/1/dderc"),
                    )
                ],
            ),
            "/edev/1/derp/1/derc": DERControlList(
                href="/edev/1/derp/1/derc", all=1, results=1, der_controls=[served(control_base)]
            ),
            "/edev/1/derp/1/dderc": DefaultDERControl(
                href="/edev/1/derp/1/dderc", mrid="DD" * 16, der_control_base=default_base
            ),
            "/derp/1/dc/1": curve(12, [(1060, 100), (1100, 20)], x_mult=-1),
            "/derp/1/dc/2": curve(0, [(6010, 100), (6100, 0)], x_mult=-2),
        }
    )


def test_a_poll_fetches_the_curves_its_controls_link_and_follows_them():
    server = served_program(
        DERControlBase(op_mod_volt_watt=Link(href="/derp/1/dc/1"), op_mod_fixed_w=10000),
        DERControlBase(op_mod_freq_watt=Link(href="/derp/1/dc/2")),
    )
    fleet = Sep2Fleet(base_url="https://127.0.0.1:1", devices=1)
    fleet._build()
    dev = fleet.devices[0]
    dev.client = server  # type: ignore[assignment]
    dev.edev = SepEndDevice(
        href="/edev/1",
        sfdi=1,
        changed_time=T0,
        function_set_assignments_list_link=ListLink(href="/edev/1/fsa", all=1),
    )
    asyncio.run(fleet._poll(dev))
    assert {"/derp/1/dc/1", "/derp/1/dc/2"} <= set(server.gets)
    (control,) = dev.controls.values()
    assert control.modes.volt_watt is not None
    assert dev.default_modes is not None and dev.default_modes.freq_watt is not None
    dev.grid = Grid(voltage_pct=108.0)
    run(dev)
    assert dev.battery.battery_w == pytest.approx(0.6 * dev.battery.params.max_discharge_w)


def test_an_independent_client_keys_events_by_mrid_across_its_devices():
    base = DERControlBase(op_mod_target_w=active_power(1000))
    fleet = Sep2Fleet(base_url="https://127.0.0.1:1", devices=2, client_style="independent")
    fleet._build()
    for dev in fleet.devices:
        dev.client = served_program(base, DERControlBase())  # type: ignore[assignment]
        dev.edev = SepEndDevice(
            href="/edev/1",
            sfdi=1,
            changed_time=T0,
            function_set_assignments_list_link=ListLink(href="/edev/1/fsa", all=1),
        )
        asyncio.run(fleet._poll(dev))
    # The same mRID served to both: the second device's copy is taken for the first's.
    assert len(fleet.devices[0].controls) == 1 and not fleet.devices[1].controls
    assert fleet.stats.mrid_collisions == 1


def test_dispatch_table_says_what_each_battery_did():
    fleet = Sep2Fleet(base_url="https://127.0.0.1:1", devices=2)
    fleet._build()
    first, second = fleet.devices
    first.learn(served(DERControlBase(op_mod_target_w=active_power(1800)), mrid="B1" * 16), 1)
    second.learn(served(DERControlBase(op_mod_connect=False), mrid="B2" * 16), 1)
    for dev in fleet.devices:
        dev.battery.t_s = NOON
        run(dev, seconds=10)
    lines = dispatch_table(fleet).splitlines()
    assert lines[0] == "| device | DERControl mRID | setpoint W | what the battery did |"
    assert f"| {'B1' * 16} | 1800 | discharging 1800 W (opModTargetW), SoC" in lines[2]
    assert f"| {'B2' * 16} | - | disconnected, 0 W (opModConnect false), SoC" in lines[3]
