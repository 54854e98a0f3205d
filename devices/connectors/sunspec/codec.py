"""Struct-based codecs for SunSpec models: registers to engineering values and back.

`decode` applies each point's scale factor from the same register block and turns the
"not implemented" sentinels into None. `encode_point` builds the registers for one write.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from devices.connectors.sunspec.models import POINT_TYPES, ModelDef, PointDef, model_definition

Value = int | float | str | None

# Raw values that mean "not implemented", by point type.
SENTINELS: dict[str, int] = {
    "int16": -0x8000,
    "sunssf": -0x8000,
    "uint16": 0xFFFF,
    "count": 0xFFFF,
    "enum16": 0xFFFF,
    "bitfield16": 0xFFFF,
    "acc16": 0,
    "int32": -0x80000000,
    "uint32": 0xFFFFFFFF,
    "enum32": 0xFFFFFFFF,
    "bitfield32": 0xFFFFFFFF,
    "acc32": 0,
    "ipaddr": 0,
    "int64": -0x8000000000000000,
    "uint64": 0xFFFFFFFFFFFFFFFF,
    "acc64": 0,
}

# Inclusive raw ranges for writes; the sentinel itself is never a valid value.
_RANGES: dict[str, tuple[int, int]] = {
    "int16": (-0x7FFF, 0x7FFF),
    "uint16": (0, 0xFFFE),
    "count": (0, 0xFFFE),
    "enum16": (0, 0xFFFE),
    "bitfield16": (0, 0xFFFE),
    "acc16": (1, 0xFFFF),
    "int32": (-0x7FFFFFFF, 0x7FFFFFFF),
    "uint32": (0, 0xFFFFFFFE),
    "enum32": (0, 0xFFFFFFFE),
    "bitfield32": (0, 0xFFFFFFFE),
    "acc32": (1, 0xFFFFFFFF),
    "ipaddr": (1, 0xFFFFFFFF),
    "int64": (-0x7FFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF),
    "uint64": (0, 0xFFFFFFFFFFFFFFFE),
    "acc64": (1, 0xFFFFFFFFFFFFFFFF),
    "sunssf": (-10, 10),
    "pad": (0, 0xFFFF),
}

# SunSpec scale factors are defined as -10..10; anything else is garbage, not a multiplier.
SF_RANGE = range(-10, 11)


class SunSpecDecodeError(ValueError):
    """The registers do not hold the model that was asked for."""


@dataclass(frozen=True, slots=True)
class _Field:
    key: str
    type: str
    byte_offset: int
    byte_end: int
    unpack: struct.Struct
    sentinel: int | None
    sf: str | int | None
    in_group: frozenset[str]  # sibling point names, for group-relative scale factors


@dataclass(frozen=True, slots=True)
class ModelCodec:
    """A compiled codec for one model."""

    model: ModelDef
    fixed: tuple[_Field, ...]
    group: tuple[_Field, ...]

    def __str__(self) -> str:
        return f"codec for {self.model}"


def _field(point: PointDef, base_bytes: int, group_names: frozenset[str]) -> _Field:
    code, _size = POINT_TYPES[point.type]
    fmt = f">{point.size * 2}s" if code == "s" else f">{code}"
    start = base_bytes + point.offset * 2
    return _Field(
        key=point.key,
        type=point.type,
        byte_offset=start,
        byte_end=start + point.size * 2,
        unpack=struct.Struct(fmt),
        sentinel=SENTINELS.get(point.type),
        sf=point.sf,
        in_group=group_names,
    )


@cache
def model_codec(model_id: int) -> ModelCodec:
    """Compile (once) the codec for a model id."""
    model = model_definition(model_id)
    fixed = tuple(_field(p, 0, frozenset()) for p in model.points.values() if p.type != "pad")
    group: tuple[_Field, ...] = ()
    if model.repeating is not None:
        names = frozenset(p.name for p in model.repeating.points)
        group = tuple(_field(p, 0, names) for p in model.repeating.points if p.type != "pad")
    return ModelCodec(model=model, fixed=fixed, group=group)


def _raw(field: _Field, data: bytes, base: int) -> Value:
    start = base + field.byte_offset
    if base + field.byte_end > len(data):
        return None
    value = field.unpack.unpack_from(data, start)[0]
    if field.type == "string":
        if not value or value[0] == 0:
            return None
        return value.decode("utf-8", errors="replace").rstrip("\0")
    if field.type in ("float32", "float64"):
        return None if math.isnan(value) else value
    if value == field.sentinel:
        return None
    return value


def _scale(value: Value, exponent: Value) -> Value:
    if value is None or exponent is None or exponent not in SF_RANGE:
        return None
    if exponent >= 0:
        return value * 10**exponent
    return value / 10 ** (-exponent)


def decode(model_id: int, registers: Sequence[int]) -> dict[str, Value]:
    """Decode one model block that starts at its ID register.

    Points beyond the end of the block read as None, like unimplemented ones.
    Pad points are left out.
    """
    codec = model_codec(model_id)
    if registers and registers[0] != model_id:
        raise SunSpecDecodeError(f"block holds model {registers[0]}, not {model_id}")
    data = struct.pack(f">{len(registers)}H", *registers)
    raw: dict[str, Value] = {f.key: _raw(f, data, 0) for f in codec.fixed}
    out: dict[str, Value] = {}
    for f in codec.fixed:
        value = raw[f.key]
        if f.sf is not None and f.type != "sunssf":
            exponent = f.sf if isinstance(f.sf, int) else raw.get(f.sf)
            value = _scale(value, exponent)
        out[f.key] = value

    rep = codec.model.repeating
    if rep is not None and codec.group:
        start = codec.model.fixed_length * 2
        available = (len(data) - start) // (rep.length * 2)
        if isinstance(rep.count, str):
            declared = raw.get(rep.count)
            count = min(available, declared) if isinstance(declared, int) else available
        else:
            count = min(available, rep.count) if rep.count else available
        for index in range(count):
            base = start + index * rep.length * 2
            prefix = f"{rep.name}[{index}]."
            graw = {f.key: _raw(f, data, base) for f in codec.group}
            for f in codec.group:
                value = graw[f.key]
                if f.sf is not None and f.type != "sunssf":
                    if isinstance(f.sf, int):
                        exponent: Value = f.sf
                    elif f.sf in f.in_group:
                        exponent = graw.get(f.sf)
                    else:
                        exponent = raw.get(f.sf)
                    value = _scale(value, exponent)
                out[prefix + f.key] = value
    return out


def decode_point(
    model_id: int, point: str, registers: Sequence[int], sf: int | None = None
) -> Value:
    """Decode one point's own registers, scaled by `sf`, exactly as `decode` would."""
    pdef = model_definition(model_id).point(point)
    if len(registers) != pdef.size:
        raise ValueError(f"{pdef.key} takes {pdef.size} registers, got {len(registers)}")
    field = _field(pdef, -pdef.offset * 2, frozenset())
    value = _raw(field, struct.pack(f">{pdef.size}H", *registers), 0)
    if pdef.sf is None or pdef.type == "sunssf":
        return value
    return _scale(value, pdef.sf if isinstance(pdef.sf, int) else sf)


