"""SunSpec discovery: find the `SunS` marker and walk the chain of model headers.

Addresses are never hard-coded: model lengths vary between firmware versions, so the map is
always read from the device.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from devices.connectors.sunspec.models import END_MODEL_ID, SUNS_MARKER

# Where devices put the SunSpec map, in the order the specification says to look.
BASE_ADDRESSES: tuple[int, ...] = (40000, 0, 50000)
MAX_REGISTERS_PER_READ = 125
MAX_MODELS = 100  # a chain longer than this is a device bug, not a device

ReadRegisters = Callable[[int, int], Awaitable[list[int]]]
"""An async `read(address, count)` returning `count` holding registers."""


class DeviceUnreachable(ConnectionError):
    """The device did not answer (connection refused, reset or timed out)."""


class DeviceRejected(RuntimeError):
    """The device answered with a Modbus exception (e.g. illegal address)."""


class SunSpecNotFound(LookupError):
    """No `SunS` marker at any of the standard base addresses, or a broken model chain."""


class ModelEntry(NamedTuple):
    model_id: int
    start_address: int  # address of the model's ID register
    length: int  # L: registers after the ID and L registers

    @property
    def block_length(self) -> int:
        return self.length + 2


@dataclass(frozen=True, slots=True)
class ModelMap:
    """The models a device exposes, in register order."""

    base_address: int
    models: tuple[ModelEntry, ...]

    def __str__(self) -> str:
        ids = ", ".join(str(m.model_id) for m in self.models)
        return f"SunSpec map at {self.base_address}: {ids}"

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def find(self, model_id: int) -> ModelEntry | None:
        """The first instance of a model, or None."""
        for entry in self.models:
            if entry.model_id == model_id:
                return entry
        return None

    def __contains__(self, model_id: object) -> bool:
        return any(entry.model_id == model_id for entry in self.models)


async def read_block(read: ReadRegisters, address: int, count: int) -> list[int]:
    """Read `count` registers in requests of at most 125 registers."""
    registers: list[int] = []
    while count > 0:
        chunk = min(count, MAX_REGISTERS_PER_READ)
        registers.extend(await read(address, chunk))
        address += chunk
        count -= chunk
    return registers


async def read_model(read: ReadRegisters, entry: ModelEntry) -> list[int]:
    """A model's whole block, from its ID register, in as few requests as allowed."""
    return await read_block(read, entry.start_address, entry.block_length)


async def _find_base(read: ReadRegisters) -> int:
    for base in BASE_ADDRESSES:
        try:
            marker = await read(base, 2)
        except DeviceRejected:
            continue
        if tuple(marker) == SUNS_MARKER:
            return base
    raise SunSpecNotFound(f"no SunS marker at {', '.join(map(str, BASE_ADDRESSES))}")


async def discover(read: ReadRegisters) -> ModelMap:
    """Find the SunSpec map and follow the (id, length) chain until 0xFFFF.

    Raises SunSpecNotFound, or DeviceUnreachable when the device stops answering.
    """
    base = await _find_base(read)
    address = base + 2
    models: list[ModelEntry] = []
    while True:
        if address + 2 > 0x10000:
            raise SunSpecNotFound(f"model chain runs past the register space at {address}")
        try:
            model_id, length = await read(address, 2)
        except DeviceRejected as exc:
            # Some devices omit the end model; a rejected read past the last model ends it.
            if models:
                break
            raise SunSpecNotFound(f"no model header at {address}") from exc
        if model_id == END_MODEL_ID:
            break
        models.append(ModelEntry(model_id, address, length))
        if len(models) > MAX_MODELS:
            raise SunSpecNotFound(f"more than {MAX_MODELS} models; the chain looks broken")
        address += 2 + length
    return ModelMap(base_address=base, models=tuple(models))
