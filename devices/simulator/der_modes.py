"""What a simulated battery does with a DERControlBase: every mode, as a pure function.

`ControlModes.of(base, curves)` reads the modes from the 2030.5 XML a server serves (the
curve modes are links, resolved through `curves`: href → DERCurve). `resolve()` turns the
modes, the household's net load and the simulated grid into a `Command`: the W the battery
aims for (None: self-consumption), how fast it may ramp there, its reactive power, whether
it is connected, and the operational mode it reports.

Sign convention (as in `battery`): W > 0 discharges, < 0 charges; the site imports
net_load - W. Percent values are hundredths of a percent (2030.5's PerCent), of `setMaxW`
unless the standard names another base.

This is a transport-side tool: it may use `protocol.xml`, and the domain never imports it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from protocol.xml.resources.derp import DefaultDERControl, DERControlBase, DERCurve, FreqDroop
from protocol.xml.resources.units import watts_of

# DERCurveType (IEEE 2030.5)
CURVE_FREQ_WATT, CURVE_VOLT_VAR, CURVE_VOLT_WATT, CURVE_WATT_PF = 0, 11, 12, 13
# ConnectStatusType bits: connected, available, operating
CONNECTED, AVAILABLE, OPERATING = 0x01, 0x02, 0x04
# OperationalModeStatusType: 0 not applicable, 1 off, 2 operational mode, 3 test mode
OP_MODE_OFF, OP_MODE_OPERATIONAL = 1, 2


@dataclass(frozen=True)
class Curve:
    """A DERCurve's points in real units: x (V in % of nominal, Hz, or % of setMaxW) and y
    (% of its yRefType's base, or a power factor)."""

    curve_type: int
    points: tuple[tuple[float, float], ...]
    y_ref_type: int = 1

    @classmethod
    def of(cls, curve: DERCurve) -> Curve:
        xs, ys = 10.0**curve.x_multiplier, 10.0**curve.y_multiplier
        points = sorted((p.xvalue * xs, p.yvalue * ys) for p in curve.curve_data)
        if not points:
            raise ValueError(f"DERCurve {curve.mrid} has no CurveData")
        return cls(curve.curve_type, tuple(points), curve.y_ref_type)

    def at(self, x: float) -> float:
        """y at x: linear between points, flat beyond the first and the last."""
        pts = self.points
        if x <= pts[0][0]:
            return pts[0][1]
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            if x <= x1:
                return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        return pts[-1][1]


@dataclass(frozen=True)
class Droop:
    """A FreqDroopType in real units: dead bands in Hz either side of nominal, the droops
    as per-unit frequency change for a 1 per-unit (setMaxW) change of output, and the
    open-loop response time in seconds."""

    db_of_hz: float
    db_uf_hz: float
    k_of: float
    k_uf: float
    open_loop_s: float

    @classmethod
    def of(cls, value: FreqDroop) -> Droop:
        # dBOF/dBUF in thousandths of Hz, kOF/kUF in thousandths, openLoopTms in hundredths
        # of a second (2030.5 FreqDroopType).
        return cls(
            value.db_of / 1000, value.db_uf / 1000, value.k_of / 1000, value.k_uf / 1000,
            value.open_loop_tms / 100,
        )  # fmt: skip

    def change_pu(self, frequency_hz: float, nominal_hz: float) -> float:
        """The change of output, per unit of setMaxW, at `frequency_hz`: down above the
        over-frequency dead band, up below the under-frequency one, none between (a droop
        of 0 means that side does not respond)."""
        over = frequency_hz - (nominal_hz + self.db_of_hz)
        if over > 0:
            return -over / (nominal_hz * self.k_of) if self.k_of else 0.0
        under = (nominal_hz - self.db_uf_hz) - frequency_hz
        if under > 0:
            return under / (nominal_hz * self.k_uf) if self.k_uf else 0.0
        return 0.0


@dataclass(frozen=True)
class ControlModes:
    """The modes of one DERControlBase (and, for a default, its gradients)."""

    connect: bool | None = None
    energize: bool | None = None
    fixed_w_pct: int | None = None  # opModFixedW, signed hundredths of a % of setMaxW
    max_lim_pct: int | None = None  # opModMaxLimW, hundredths of a % of setMaxW
    target_w: float | None = None  # opModTargetW
    fixed_pf_inject: float | None = None  # opModFixedPFInjectW as a signed PF
    fixed_pf_absorb: float | None = None  # opModFixedPFAbsorbW as a signed PF
    fixed_var_pct: int | None = None  # opModFixedVar, signed hundredths of a % of setMaxW
    ramp_tms: int | None = None  # rampTms, hundredths of a second to reach the new target
    imp_lim_w: float | None = None  # csipaus:opModImpLimW, at the site
    exp_lim_w: float | None = None  # csipaus:opModExpLimW, at the site
    gen_lim_w: float | None = None  # csipaus:opModGenLimW, the battery's output
    load_lim_w: float | None = None  # csipaus:opModLoadLimW, the battery's charging
    storage_target_w: float | None = None  # csipaus:opModStorageTargetW
    volt_var: Curve | None = None
    volt_watt: Curve | None = None
    freq_watt: Curve | None = None
    watt_pf: Curve | None = None
    freq_droop: Droop | None = None
    grad_w: int | None = None  # DefaultDERControl setGradW, hundredths of a % setMaxW per s
    soft_grad_w: int | None = None  # setSoftGradW, the same after a (re)connection

    @classmethod
    def of(
        cls,
        base: DERControlBase,
        curves: dict[str, DERCurve] | None = None,
        default: DefaultDERControl | None = None,
    ) -> ControlModes:
        """The modes `base` sets; a curve link missing from `curves` raises KeyError."""
        curves = curves or {}

        def curve(link) -> Curve | None:
            return Curve.of(curves[link.href]) if link is not None else None

        def w(value) -> float | None:
            return watts_of(value) if value is not None else None

        def pf(value, sign: int) -> float | None:
            if value is None:
                return None
            # displacement * 10^multiplier; excitation true is over-excited (injects var)
            factor = value.displacement * 10.0**value.multiplier
            return sign * min(1.0, factor) * (1 if value.excitation else -1)

        return cls(
            connect=base.op_mod_connect,
            energize=base.op_mod_energize,
            fixed_w_pct=base.op_mod_fixed_w,
            max_lim_pct=base.op_mod_max_lim_w,
            target_w=w(base.op_mod_target_w),
            fixed_pf_inject=pf(base.op_mod_fixed_pf_inject_w, 1),
            fixed_pf_absorb=pf(base.op_mod_fixed_pf_absorb_w, 1),
            fixed_var_pct=base.op_mod_fixed_var.value if base.op_mod_fixed_var else None,
            ramp_tms=base.ramp_tms,
            imp_lim_w=w(base.op_mod_imp_lim_w),
            exp_lim_w=w(base.op_mod_exp_lim_w),
            gen_lim_w=w(base.op_mod_gen_lim_w),
            load_lim_w=w(base.op_mod_load_lim_w),
            storage_target_w=w(base.op_mod_storage_target_w),
            volt_var=curve(base.op_mod_volt_var),
            volt_watt=curve(base.op_mod_volt_watt),
            freq_watt=curve(base.op_mod_freq_watt),
            watt_pf=curve(base.op_mod_watt_pf),
            freq_droop=Droop.of(base.op_mod_freq_droop) if base.op_mod_freq_droop else None,
            grad_w=default.set_grad_w if default else None,
            soft_grad_w=default.set_soft_grad_w if default else None,
        )

    @property
    def curve_links_needed(self) -> bool:
        return any((self.volt_var, self.volt_watt, self.freq_watt, self.watt_pf))


def merge_by_primacy(ranked: list[ControlModes]) -> tuple[ControlModes, list[bool]]:
    """The modes in force when several controls are (CSIP: a lower primacy wins per mode;
    modes that differ apply together, e.g. a site export limit clamps a device program's
    discharge). `ranked`: each control's modes, the winner first. Answers the merged modes
    and, per control, whether it gave any of them (one that gave none is superseded)."""
    merged: dict[str, object] = {}
    gave = [False] * len(ranked)
    for index, modes in enumerate(ranked):
        for name in ControlModes.__dataclass_fields__:
            value = getattr(modes, name)
            if value is not None and name not in merged:
                merged[name] = value
                gave[index] = True
    return ControlModes(**merged), gave  # type: ignore[arg-type]


def curve_hrefs(base: DERControlBase) -> list[str]:
    """The DERCurve hrefs `base` links (its curve modes)."""
    links = (base.op_mod_volt_var, base.op_mod_volt_watt, base.op_mod_freq_watt)
    return [link.href for link in (*links, base.op_mod_watt_pf) if link is not None]


@dataclass(frozen=True)
class Grid:
    """The simulated grid at the battery's terminals."""

    voltage_pct: float = 100.0  # of nominal
    frequency_hz: float = 60.0
    nominal_v: float = 240.0
    nominal_hz: float = 60.0


@dataclass(frozen=True)
class Command:
    """What the battery does under a set of modes."""

    target_w: float | None  # None: self-consumption (or the idle export)
    connected: bool
    var: float = 0.0
    power_factor: float | None = None  # a PF to hold (var follows W), else None
    ramp_tms: int | None = None
    grad_w_per_s: float | None = None
    op_mode_status: int = OP_MODE_OPERATIONAL
    held: tuple[str, ...] = ()  # the modes that shaped the target, in words

    @property
    def connect_status(self) -> int:
        """ConnectStatusType bitmap for genConnectStatus/storConnectStatus."""
        return CONNECTED | AVAILABLE | OPERATING if self.connected else AVAILABLE


def resolve(
    modes: ControlModes | None,
    *,
    set_max_w: float,
    net_load_w: float,
    grid: Grid = Grid(),
    idle_w: float | None = None,
    battery_w: float = 0.0,
) -> Command:
    """The Command `modes` give a battery rated `set_max_w` whose household draws
    `net_load_w` (load - PV). `idle_w`: the target with no W mode (None: self-consumption).
    `battery_w`: the present output (the watt-PF curve reads it)."""
    if modes is None:
        return Command(target_w=idle_w, connected=True)
    if modes.connect is False or modes.energize is False:
        held = "opModConnect false" if modes.connect is False else "opModEnergize false"
        return Command(target_w=0.0, connected=False, op_mode_status=OP_MODE_OFF, held=(held,))
    held: list[str] = []
    target: float | None = idle_w
    if modes.fixed_w_pct is not None:
        target = set_max_w * modes.fixed_w_pct / 10_000
        held.append("opModFixedW")
    elif modes.storage_target_w is not None:
        target = modes.storage_target_w
        held.append("opModStorageTargetW")
    elif modes.target_w is not None:
        target = modes.target_w
        held.append("opModTargetW")
    limited = target if target is not None else net_load_w
    ramp_tms = modes.ramp_tms
    if modes.freq_droop is not None:  # around what it would do at nominal frequency
        change = modes.freq_droop.change_pu(grid.frequency_hz, grid.nominal_hz)
        target = limited = max(-set_max_w, min(set_max_w, limited + change * set_max_w))
        held.append("opModFreqDroop")
        if ramp_tms is None and modes.freq_droop.open_loop_s:
            ramp_tms = round(modes.freq_droop.open_loop_s * 100)
    upper, lower = math.inf, -math.inf  # most discharge, most charge (negative)
    if modes.max_lim_pct is not None:
        upper = min(upper, set_max_w * modes.max_lim_pct / 10_000)
        held.append("opModMaxLimW")
    if modes.gen_lim_w is not None:
        upper = min(upper, modes.gen_lim_w)
        held.append("opModGenLimW")
    if modes.load_lim_w is not None:
        lower = max(lower, -modes.load_lim_w)
        held.append("opModLoadLimW")
    if modes.exp_lim_w is not None:  # site export = W - net_load
        upper = min(upper, net_load_w + modes.exp_lim_w)
        held.append("opModExpLimW")
    if modes.imp_lim_w is not None:  # site import = net_load - W
        lower = max(lower, net_load_w - modes.imp_lim_w)
        held.append("opModImpLimW")
    if modes.volt_watt is not None:
        upper = min(upper, set_max_w * modes.volt_watt.at(grid.voltage_pct) / 100)
        held.append("opModVoltWatt")
    if modes.freq_watt is not None:
        upper = min(upper, set_max_w * modes.freq_watt.at(grid.frequency_hz) / 100)
        held.append("opModFreqWatt")
    if upper < lower:  # an import limit above an export limit: the export limit wins
        lower = upper
    if upper != math.inf or lower != -math.inf:
        target = min(max(limited, lower), upper)
    var, pf = 0.0, None
    if modes.fixed_var_pct is not None:
        var = set_max_w * modes.fixed_var_pct / 10_000
        held.append("opModFixedVar")
    elif modes.volt_var is not None:
        var = set_max_w * modes.volt_var.at(grid.voltage_pct) / 100
        held.append("opModVoltVar")
    elif modes.fixed_pf_inject is not None or modes.fixed_pf_absorb is not None:
        discharging = (target if target is not None else net_load_w) >= 0
        chosen = modes.fixed_pf_inject if discharging else modes.fixed_pf_absorb
        if chosen is not None:
            pf = chosen
            held.append("opModFixedPFInjectW" if discharging else "opModFixedPFAbsorbW")
    elif modes.watt_pf is not None:
        pf = modes.watt_pf.at(100 * battery_w / set_max_w if set_max_w else 0)
        held.append("opModWattPF")
    grad = modes.grad_w
    return Command(
        target_w=target,
        connected=True,
        var=var,
        power_factor=pf,
        ramp_tms=ramp_tms,
        grad_w_per_s=set_max_w * grad / 10_000 if grad else None,
        held=tuple(held),
    )


def var_of(w: float, power_factor: float) -> float:
    """Reactive power at `w` and a signed power factor (negative: absorbing var)."""
    magnitude = min(1.0, abs(power_factor))
    if magnitude <= 0:
        return 0.0
    q = abs(w) * math.tan(math.acos(magnitude))
    return q if power_factor > 0 else -q