def _to_raw(point: PointDef, value: int | float | str, sf: int | None) -> int | float | bytes:
    if point.type == "string":
        if not isinstance(value, str):
            raise ValueError(f"{point.key}: expected a string, got {value!r}")
        encoded = value.encode("utf-8")
        if len(encoded) > point.size * 2:
            raise ValueError(f"{point.key}: {value!r} is longer than {point.size * 2} bytes")
        return encoded.ljust(point.size * 2, b"\0")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{point.key}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{point.key}: {value!r} is not a finite number")
    exponent: int | None = None
    if point.sf is not None:
        exponent = point.sf if isinstance(point.sf, int) else sf
        if exponent is None:
            raise ValueError(f"{point.key}: needs the value of scale factor {point.sf}")
        if exponent not in SF_RANGE:
            raise ValueError(f"{point.key}: scale factor {exponent} is outside -10..10")
    if point.type in ("float32", "float64"):
        return value / 10**exponent if exponent else float(value)
    if exponent is None:
        if value != int(value):
            raise ValueError(f"{point.key}: {value!r} is not an integer and has no scale factor")
        raw = int(value)
    elif exponent >= 0:
        raw = round(value / 10**exponent)
    else:
        raw = round(value * 10 ** (-exponent))
    low, high = _RANGES[point.type]
    if not low <= raw <= high:
        scale = f" (raw {raw} with SF {exponent})" if exponent is not None else ""
        raise ValueError(
            f"{point.key}: {value!r} is out of range for {point.type}{scale}; "
            f"raw values must lie in {low}..{high}"
        )
    return raw


