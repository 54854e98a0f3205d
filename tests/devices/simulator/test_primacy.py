"""The simulated client resolves controls in force at once by primacy, as CSIP asks: a
lower primacy wins per mode, modes that differ apply together (a site envelope's export
limit clamps a device program's discharge), and within one program the newer control
supersedes the older."""

from devices.simulator.der_modes import ControlModes, merge_by_primacy
from devices.simulator.sep2_device import RSP_STARTED, RSP_SUPERSEDED
from protocol.xml.resources.derp import DERControlBase
from protocol.xml.resources.units import active_power
from tests.devices.simulator.test_der_modes import device, run, served

SITE, DEVICE = 1, 10  # primacy: the network's envelope wins


def test_merge_takes_each_mode_from_the_lowest_primacy_that_sets_it():
    site = ControlModes(exp_lim_w=1000.0)
    program = ControlModes(target_w=5000.0, exp_lim_w=3000.0)
    merged, gave = merge_by_primacy([site, program])
    assert (merged.exp_lim_w, merged.target_w) == (1000.0, 5000.0)
    assert gave == [True, True]
    _, gave = merge_by_primacy([ControlModes(exp_lim_w=1.0), ControlModes(exp_lim_w=2.0)])
    assert gave == [True, False]


def test_a_site_export_limit_clamps_a_device_discharge():
    dev = device()  # the household draws 500 W
    dev.learn(served(DERControlBase(op_mod_exp_lim_w=active_power(1000)), mrid="5E" * 16), SITE)
    dev.learn(served(DERControlBase(op_mod_target_w=active_power(5000)), mrid="DE" * 16), DEVICE)
    run(dev)
    # 500 W for the house and 1,000 W exported: 1,500 W, not 5,000 W nor self-consumption.
    assert round(dev.battery.battery_w) == 1500
    assert set(dev.command.held) == {"opModTargetW", "opModExpLimW"}
    for control in dev.controls.values():
        assert RSP_STARTED in control.responded
        assert RSP_SUPERSEDED not in control.responded


def test_a_lower_primacy_setting_the_same_mode_supersedes_the_other():
    dev = device()
    dev.learn(served(DERControlBase(op_mod_target_w=active_power(1000)), mrid="5E" * 16), SITE)
    dev.learn(served(DERControlBase(op_mod_target_w=active_power(4000)), mrid="DE" * 16), DEVICE)
    run(dev)
    assert round(dev.battery.battery_w) == 1000
    assert RSP_SUPERSEDED in dev.controls["DE" * 16].responded


def test_within_one_program_the_newer_control_wins_whole():
    dev = device()
    older = served(DERControlBase(op_mod_exp_lim_w=active_power(1000)), mrid="01" * 16)
    newer = served(DERControlBase(op_mod_target_w=active_power(3000)), mrid="02" * 16)
    newer.creation_time = older.creation_time + 10
    dev.learn(older, DEVICE)
    dev.learn(newer, DEVICE)
    run(dev)
    assert round(dev.battery.battery_w) == 3000  # no export limit from the older one
    assert RSP_SUPERSEDED in dev.controls["01" * 16].responded
