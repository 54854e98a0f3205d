"""The lean Modbus responder answers byte for byte as pymodbus's server does.

Two simulators with the same units and a frozen simulated clock, one served by pymodbus and
one by `LeanModbusServer`, are sent the same raw Modbus TCP frames: every read the
connector makes (discovery, whole models, a poll), reads across the whole map, reads out of
range, an unknown unit, and writes (accepted, read-only, out of range, badly counted).
"""

import asyncio
import struct

import pytest

from devices.connectors.sunspec.client import SunSpecSite, read_battery_state, write_setpoint
from devices.connectors.sunspec.discovery import read_model
from devices.simulator.modbus_sim import BASE_ADDRESS, BatterySimulator
from tests.devices.connectors.test_sunspec_tcp import free_port_run

pytestmark = pytest.mark.integration

FROZEN_S = 13 * 3600.0
UNITS = 3


async def _started(*, lean: bool, legacy: bool = False) -> BatterySimulator:
    sim = BatterySimulator(UNITS, port=free_port_run(1), seed=7, legacy=legacy, lean=lean)
    sim.sim_now_s = lambda: FROZEN_S  # type: ignore[method-assign]
    await sim.start()
    return sim


def _read(transaction: int, unit: int, address: int, count: int) -> bytes:
    return struct.pack(">HHHBBHH", transaction, 0, 6, unit, 3, address, count)


def _write(transaction: int, unit: int, address: int, values: list[int], count=None) -> bytes:
    count = len(values) if count is None else count
    pdu = struct.pack(f">BHHB{len(values)}H", 16, address, count, 2 * len(values), *values)
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


async def _exchange(port: int, frames: list[bytes]) -> list[bytes]:
    """Each frame's whole response, one request at a time."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    try:
        for frame in frames:
            writer.write(frame)
            header = await asyncio.wait_for(reader.readexactly(6), 2)
            (length,) = struct.unpack_from(">H", header, 4)
            answers.append(header + await asyncio.wait_for(reader.readexactly(length), 2))
    finally:
        writer.close()
    return answers


class _Recorder(SunSpecSite):
    """A site that notes every (address, count) it reads."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reads: list[tuple[int, int]] = []

    async def read_registers(self, address: int, count: int) -> list[int]:
        self.reads.append((address, count))
        return await super().read_registers(address, count)


async def _connector_reads(sim: BatterySimulator, unit: int) -> list[tuple[int, int]]:
    site = _Recorder("r", "127.0.0.1", port=sim.ports[0], device_id=unit)
    try:
        await read_battery_state(site)
        for entry in await site.discover():
            await read_model(site.read_registers, entry)
    finally:
        await site.close()
    return site.reads


@pytest.mark.parametrize("legacy", [False, True], ids=["modern", "legacy"])
async def test_reads_are_answered_byte_for_byte_like_pymodbus(legacy):
    reference = await _started(lean=False, legacy=legacy)
    lean = await _started(lean=True, legacy=legacy)
    try:
        map_end = BASE_ADDRESS + len(reference.batteries[0].registers)
        reads = await _connector_reads(reference, 2)
        assert reads == await _connector_reads(lean, 2)
        reads += [(a, n) for a in range(BASE_ADDRESS, map_end) for n in (1, 2, 125)]
        reads += [(0, 2), (50000, 2), (BASE_ADDRESS - 1, 2), (map_end - 1, 2), (map_end, 1)]
        frames = [_read(i, 1 + i % UNITS, a, n) for i, (a, n) in enumerate(reads)]
        theirs = await _exchange(reference.ports[0], frames)
        ours = await _exchange(lean.ports[0], frames)
        stranger = _read(9999, UNITS + 1, BASE_ADDRESS, 2)  # a unit nobody carries
        (their_refusal,) = await _exchange(reference.ports[0], [stranger])
        (our_refusal,) = await _exchange(lean.ports[0], [stranger])
    finally:
        await reference.stop()
        await lean.stop()
    assert ours == theirs
    refusals = {answer[7:] for answer in theirs if answer[7] & 0x80}
    assert refusals == {b"\x83\x02"}  # every out-of-range read: ILLEGAL_ADDRESS
    assert sum(answer[7] == 0x83 for answer in theirs) >= 5
    # Both refuse a unit they do not carry; pymodbus 3.16 says DEVICE_FAILURE (after an
    # internal KeyError), the lean responder GATEWAY_NO_RESPONSE, as a Modbus gateway does.
    assert their_refusal[:7] == our_refusal[:7]
    assert (their_refusal[7:], our_refusal[7:]) == (b"\x83\x04", b"\x83\x0b")


async def test_writes_are_answered_and_applied_like_pymodbus():
    reference, lean = await _started(lean=False), await _started(lean=True)
    try:
        wset_ena = reference.batteries[0].layout[704] + 2
        frames = [
            _write(1, 1, wset_ena, [1]),  # accepted
            _write(2, 1, BASE_ADDRESS, [0]),  # the SunS marker is read-only
            _write(3, 1, BASE_ADDRESS - 10, [0]),  # out of range
            _write(4, 1, wset_ena, [1, 1], count=1),  # byte count disagrees with the count
            _read(5, 1, wset_ena, 1),
        ]
        theirs = await _exchange(reference.ports[0], frames)
        ours = await _exchange(lean.ports[0], frames)
    finally:
        await reference.stop()
        await lean.stop()
    assert ours == theirs
    assert [answer[7] for answer in theirs] == [0x10, 0x90, 0x90, 0x90, 0x03]
    assert theirs[-1][-2:] == b"\x00\x01"  # the accepted write was kept


async def test_the_connector_commands_a_lean_served_battery():
    sim = BatterySimulator(1, port=free_port_run(1), time_scale=60.0, lean=True)
    await sim.start()
    site = SunSpecSite("s", "127.0.0.1", port=sim.ports[0], device_id=1)
    try:
        result = await write_setpoint(site, 2000.0, 300)
        assert result.route == "704"
        assert sim.batteries[0].setpoint_w == 2000.0
    finally:
        await site.close()
        await sim.stop()
