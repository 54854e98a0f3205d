"""A lean Modbus TCP responder for the battery simulator: the same units, a cheaper server.

`bench modbus` measures our poller, and on a 2-core machine pymodbus's server (about
0.17 ms of CPU per request, most of it framing, logging and PDU objects) took more CPU than
the poller it was answering. This responder carries the same `BatterySimulator` units (the
same register image, the same `on_request` hook: physics, refresh, write checks and
controls) with one `asyncio.Protocol` and precompiled structs.

It answers the function codes the SunSpec connector uses, 3 (read holding registers) and
16 (write multiple registers), the way pymodbus's server answers them; anything else is
ILLEGAL_FUNCTION. A unit id it does not carry is GATEWAY_NO_RESPONSE, as a Modbus gateway
answers (pymodbus 3.16's simulator answers DEVICE_FAILURE, after an internal KeyError). The
production simulator (`make run`, the integration tests) still runs on pymodbus.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from pymodbus.constants import ExcCodes

if TYPE_CHECKING:
    from devices.simulator.modbus_sim import SimulatedBattery

Hook = Callable[["SimulatedBattery", int, int, int, list[int], list[int] | None], ExcCodes | None]
"""`BatterySimulator.on_request(battery, start, address, count, registers, set_values)`."""

MBAP = struct.Struct(">HHHB")  # transaction id, protocol id, length, unit id
READ_REQUEST = struct.Struct(">BHH")  # function code, address, count
WRITE_REQUEST = struct.Struct(">BHHB")  # function code, address, count, byte count
WRITE_RESPONSE = struct.Struct(">BHH")
EXCEPTION = struct.Struct(">BB")
READ_HOLDING = 3
WRITE_MULTIPLE = 16
MAX_READ = 125
MAX_WRITE = 123
_READ_RESPONSES = [struct.Struct(f">BB{n}H") for n in range(MAX_READ + 1)]
_WRITE_VALUES = [struct.Struct(f">{n}H") for n in range(MAX_WRITE + 1)]


def _exception(function_code: int, code: ExcCodes) -> bytes:
    return EXCEPTION.pack(function_code | 0x80, code)


class _Unit:
    """One battery and its live register image, from `start` (as pymodbus's SimData)."""

    __slots__ = ("battery", "registers", "start")

    def __init__(self, battery: SimulatedBattery, start: int) -> None:
        self.battery = battery
        self.registers = list(battery.registers)
        self.start = start


class LeanModbusServer:
    """Modbus TCP on one port for a set of units; `start`, then `shutdown`."""

    def __init__(
        self,
        host: str,
        port: int,
        batteries: list[SimulatedBattery],
        *,
        start_address: int,
        hook: Hook,
    ) -> None:
        self.host = host
        self.port = port
        self.units = {b.unit_id: _Unit(b, start_address) for b in batteries}
        self.hook = hook
        self.connections: set[asyncio.Transport] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), self.host, self.port, reuse_address=True
        )

    async def shutdown(self) -> None:
        """Stop listening and drop every open connection (the units stop answering)."""
        if self._server is not None:
            self._server.close()
        for transport in list(self.connections):
            transport.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def answer(self, unit_id: int, pdu: bytes) -> bytes:
        """The response PDU to one request PDU."""
        function_code = pdu[0]
        unit = self.units.get(unit_id)
        if unit is None:
            return _exception(function_code, ExcCodes.GATEWAY_NO_RESPONSE)
        if function_code == READ_HOLDING and len(pdu) == READ_REQUEST.size:
            return self._read(unit, pdu)
        if function_code == WRITE_MULTIPLE and len(pdu) >= WRITE_REQUEST.size:
            return self._write(unit, pdu)
        return _exception(function_code, ExcCodes.ILLEGAL_FUNCTION)

    def _read(self, unit: _Unit, pdu: bytes) -> bytes:
        _, address, count = READ_REQUEST.unpack(pdu)
        if not 1 <= count <= MAX_READ:
            return _exception(READ_HOLDING, ExcCodes.ILLEGAL_VALUE)
        offset = address - unit.start
        if offset < 0 or offset + count > len(unit.registers):
            return _exception(READ_HOLDING, ExcCodes.ILLEGAL_ADDRESS)
        registers = unit.registers
        if error := self.hook(unit.battery, unit.start, address, count, registers, None):
            return _exception(READ_HOLDING, error)
        return _READ_RESPONSES[count].pack(
            READ_HOLDING, 2 * count, *registers[offset : offset + count]
        )

    def _write(self, unit: _Unit, pdu: bytes) -> bytes:
        _, address, count, byte_count = WRITE_REQUEST.unpack_from(pdu)
        if (
            not 1 <= count <= MAX_WRITE
            or byte_count != 2 * count
            or len(pdu) != WRITE_REQUEST.size + byte_count
        ):
            return _exception(WRITE_MULTIPLE, ExcCodes.ILLEGAL_VALUE)
        offset = address - unit.start
        if offset < 0 or offset + count > len(unit.registers):
            return _exception(WRITE_MULTIPLE, ExcCodes.ILLEGAL_ADDRESS)
        values = list(_WRITE_VALUES[count].unpack_from(pdu, WRITE_REQUEST.size))
        if error := self.hook(unit.battery, unit.start, address, count, unit.registers, values):
            return _exception(WRITE_MULTIPLE, error)
        unit.registers[offset : offset + count] = values
        return WRITE_RESPONSE.pack(WRITE_MULTIPLE, address, count)


class _Connection(asyncio.Protocol):
    """One client connection: whole frames answered in order, one write per read event."""

    transport: asyncio.Transport  # set by connection_made, before any data

    def __init__(self, server: LeanModbusServer) -> None:
        self.server = server
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections.add(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        out = []
        pos = 0
        while len(buffer) - pos > MBAP.size:
            transaction, protocol, length, unit_id = MBAP.unpack_from(buffer, pos)
            end = pos + 6 + length
            if protocol != 0 or length < 2:
                self.transport.close()  # not Modbus TCP: nothing sensible to answer
                return
            if end > len(buffer):
                break
            pdu = self.server.answer(unit_id, buffer[pos + MBAP.size : end])
            out.append(MBAP.pack(transaction, 0, len(pdu) + 1, unit_id) + pdu)
            pos = end
        self.buffer = buffer[pos:]
        if out:
            self.transport.write(b"".join(out))