def _pack(point: PointDef, raw: int | float | bytes) -> list[int]:
    code, _size = POINT_TYPES[point.type]
    fmt = f">{point.size * 2}s" if code == "s" else f">{code}"
    data = struct.pack(fmt, raw)
    return list(struct.unpack(f">{len(data) // 2}H", data))


def unimplemented_registers(point: PointDef) -> list[int]:
    """The registers that say "not implemented" for this point."""
    if point.type == "string":
        return [0] * point.size
    if point.type == "float32":
        return [0x7FC0, 0x0000]
    if point.type == "float64":
        return [0x7FF8, 0, 0, 0]
    if point.type == "pad":
        return [0]
    return _pack(point, SENTINELS[point.type])


def encode_point(
    model_id: int,
    point: str,
    value: int | float | str,
    sf: int | None = None,
    *,
    for_write: bool = True,
) -> list[int]:
    """Registers for one point, scaled by `sf` (the current value of its scale factor).

    Raises ValueError with the reason when the point is read-only (for writes), the value
    does not fit the type after scaling, or a needed scale factor is missing.
    """
    pdef = model_definition(model_id).point(point)
    if for_write and not pdef.writable:
        raise ValueError(f"{pdef.key} of model {model_id} is read-only")
    if value is None:
        raise ValueError(f"{pdef.key}: cannot write None; leave the point out instead")
    return _pack(pdef, _to_raw(pdef, value, sf))


def encode_block(
    model_id: int, values: Mapping[str, Value], *, length: int | None = None
) -> list[int]:
    """A whole model block (ID, L and every fixed point) from engineering values.

    Scale factors are taken from `values` (their raw exponents); points left out, or None,
    are written as "not implemented". Used by the simulator and by tests.
    """
    model = model_definition(model_id)
    body = model.fixed_length - 2 if length is None else length
    registers = [0] * (body + 2)
    registers[0], registers[1] = model_id, body
    unknown = set(values) - set(model.points)
    if unknown:
        raise ValueError(f"model {model_id} has no points {sorted(unknown)}")
    for pdef in model.points.values():
        if pdef.key in ("ID", "L"):
            continue
        if pdef.offset + pdef.size > len(registers):
            continue
        value = values.get(pdef.key)
        if value is None:
            regs = unimplemented_registers(pdef)
        else:
            sf = values.get(pdef.sf) if isinstance(pdef.sf, str) else None
            if isinstance(pdef.sf, str) and sf is None:
                raise ValueError(f"{pdef.key}: scale factor {pdef.sf} is not set")
            regs = _pack(pdef, _to_raw(pdef, value, sf))  # type: ignore[arg-type]
        registers[pdef.offset : pdef.offset + pdef.size] = regs
    return registers


# --- Compiled point readers: the few points a poll needs, from one contiguous read ---------


@dataclass(frozen=True, slots=True)
class _PointSlot:
    key: str
    kind: str  # "number", "float", "string" or "unscalable" (its scale factor is missing)
    sentinel: int | None
    sf_index: int | None  # index of its scale factor in the unpacked tuple
    sf_const: int | None  # a constant exponent from the definition


