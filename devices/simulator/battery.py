"""Battery physics for simulated sites: SoC, limits, reserve, ramp and a household around it.

Sign convention: battery_w > 0 discharges (exports), < 0 charges. site_w is the net at the
meter, > 0 importing from the grid. Household load and solar are deterministic functions of
time plus noise seeded by `seed`, so two models with the same parameters agree exactly.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class BatteryParams:
    """Nameplate and behaviour of one simulated battery and its household."""

    capacity_wh: float = 13_500.0
    max_charge_w: float = 5_000.0
    max_discharge_w: float = 5_000.0
    round_trip_efficiency: float = 0.90
    soc_min_pct: float = 5.0
    soc_max_pct: float = 100.0
    reserve_pct: float = 20.0  # the customer's backup reserve; dispatch never goes below it
    ramp_w_per_s: float = 1_000.0
    initial_soc_pct: float = 50.0
    base_load_w: float = 450.0
    evening_load_w: float = 1_800.0
    solar_peak_w: float = 4_000.0
    noise_w: float = 150.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.round_trip_efficiency <= 1:
            raise ValueError("round_trip_efficiency must be in (0, 1]")
        if not 0 <= self.soc_min_pct <= self.soc_max_pct <= 100:
            raise ValueError("need 0 <= soc_min_pct <= soc_max_pct <= 100")
        if self.capacity_wh <= 0 or self.ramp_w_per_s <= 0:
            raise ValueError("capacity_wh and ramp_w_per_s must be positive")
        if self.max_charge_w < 0 or self.max_discharge_w < 0:
            raise ValueError("power limits must not be negative")

    @property
    def one_way_efficiency(self) -> float:
        return math.sqrt(self.round_trip_efficiency)

    @property
    def discharge_floor_pct(self) -> float:
        return max(self.soc_min_pct, self.reserve_pct)


@dataclass(frozen=True, slots=True)
class StepResult:
    """The state after one step."""

    t_s: float
    battery_w: float
    soc_pct: float
    load_w: float
    solar_w: float
    site_w: float
    ac_energy_in_wh: float  # energy drawn from AC to charge, this step
    ac_energy_out_wh: float  # energy delivered to AC by discharging, this step


def _unit_noise(seed: int, channel: str, slot: int) -> float:
    """A deterministic value in [-1, 1] for (seed, channel, time slot)."""
    digest = hashlib.blake2b(f"{seed}:{channel}:{slot}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**63 - 1.0


class BatteryModel:
    """One battery behind a household meter, stepped in simulated seconds."""

    def __init__(self, params: BatteryParams | None = None, *, t0_s: float = 12 * 3600.0):
        self.params = params or BatteryParams()
        self.t_s = t0_s  # seconds since local midnight of day 0
        self.stored_wh = self.params.capacity_wh * self.params.initial_soc_pct / 100.0
        self.battery_w = 0.0
        self.site_w: float | None = None  # the net at the meter over the last step
        self.setpoint_w: float | None = None
        self.total_in_wh = 0.0
        self.total_out_wh = 0.0

    def __str__(self) -> str:
        return f"battery {self.soc_pct:.1f} % at {self.battery_w:.0f} W"

    @property
    def soc_pct(self) -> float:
        return 100.0 * self.stored_wh / self.params.capacity_wh

    def load_w(self, t_s: float) -> float:
        """Household consumption: a base, an evening peak and minute-scale noise."""
        p = self.params
        hour = (t_s % DAY_S) / 3600.0
        evening = math.exp(-(((hour - 19.0) / 2.5) ** 2))
        morning = 0.5 * math.exp(-(((hour - 7.5) / 1.5) ** 2))
        noise = p.noise_w * _unit_noise(p.seed, "load", int(t_s // 60))
        return max(0.0, p.base_load_w + p.evening_load_w * (evening + morning) + noise)

    def solar_w(self, t_s: float) -> float:
        """Rooftop PV: a half sine from 06:00 to 18:00 with passing clouds."""
        p = self.params
        hour = (t_s % DAY_S) / 3600.0
        if not 6.0 < hour < 18.0:
            return 0.0
        clear = p.solar_peak_w * math.sin(math.pi * (hour - 6.0) / 12.0)
        cloud = 0.15 * (1.0 + _unit_noise(p.seed, "cloud", int(t_s // 300)))
        return max(0.0, clear * (1.0 - cloud))

    def _power_limits(self, dt_s: float) -> tuple[float, float]:
        """(most charge W, most discharge W) that respect nameplate and SoC bounds over dt."""
        p = self.params
        eta = p.one_way_efficiency
        hours = dt_s / 3600.0
        headroom_wh = max(0.0, p.capacity_wh * p.soc_max_pct / 100.0 - self.stored_wh)
        available_wh = max(0.0, self.stored_wh - p.capacity_wh * p.discharge_floor_pct / 100.0)
        charge = min(p.max_charge_w, headroom_wh / eta / hours)
        discharge = min(p.max_discharge_w, available_wh * eta / hours)
        return charge, discharge

    def step(
        self, dt_s: float, setpoint_w: float | None = None, *, ramp_w_per_s: float | None = None
    ) -> StepResult:
        """Advance dt_s seconds towards `setpoint_w`, or self-consumption when None, ramping
        at `ramp_w_per_s` (a control's rampTms or gradient) instead of the nameplate's."""
        if dt_s <= 0:
            raise ValueError("dt_s must be positive")
        p = self.params
        self.setpoint_w = setpoint_w
        t_mid = self.t_s + dt_s / 2
        load, solar = self.load_w(t_mid), self.solar_w(t_mid)
        target = (load - solar) if setpoint_w is None else setpoint_w
        max_charge, max_discharge = self._power_limits(dt_s)
        target = min(max(target, -max_charge), max_discharge)
        ramp = (ramp_w_per_s if ramp_w_per_s is not None else p.ramp_w_per_s) * dt_s
        power = min(max(target, self.battery_w - ramp), self.battery_w + ramp)
        # Ramping can overshoot what the SoC bounds allow; the bounds win.
        power = min(max(power, -max_charge), max_discharge)

        hours = dt_s / 3600.0
        eta = p.one_way_efficiency
        energy_in = energy_out = 0.0
        if power < 0:
            energy_in = -power * hours
            self.stored_wh += energy_in * eta
        elif power > 0:
            energy_out = power * hours
            self.stored_wh -= energy_out / eta
        self.stored_wh = min(max(self.stored_wh, 0.0), p.capacity_wh)
        self.total_in_wh += energy_in
        self.total_out_wh += energy_out
        self.battery_w = power
        self.site_w = load - solar - power
        self.t_s += dt_s
        return StepResult(
            t_s=self.t_s,
            battery_w=power,
            soc_pct=self.soc_pct,
            load_w=load,
            solar_w=solar,
            site_w=load - solar - power,
            ac_energy_in_wh=energy_in,
            ac_energy_out_wh=energy_out,
        )
