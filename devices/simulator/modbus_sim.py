"""A SunSpec Modbus battery simulator on pymodbus 3.16 (SimDevice/SimData).

Each simulated battery is one Modbus unit with a SunSpec map at 40000 built from the model
definitions: 1, 701, 702, 704, 713, 715, 802 (or, with `legacy=True`, 1, 103, 120, 124),
then the end marker. An `action` hook sees every request: it advances the BatteryModel to
the simulated present, refreshes the measurement registers, rejects writes to read-only
points, and turns 704/124 control writes into setpoints with their reversion timers.

    python -m devices.simulator.modbus_sim --port 15020 --count 5 --time-scale 60

Binds to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from devices.connectors.sunspec.codec import (
    Value,
    decode,
    encode_block,
    encode_point,
    unimplemented_registers,
)
from devices.connectors.sunspec.models import END_MODEL_ID, SUNS_MARKER, model_definition
from devices.simulator.battery import BatteryModel, BatteryParams
from devices.simulator.modbus_lean import LeanModbusServer

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
BASE_ADDRESS = 40000
MODERN_MODELS = (1, 701, 702, 704, 713, 715, 802)
LEGACY_MODELS = (1, 103, 120, 124)
MAX_STEP_S = 60.0  # physics step while catching up with the clock
MAX_UNITS_PER_PORT = 247  # Modbus unit ids 1..247


@dataclass
class SimulatedBattery:
    """One Modbus unit: a battery model, its register map and its control state."""

    unit_id: int
    serial: str
    model: BatteryModel
    legacy: bool = False
    ignore_writes: bool = False  # acknowledge writes, then drop them (a real failure mode)
    unimplemented: frozenset[str] = frozenset()  # "802.SoC": left at its "not implemented" value
    sf: dict[str, int] = field(default_factory=dict)
    layout: dict[int, int] = field(default_factory=dict)  # model id -> ID register address
    writable: frozenset[int] = frozenset()
    registers: list[int] = field(default_factory=list)  # the initial map, from BASE_ADDRESS
    sim_t_s: float = 0.0
    reversion_at_s: float | None = None
    setpoint_w: float | None = None
    writes_seen: int = 0

    def __str__(self) -> str:
        return f"unit {self.unit_id} ({self.serial}): {self.model}"


def _model_values(battery: SimulatedBattery, model_id: int) -> dict[str, Value]:
    """Initial engineering values for every model the simulator hosts."""
    p = battery.model.params
    sf = battery.sf
    if model_id == 1:
        return {
            "Mn": "Reservoir",
            "Md": "SimBattery",
            "Vr": "1.0.0",
            "SN": battery.serial,
            "DA": battery.unit_id,
        }
    if model_id == 701:
        return {
            "ACType": 1,
            "St": 1,
            "InvSt": 1,
            "ConnSt": 1,
            "Alrm": 0,
            "W": 0,
            "VA": 0,
            "Var": 0,
            "PF": 1.0,
            "A": 0,
            "LNV": 240.0,
            "LLV": 240.0,
            "Hz": 60.0,
            "TmpCab": 25,
            "A_SF": -2,
            "V_SF": -1,
            "Hz_SF": -2,
            "W_SF": sf["W_SF"],
            "PF_SF": -3,
            "VA_SF": sf["W_SF"],
            "Var_SF": sf["W_SF"],
            "TotWh_SF": 0,
            "TotVarh_SF": 0,
            "Tmp_SF": 0,
        }
    if model_id == 702:
        return {
            "WMaxRtg": p.max_discharge_w,
            "WChaRteMaxRtg": p.max_charge_w,
            "WDisChaRteMaxRtg": p.max_discharge_w,
            "VNomRtg": 240,
            "WMax": p.max_discharge_w,
            "WChaRteMax": p.max_charge_w,
            "WDisChaRteMax": p.max_discharge_w,
            "W_SF": 0,
            "V_SF": 0,
        }
    if model_id == 704:
        return {
            "WSetEna": 0,
            "WSetMod": 1,
            "WSet": 0,
            "WSetRvrt": 0,
            "WSetEnaRvrt": 0,
            "WSetRvrtTms": 0,
            "WSetRvrtRem": 0,
            "WSet_SF": sf["WSet_SF"],
        }
    if model_id == 713:
        return {
            "WHRtg": p.capacity_wh,
            "WHAvail": 0,
            "SoC": 0,
            "SoH": 100,
            "Sta": 1,
            "WH_SF": 1,
            "Pct_SF": sf["SoC_SF"],
        }
    if model_id == 715:
        return {"LocRemCtl": 0, "DERHb": 0, "ControllerHb": 0, "AlarmReset": 0, "OpCtl": 0}
    if model_id == 802:
        return {
            "AHRtg": p.capacity_wh / 51.2,
            "WHRtg": p.capacity_wh,
            "WChaRteMax": p.max_charge_w,
            "WDisChaRteMax": p.max_discharge_w,
            "SoCMax": p.soc_max_pct,
            "SoCMin": p.soc_min_pct,
            "SoCRsvMin": p.reserve_pct,
            "SoC": 0,
            "SoH": 100,
            "ChaSt": 6,
            "LocRemCtl": 0,
            "AlmRst": 0,
            "Typ": 4,
            "State": 3,
            "Evt1": 0,
            "Evt2": 0,
            "EvtVnd1": 0,
            "EvtVnd2": 0,
            "V": 51.2,
            "A": 0,
            "W": 0,
            "SetOp": 1,
            "SetInvState": 1,
            "AHRtg_SF": 0,
            "WHRtg_SF": 0,
            "WChaDisChaMax_SF": 0,
            "SoC_SF": sf["SoC_SF"],
            "SoH_SF": 0,
            "V_SF": -1,
            "CellV_SF": -3,
            "A_SF": -1,
            "AMax_SF": 0,
            "W_SF": 0,
        }
    if model_id == 103:
        return {
            "A": 0,
            "AphA": 0,
            "A_SF": -2,
            "PhVphA": 240.0,
            "PhVphB": 240.0,
            "PhVphC": 240.0,
            "V_SF": -1,
            "W": 0,
            "W_SF": sf["W_SF"],
            "Hz": 60.0,
            "Hz_SF": -2,
            "VAr": 0,
            "VAr_SF": sf["W_SF"],
            "WH": 1,
            "WH_SF": 0,
            "TmpCab": 25,
            "Tmp_SF": 0,
            "St": 4,
            "Evt1": 0,
            "Evt2": 0,
        }
    if model_id == 120:
        return {
            "DERTyp": 82,
            "WRtg": p.max_discharge_w,
            "WRtg_SF": 0,
            "VARtg": p.max_discharge_w,
            "VARtg_SF": 0,
            "VArRtgQ1": 0,
            "VArRtgQ2": 0,
            "VArRtgQ3": 0,
            "VArRtgQ4": 0,
            "VArRtg_SF": 0,
            "ARtg": 25,
            "ARtg_SF": 0,
            "PFRtgQ1": 1,
            "PFRtgQ2": 1,
            "PFRtgQ3": 1,
            "PFRtgQ4": 1,
            "PFRtg_SF": 0,
            "WHRtg": p.capacity_wh,
            "WHRtg_SF": 0,
        }
    if model_id == 124:
        return {
            "WChaMax": p.max_charge_w,
            "WChaGra": 100,
            "WDisChaGra": 100,
            "StorCtl_Mod": 0,
            "MinRsvPct": p.reserve_pct,
            "ChaState": 0,
            "ChaSt": 6,
            "OutWRte": 0,
            "InWRte": 0,
            "InOutWRte_RvrtTms": 0,
            "WChaMax_SF": 0,
            "WChaDisChaGra_SF": 0,
            "MinRsvPct_SF": 0,
            "ChaState_SF": sf["SoC_SF"],
            "InOutWRte_SF": sf["Pct_SF"],
        }
    raise KeyError(model_id)


def build_sunspec_map(battery: SimulatedBattery) -> list[int]:
    """SunS, each model block from its definition, then the end marker; fills the layout."""
    models = LEGACY_MODELS if battery.legacy else MODERN_MODELS
    registers = list(SUNS_MARKER)
    writable: set[int] = set()
    for model_id in models:
        address = BASE_ADDRESS + len(registers)
        battery.layout[model_id] = address
        block = encode_block(model_id, _model_values(battery, model_id))
        for key in battery.unimplemented:
            unimpl_model, _, point = key.partition(".")
            if int(unimpl_model) == model_id:
                pdef = model_definition(model_id).point(point)
                block[pdef.offset : pdef.offset + pdef.size] = unimplemented_registers(pdef)
        registers.extend(block)
        for point in model_definition(model_id).points.values():
            if point.writable:
                writable.update(range(address + point.offset, address + point.offset + point.size))
    registers.extend([END_MODEL_ID, 0])
    battery.writable = frozenset(writable)
    battery.registers = registers
    return registers


class BatterySimulator:
    """N simulated batteries served over Modbus TCP on loopback.

    Units are numbered 1..N per port; with `units_per_port` below N, further ports follow
    `port` (port, port + 1, ...). Simulated time runs `time_scale` times the wall clock.
    """

    def __init__(
        self,
        count: int = 5,
        *,
        port: int = 15020,
        time_scale: float = 1.0,
        seed: int = 0,
        units_per_port: int = MAX_UNITS_PER_PORT,
        legacy: bool = False,
        params: BatteryParams | None = None,
        t0_s: float = 12 * 3600.0,
        unimplemented: Iterable[str] = (),
        lean: bool = False,
    ) -> None:
        if not 1 <= units_per_port <= MAX_UNITS_PER_PORT:
            raise ValueError(f"units_per_port must be 1..{MAX_UNITS_PER_PORT}")
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.host = LOOPBACK
        self.time_scale = time_scale
        self.t0_s = t0_s
        self.lean = lean  # serve with LeanModbusServer instead of pymodbus's server
        self.batteries: list[SimulatedBattery] = []
        self.endpoints: list[tuple[str, int, int]] = []  # (host, port, unit id) per battery
        self._servers: dict[int, ModbusTcpServer | LeanModbusServer] = {}
        self._port_units: dict[int, list[SimulatedBattery]] = {}
        self._clock_start: float | None = None
        base = params or BatteryParams()
        for index in range(count):
            unit_port = port + index // units_per_port
            unit_id = index % units_per_port + 1
            battery_params = replace(base, seed=seed * 1_000_003 + index)
            battery = SimulatedBattery(
                unit_id=unit_id,
                serial=f"SIM{seed:03d}-{index:05d}",
                model=BatteryModel(battery_params, t0_s=t0_s),
                legacy=legacy,
                unimplemented=frozenset(unimplemented),
                # Vary scale factors between units, as real fleets do.
                sf={
                    "W_SF": (0, 0, 1)[index % 3],
                    "WSet_SF": (0, -1, 1)[index % 3],
                    "SoC_SF": (-1, -2, 0)[index % 3],
                    "Pct_SF": (-1, 0, -2)[index % 3],
                },
            )
            battery.sim_t_s = t0_s
            build_sunspec_map(battery)
            self.batteries.append(battery)
            self.endpoints.append((self.host, unit_port, unit_id))
            self._port_units.setdefault(unit_port, []).append(battery)
        self.ports = sorted(self._port_units)

    def __str__(self) -> str:
        return f"{len(self.batteries)} simulated batteries on {self.host}:{self.ports}"

    def sim_now_s(self) -> float:
        """Simulated seconds since midnight of day 0."""
        if self._clock_start is None:
            return self.t0_s
        elapsed = asyncio.get_running_loop().time() - self._clock_start
        return self.t0_s + elapsed * self.time_scale

    def _device(self, battery: SimulatedBattery) -> SimDevice:
        return SimDevice(
            id=battery.unit_id,
            simdata=[
                SimData(
                    address=BASE_ADDRESS,
                    values=list(battery.registers),
                    datatype=DataType.REGISTERS,
                )
            ],
            action=functools.partial(self._on_request, battery),
        )

    async def start(self) -> None:
        """Listen on every port (127.0.0.1 only)."""
        self._clock_start = asyncio.get_running_loop().time()
        for port in self.ports:
            await self.start_port(port)

    async def start_port(self, port: int) -> None:
        if self.lean:
            lean = LeanModbusServer(
                self.host,
                port,
                self._port_units[port],
                start_address=BASE_ADDRESS,
                hook=self.on_request,
            )
            await lean.start()
            self._servers[port] = lean
            return
        devices = [self._device(b) for b in self._port_units[port]]
        server = ModbusTcpServer(devices, address=(self.host, port))
        await server.serve_forever(background=True)
        self._servers[port] = server

    async def stop_port(self, port: int) -> None:
        """Take one port's units off the network (they stop answering)."""
        server = self._servers.pop(port, None)
        if server is not None:
            await server.shutdown()

    async def stop(self) -> None:
        for port in list(self._servers):
            await self.stop_port(port)

    async def __aenter__(self) -> BatterySimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- the action hook -------------------------------------------------------------

    async def _on_request(
        self, battery: SimulatedBattery, function_code: int, *request: Any
    ) -> ExcCodes | None:
        """pymodbus's action hook: (function code, start, address, count, registers, values)."""
        return self.on_request(battery, *request)

    def on_request(
        self,
        battery: SimulatedBattery,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """What every request does to a unit, whichever server carries it: advance the
        battery and refresh its measurements; for a write, refuse read-only registers or
        apply the controls (the server then stores `set_values`)."""
        self._advance(battery, registers, start_address)
        if set_values is None:
            return None
        if any(a not in battery.writable for a in range(address, address + count)):
            return ExcCodes.ILLEGAL_ADDRESS
        offset = address - start_address
        if battery.ignore_writes:
            set_values[:] = registers[offset : offset + count]  # type: ignore[assignment]
            return None
        after = list(registers)
        after[offset : offset + count] = [int(v) for v in set_values]
        battery.writes_seen += 1
        return self._apply_controls(battery, after, start_address)

    def _block(self, battery: SimulatedBattery, regs: list[int], start: int, model_id: int):
        address = battery.layout[model_id] - start
        length = model_definition(model_id).fixed_length
        return decode(model_id, regs[address : address + length])

    def _apply_controls(
        self, battery: SimulatedBattery, regs: list[int], start: int
    ) -> ExcCodes | None:
        p = battery.model.params
        now = battery.sim_t_s
        if 704 in battery.layout:
            ctl = self._block(battery, regs, start, 704)
            enabled = ctl["WSetEna"] == 1 and ctl["WSetMod"] == 1 and ctl["WSet"] is not None
            setpoint = float(ctl["WSet"]) if enabled else None  # type: ignore[arg-type]
            rvrt = ctl["WSetRvrtTms"]
        else:
            ctl = self._block(battery, regs, start, 124)
            mode = ctl["StorCtl_Mod"]
            out_pct, in_pct = ctl["OutWRte"] or 0.0, ctl["InWRte"] or 0.0
            if mode == 0b10:
                setpoint = p.max_charge_w * float(out_pct) / 100.0
            elif mode == 0b01:
                setpoint = -p.max_charge_w * float(in_pct) / 100.0
            elif mode == 0b11:
                setpoint = 0.0
            else:
                setpoint = None
            rvrt = ctl["InOutWRte_RvrtTms"]
        if setpoint is not None and not -p.max_charge_w <= setpoint <= p.max_discharge_w:
            return ExcCodes.ILLEGAL_VALUE
        battery.setpoint_w = setpoint
        battery.reversion_at_s = now + rvrt if setpoint is not None and rvrt else None
        return None

    def _advance(self, battery: SimulatedBattery, regs: list[int], start: int) -> None:
        """Step the physics up to now, handle reversion, refresh measurement registers."""
        target = self.sim_now_s()
        while battery.sim_t_s < target - 1e-9:
            end = min(target, battery.sim_t_s + MAX_STEP_S)
            if battery.reversion_at_s is not None and battery.reversion_at_s <= end:
                end = max(battery.reversion_at_s, battery.sim_t_s + 1e-6)
            battery.model.step(end - battery.sim_t_s, battery.setpoint_w)
            battery.sim_t_s = end
            if battery.reversion_at_s is not None and battery.sim_t_s >= battery.reversion_at_s:
                self._revert(battery, regs, start)
        self._refresh(battery, regs, start)

    def _revert(self, battery: SimulatedBattery, regs: list[int], start: int) -> None:
        battery.setpoint_w = None
        battery.reversion_at_s = None
        if 704 in battery.layout:
            self._put(battery, regs, start, 704, "WSetEna", 0)
        else:
            self._put(battery, regs, start, 124, "StorCtl_Mod", 0)

    def _put(
        self,
        battery: SimulatedBattery,
        regs: list[int],
        start: int,
        model_id: int,
        point: str,
        value: float,
        sf: int | None = None,
    ) -> None:
        if f"{model_id}.{point}" in battery.unimplemented:
            return
        pdef = model_definition(model_id).point(point)
        address = battery.layout[model_id] + pdef.offset - start
        regs[address : address + pdef.size] = encode_point(
            model_id, point, value, sf, for_write=False
        )

    def _refresh(self, battery: SimulatedBattery, regs: list[int], start: int) -> None:
        model, sf = battery.model, battery.sf
        soc = min(100.0, max(0.0, model.soc_pct))
        w = model.battery_w
        put = functools.partial(self._put, battery, regs, start)
        cha_st = 3 if w > 1 else 4 if w < -1 else 6
        if battery.legacy:
            put(103, "W", w, sf["W_SF"])
            put(103, "A", abs(w) / 240.0, -2)
            put(103, "AphA", abs(w) / 240.0, -2)
            put(103, "WH", max(1.0, model.total_out_wh), 0)
            put(124, "ChaState", soc, sf["SoC_SF"])
            put(124, "ChaSt", cha_st)
            return
        put(701, "W", w, sf["W_SF"])
        put(701, "VA", abs(w), sf["W_SF"])
        put(701, "A", abs(w) / 240.0, -2)
        put(701, "TotWhInj", max(1.0, model.total_out_wh), 0)
        put(701, "TotWhAbs", max(1.0, model.total_in_wh), 0)
        put(713, "SoC", soc, sf["SoC_SF"])
        put(713, "WHAvail", model.stored_wh, 1)
        put(802, "SoC", soc, sf["SoC_SF"])
        put(802, "W", w, 0)
        put(802, "A", w / 51.2, -1)
        put(802, "ChaSt", cha_st)
        remaining = 0.0
        if battery.reversion_at_s is not None:
            remaining = max(0.0, battery.reversion_at_s - battery.sim_t_s)
        put(704, "WSetRvrtRem", round(remaining))
        put(715, "DERHb", int(battery.sim_t_s) % 0xFFFFFFFF)


async def serve(
    *,
    port: int = 15020,
    count: int = 5,
    time_scale: float = 1.0,
    seed: int = 0,
    units_per_port: int = MAX_UNITS_PER_PORT,
    legacy: bool = False,
    lean: bool = False,
    stop: asyncio.Event | None = None,
) -> BatterySimulator:
    """Run the simulator on 127.0.0.1 until `stop` is set (or forever)."""
    simulator = BatterySimulator(
        count,
        port=port,
        time_scale=time_scale,
        seed=seed,
        units_per_port=units_per_port,
        legacy=legacy,
        lean=lean,
    )
    await simulator.start()
    logger.info("serving %s", simulator)
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        await simulator.stop()
    return simulator


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SunSpec Modbus battery simulator (loopback)")
    parser.add_argument("--port", type=int, default=15020)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--units-per-port", type=int, default=MAX_UNITS_PER_PORT)
    parser.add_argument("--legacy", action="store_true", help="models 1, 103, 120, 124")
    parser.add_argument(
        "--lean", action="store_true", help="serve with the lean responder, not pymodbus"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    print(
        f"{args.count} batteries on {LOOPBACK}:{args.port}"
        f" ({args.units_per_port} units per port), time x{args.time_scale}"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve(
                port=args.port,
                count=args.count,
                time_scale=args.time_scale,
                seed=args.seed,
                units_per_port=args.units_per_port,
                legacy=args.legacy,
                lean=args.lean,
            )
        )


if __name__ == "__main__":
    main()