@dataclass(frozen=True, slots=True)
class PointsReader:
    """Reads a fixed set of a model's points (and their scale factors) from one register span.

    Compiled once per (model, points, block length): the span's address offset and length,
    a struct that turns the span's registers into bytes, and one struct that unpacks every
    wanted point in a single call, so a poll decodes in two C calls and a short loop instead
    of walking the whole model. ``check_id`` is true when the span starts at the model's ID
    register: the ID is then checked, which catches a model map gone stale.
    """

    model_id: int
    offset: int  # registers from the model's ID register
    count: int  # registers to read
    check_id: bool
    registers: struct.Struct
    points: struct.Struct
    slots: tuple[_PointSlot, ...]
    missing: tuple[str, ...]  # wanted points beyond the device's block: always None

    def __str__(self) -> str:
        return f"model {self.model_id} +{self.offset}..{self.offset + self.count}"

    def decode(self, registers: Sequence[int]) -> dict[str, Value]:
        """Engineering values of the wanted points, exactly as `decode` gives them."""
        if len(registers) != self.count:
            raise SunSpecDecodeError(f"{self}: expected {self.count} registers")
        if self.check_id and registers[0] != self.model_id:
            raise SunSpecDecodeError(f"block holds model {registers[0]}, not {self.model_id}")
        raw = self.points.unpack(self.registers.pack(*registers))
        out: dict[str, Value] = dict.fromkeys(self.missing)
        for index, slot in enumerate(self.slots):
            value = raw[index]
            if slot.kind == "unscalable":
                value = None
            elif slot.kind == "string":
                value = (
                    value.decode("utf-8", errors="replace").rstrip("\0")
                    if value[:1] not in (b"", b"\0")
                    else None
                )
            elif slot.kind == "float":
                value = None if math.isnan(value) else value
            elif value == slot.sentinel:
                value = None
            if slot.sf_index is not None:
                value = _scale(value, raw[slot.sf_index])  # the sentinel is outside -10..10
            elif slot.sf_const is not None:
                value = _scale(value, slot.sf_const)
            out[slot.key] = value
        return out


def _slot_kind(point: PointDef) -> str:
    if point.type == "string":
        return "string"
    return "float" if point.type in ("float32", "float64") else "number"


@cache
def points_reader(
    model_id: int,
    keys: tuple[str, ...],
    block_length: int,
    max_registers: int = 125,
) -> PointsReader:
    """Compile the reader for `keys` of a model whose block (ID and L included) on this
    device is `block_length` registers long. Repeating-group points are not supported.

    The span starts at the ID register when the whole span fits in one request, else at
    the first wanted register. Raises ValueError when the points need more than one request.
    """
    model = model_definition(model_id)
    wanted = {model.point(k) for k in keys}
    wanted |= {model.point(p.sf) for p in list(wanted) if isinstance(p.sf, str)}
    present = sorted(
        (p for p in wanted if p.offset + p.size <= block_length), key=lambda p: p.offset
    )
    missing = tuple(p.key for p in wanted if p not in present and p.key in keys)
    end = max((p.offset + p.size for p in present), default=1)
    start = 0 if end <= max_registers else min(p.offset for p in present)
    if end - start > max_registers:
        raise ValueError(f"model {model_id} points {keys} span more than {max_registers}")
    index = {p.key: i for i, p in enumerate(present)}
    fmt, cursor = [">"], start
    for p in present:
        code, _size = POINT_TYPES[p.type]
        fmt.append(f"{(p.offset - cursor) * 2}x" if p.offset > cursor else "")
        fmt.append(f"{p.size * 2}s" if code == "s" else code)
        cursor = p.offset + p.size
    fmt.append(f"{(end - cursor) * 2}x" if end > cursor else "")
    slots = tuple(_slot(p, index) for p in present)
    return PointsReader(
        model_id=model_id,
        offset=start,
        count=end - start,
        check_id=start == 0,
        registers=struct.Struct(f">{end - start}H"),
        points=struct.Struct("".join(fmt)),
        slots=slots,
        missing=missing,
    )


def _slot(point: PointDef, index: dict[str, int]) -> _PointSlot:
    sf_index = sf_const = None
    kind = _slot_kind(point)
    if point.type != "sunssf" and isinstance(point.sf, int):
        sf_const = point.sf
    elif point.type != "sunssf" and isinstance(point.sf, str):
        sf_index = index.get(point.sf)
        if sf_index is None:  # its scale factor lies beyond the device's block
            kind = "unscalable"
    return _PointSlot(point.key, kind, SENTINELS.get(point.type), sf_index, sf_const)
