import dataclasses
import itertools

import pytest

from devices.simulator.battery import BatteryModel, BatteryParams


def test_round_trip_loses_exactly_the_efficiency():
    params = BatteryParams(round_trip_efficiency=0.81, initial_soc_pct=50.0, ramp_w_per_s=1e6)
    battery = BatteryModel(params)
    start_wh = battery.stored_wh
    for _ in range(60):
        battery.step(60.0, -3000.0)  # charge for an hour
    charged_in = battery.total_in_wh
    assert battery.stored_wh == pytest.approx(start_wh + charged_in * 0.9)
    while battery.stored_wh > start_wh + 1e-9:
        # discharge exactly back to the starting charge
        needed_out = (battery.stored_wh - start_wh) * 0.9
        battery.step(60.0, min(3000.0, needed_out / (60.0 / 3600.0)))
    assert battery.stored_wh == pytest.approx(start_wh)
    assert battery.total_out_wh / charged_in == pytest.approx(0.81)


def test_discharge_stops_at_the_customer_reserve():
    params = BatteryParams(reserve_pct=30.0, soc_min_pct=5.0, initial_soc_pct=40.0)
    battery = BatteryModel(params)
    results = [battery.step(30.0, 5000.0) for _ in range(400)]
    assert min(r.soc_pct for r in results) == pytest.approx(30.0)
    assert results[-1].battery_w == pytest.approx(0.0)
    assert all(r.soc_pct >= 30.0 - 1e-9 for r in results)


def test_charge_stops_at_soc_max():
    battery = BatteryModel(BatteryParams(soc_max_pct=90.0, initial_soc_pct=85.0))
    results = [battery.step(30.0, -5000.0) for _ in range(200)]
    assert max(r.soc_pct for r in results) == pytest.approx(90.0)
    assert results[-1].battery_w == pytest.approx(0.0)


def test_power_limits_clip_the_setpoint():
    battery = BatteryModel(BatteryParams(max_discharge_w=3000.0, ramp_w_per_s=1e6))
    assert battery.step(1.0, 9000.0).battery_w == pytest.approx(3000.0)
    assert battery.step(1.0, -9000.0).battery_w == pytest.approx(-5000.0)


def test_ramp_rate_is_respected():
    battery = BatteryModel(BatteryParams(ramp_w_per_s=250.0))
    powers = [0.0] + [battery.step(1.0, 4000.0).battery_w for _ in range(20)]
    steps = [b - a for a, b in itertools.pairwise(powers)]
    assert max(steps) == pytest.approx(250.0)
    assert powers[-1] == pytest.approx(4000.0)
    assert powers[5] == pytest.approx(1250.0)
    down = [battery.step(2.0, -4000.0).battery_w for _ in range(3)]
    assert down == pytest.approx([3500.0, 3000.0, 2500.0])


def test_site_w_is_the_household_net_of_the_battery():
    battery = BatteryModel(BatteryParams(ramp_w_per_s=1e6), t0_s=12 * 3600.0)
    result = battery.step(10.0, 2000.0)
    assert result.solar_w > 0
    assert result.site_w == pytest.approx(result.load_w - result.solar_w - 2000.0)
    assert result.site_w != pytest.approx(-result.battery_w)


def test_self_consumption_follows_the_household_when_there_is_no_setpoint():
    battery = BatteryModel(BatteryParams(ramp_w_per_s=1e6), t0_s=20 * 3600.0)
    result = battery.step(10.0, None)
    assert result.solar_w == 0.0
    assert result.battery_w == pytest.approx(result.load_w)
    assert result.site_w == pytest.approx(0.0)


def test_same_seed_same_trajectory_and_other_seed_differs():
    def run(seed: int) -> list[tuple[float, float, float]]:
        battery = BatteryModel(BatteryParams(seed=seed), t0_s=6 * 3600.0)
        out = []
        for i in range(300):
            r = battery.step(37.0, None if i % 3 else 1500.0)
            out.append((r.soc_pct, r.site_w, r.battery_w))
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_household_profile_depends_on_time_not_on_step_size():
    a = BatteryModel(BatteryParams(seed=3))
    b = BatteryModel(BatteryParams(seed=3))
    assert a.load_w(50_000.0) == b.load_w(50_000.0)
    assert a.solar_w(43_210.0) == b.solar_w(43_210.0)


def test_invalid_parameters_are_rejected():
    with pytest.raises(ValueError, match="round_trip_efficiency"):
        BatteryParams(round_trip_efficiency=1.2)
    with pytest.raises(ValueError, match="soc_min_pct"):
        dataclasses.replace(BatteryParams(), soc_min_pct=60.0, soc_max_pct=50.0)
