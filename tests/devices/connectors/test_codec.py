"""Our struct codecs against pysunspec2 as an independent decoder, plus encode round trips."""

import math
import random
import string
import struct

import pytest
from sunspec2.device import Model as PySunSpecModel

from devices.connectors.sunspec.codec import (
    SENTINELS,
    SunSpecDecodeError,
    decode,
    encode_block,
    encode_point,
    points_reader,
)
from devices.connectors.sunspec.models import SUPPORTED_MODELS, model_definition

RAW_RANGES = {
    "int16": (-0x7FFF, 0x7FFF),
    "uint16": (0, 0xFFFE),
    "count": (0, 0xFFFE),
    "acc16": (1, 0xFFFF),
    "enum16": (0, 0xFFFE),
    "bitfield16": (0, 0xFFFE),
    "int32": (-0x7FFFFFFF, 0x7FFFFFFF),
    "uint32": (0, 0xFFFFFFFE),
    "acc32": (1, 0xFFFFFFFF),
    "enum32": (0, 0xFFFFFFFE),
    "bitfield32": (0, 0xFFFFFFFE),
    "uint64": (0, 2**64 - 2),
    "int64": (-(2**63) + 1, 2**63 - 1),
    "acc64": (1, 2**64 - 1),
}
STRUCT = {
    "int16": "h",
    "uint16": "H",
    "count": "H",
    "acc16": "H",
    "enum16": "H",
    "bitfield16": "H",
    "pad": "H",
    "sunssf": "h",
    "int32": "i",
    "uint32": "I",
    "acc32": "I",
    "enum32": "I",
    "bitfield32": "I",
    "int64": "q",
    "uint64": "Q",
    "acc64": "Q",
    "float32": "f",
}


def random_block(model_id: int, rng: random.Random) -> tuple[list[int], set[str]]:
    """Random raw registers for a model: values, sentinels, and varied or missing SFs.

    Returns the registers and the keys of scale factors left unimplemented.
    """
    model = model_definition(model_id)
    data = bytearray(model.fixed_length * 2)
    struct.pack_into(">HH", data, 0, model_id, model.fixed_length - 2)
    missing_sf = set()
    for point in model.points.values():
        if point.key in ("ID", "L"):
            continue
        at = point.offset * 2
        if point.type == "string":
            text = "".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(0, 12)))
            data[at : at + point.size * 2] = text.encode().ljust(point.size * 2, b"\0")
            continue
        code = STRUCT[point.type]
        if point.type == "sunssf":
            if rng.random() < 0.15:
                value = SENTINELS["sunssf"]
                missing_sf.add(point.key)
            else:
                value = rng.randint(-4, 4)
        elif point.type == "pad":
            value = 0
        elif point.type == "float32":
            value = float("nan") if rng.random() < 0.2 else rng.uniform(-1e4, 1e4)
        elif rng.random() < 0.2:
            value = SENTINELS[point.type]
        else:
            value = rng.randint(*RAW_RANGES[point.type])
        struct.pack_into(f">{code}", data, at, value)
    return list(struct.unpack(f">{len(data) // 2}H", bytes(data))), missing_sf


def pysunspec2_values(model_id: int, registers: list[int]) -> dict[str, object]:
    """Decode with pysunspec2's own model objects, keyed like our codec ("Group.Point")."""
    model = PySunSpecModel(
        model_id=model_id,
        model_len=len(registers) - 2,
        data=struct.pack(f">{len(registers)}H", *registers),
    )
    assert not model.error_info
    out: dict[str, object] = {}

    def walk(group, prefix: str) -> None:
        for name, point in group.points.items():
            out[prefix + name] = point.cvalue
        for name, sub in group.groups.items():
            assert not isinstance(sub, list), "no repeating groups in the models we use"
            walk(sub, f"{prefix}{name}.")

    walk(model, "")
    return out


@pytest.mark.parametrize("model_id", SUPPORTED_MODELS)
@pytest.mark.parametrize("seed", range(8))
def test_decode_agrees_with_pysunspec2(model_id: int, seed: int):
    rng = random.Random(model_id * 1000 + seed)
    registers, missing_sf = random_block(model_id, rng)
    ours = decode(model_id, registers)
    theirs = pysunspec2_values(model_id, registers)
    model = model_definition(model_id)
    compared = 0
    for key, point in model.points.items():
        if point.type == "pad":
            assert key not in ours
            continue
        if isinstance(point.sf, str) and point.sf in missing_sf:
            # pysunspec2 hands back the unscaled raw number when the SF is unimplemented;
            # a raw number with an unknown exponent is not a measurement, so we say None.
            assert ours[key] is None
            continue
        expected = theirs[key]
        if isinstance(expected, float) or isinstance(ours[key], float):
            assert ours[key] == pytest.approx(expected, rel=1e-9, abs=1e-9), key
        else:
            assert ours[key] == expected, key
        compared += 1
    assert compared >= len(model.points) // 2


def test_sentinels_decode_to_none_and_never_to_zero():
    registers = encode_block(802, {"W_SF": 0, "SoC_SF": -1, "V_SF": -1})
    pdef = model_definition(802).points
    registers[pdef["W"].offset] = 0x8000  # int16 not implemented
    registers[pdef["SoC"].offset] = 0xFFFF  # uint16 not implemented
    registers[pdef["ChaSt"].offset] = 0xFFFF  # enum16 not implemented
    registers[pdef["Evt1"].offset : pdef["Evt1"].offset + 2] = [0xFFFF, 0xFFFF]
    registers[pdef["NCyc"].offset : pdef["NCyc"].offset + 2] = [0xFFFF, 0xFFFF]
    values = decode(802, registers)
    assert values["W"] is None
    assert values["SoC"] is None
    assert values["ChaSt"] is None
    assert values["Evt1"] is None
    assert values["NCyc"] is None
    registers[pdef["W"].offset] = 0
    registers[pdef["SoC"].offset] = 0
    assert decode(802, registers)["W"] == 0
    assert decode(802, registers)["SoC"] == 0


def test_int32_and_acc_sentinels():
    registers = encode_block(704, {"WSet_SF": 0})
    wset = model_definition(704).points["WSet"].offset
    registers[wset : wset + 2] = [0x8000, 0x0000]
    assert decode(704, registers)["WSet"] is None
    registers[wset : wset + 2] = [0xFFFF, 0xFFFF]  # -1, a real value
    assert decode(704, registers)["WSet"] == -1
    legacy = encode_block(103, {"WH_SF": 0})
    wh = model_definition(103).points["WH"].offset
    assert decode(103, legacy)["WH"] is None  # acc32 0 is "not accumulated"
    legacy[wh : wh + 2] = [0, 7]
    assert decode(103, legacy)["WH"] == 7


@pytest.mark.parametrize(
    ("sf", "raw", "expected"),
    [(-2, 12345, 123.45), (-1, -75, -7.5), (0, 4200, 4200), (2, 37, 3700), (3, -2, -2000)],
)
def test_scale_factor_is_read_from_the_same_block(sf: int, raw: int, expected: float):
    points = model_definition(701).points
    registers = encode_block(701, {})
    registers[points["W_SF"].offset] = sf & 0xFFFF
    registers[points["W"].offset] = raw & 0xFFFF
    assert decode(701, registers)["W"] == pytest.approx(expected)


def test_unimplemented_scale_factor_makes_its_points_none():
    values = encode_block(701, {"W": 1500, "W_SF": 0, "Hz": 60.0, "Hz_SF": -2})
    points = model_definition(701).points
    values[points["W_SF"].offset] = 0x8000
    decoded = decode(701, values)
    assert decoded["W"] is None
    assert decoded["Hz"] == pytest.approx(60.0)


def test_short_block_reads_missing_points_as_none():
    full = encode_block(702, {"WMaxRtg": 5000, "W_SF": 0, "VNomRtg": 240, "V_SF": 0})
    short = full[:10]
    values = decode(702, short)
    assert values["WMaxRtg"] is None  # its SF lies beyond the block
    assert values["L"] == 50


def test_wrong_model_id_is_refused():
    with pytest.raises(SunSpecDecodeError):
        decode(802, encode_block(713, {}))


def test_strings_round_trip_and_empty_is_none():
    registers = encode_block(1, {"Mn": "Reservoir", "SN": "ABC-123", "DA": 3})
    values = decode(1, registers)
    assert values["Mn"] == "Reservoir"
    assert values["SN"] == "ABC-123"
    assert values["Md"] is None
    assert values["DA"] == 3


@pytest.mark.parametrize(
    ("point", "value", "sf"),
    [("WSet", -4321.0, 0), ("WSet", 2345.6, -1), ("WSet", 12340, 1), ("WSetRvrtTms", 900, None)],
)
def test_encode_point_round_trips_through_decode(point: str, value: float, sf: int | None):
    registers = encode_block(704, {"WSet_SF": sf if sf is not None else 0})
    pdef = model_definition(704).points[point]
    registers[pdef.offset : pdef.offset + pdef.size] = encode_point(704, point, value, sf)
    assert decode(704, registers)[point] == pytest.approx(value)


def test_encode_rounds_to_the_scale_factor_resolution():
    assert encode_point(704, "WSet", 2345, 1) == [0, 234]
    assert encode_point(704, "WSet", -1, 0) == [0xFFFF, 0xFFFF]


def test_encode_range_errors_say_why():
    with pytest.raises(ValueError, match="out of range for int32"):
        encode_point(704, "WSet", 3e9, 0)
    with pytest.raises(ValueError, match="out of range for uint16"):
        encode_point(124, "WChaMax", 70000, 0)
    with pytest.raises(ValueError, match="out of range for int16"):
        # 500 % with SF -2 is raw 50000, more than an int16 holds
        encode_point(124, "OutWRte", 500.0, -2)
    with pytest.raises(ValueError, match="out of range for enum16"):
        encode_point(704, "WSetEna", 0xFFFF)  # the sentinel itself is not writable
    with pytest.raises(ValueError, match="out of range for uint32"):
        encode_point(704, "WSetRvrtTms", -1)


def test_encode_refuses_read_only_points_and_missing_scale_factors():
    with pytest.raises(ValueError, match="read-only"):
        encode_point(802, "SoC", 50.0, -1)
    assert encode_point(802, "SoC", 50.0, -1, for_write=False) == [500]
    with pytest.raises(ValueError, match="needs the value of scale factor WSet_SF"):
        encode_point(704, "WSet", 1000)
    with pytest.raises(ValueError, match="not an integer"):
        encode_point(704, "WSetRvrtTms", 1.5)
    with pytest.raises(ValueError, match="not a finite number"):
        encode_point(704, "WSet", math.inf, 0)


@pytest.mark.parametrize("model_id", SUPPORTED_MODELS)
def test_layout_offsets_match_pysunspec2(model_id: int):
    ours = model_definition(model_id)
    model = PySunSpecModel(model_id=model_id, model_len=ours.fixed_length - 2)
    assert model.len == ours.fixed_length
    offsets = {}

    def walk(group, prefix: str) -> None:
        for name, point in group.points.items():
            offsets[prefix + name] = (point.offset, point.len)
        for name, sub in group.groups.items():
            walk(sub, f"{prefix}{name}.")

    walk(model, "")
    assert offsets == {k: (p.offset, p.size) for k, p in ours.points.items()}


POLL_POINTS = [
    (802, ("SoC", "W")),
    (713, ("SoC",)),
    (701, ("W", "Var", "Hz", "LNV", "VL1", "LLV")),
    (103, ("W", "VAr", "Hz", "PhVphA")),
    (124, ("ChaState",)),
    (1, ("Mn", "SN")),
]


@pytest.mark.parametrize(("model_id", "keys"), POLL_POINTS)
def test_points_reader_decodes_like_the_whole_model(model_id, keys):
    rng = random.Random(model_id)
    for _ in range(200):
        registers, _unimplemented = random_block(model_id, rng)
        reader = points_reader(model_id, keys, len(registers))
        span = registers[reader.offset : reader.offset + reader.count]
        whole = decode(model_id, registers)
        assert {k: reader.decode(span)[k] for k in keys} == {k: whole[k] for k in keys}


def test_points_reader_reads_one_span_from_the_id_register_when_it_fits():
    reader = points_reader(701, ("W", "Hz"), 155)
    # W at +10, Hz at +17, their scale factors at +116 and +115: one request from the ID.
    assert (reader.offset, reader.count, reader.check_id) == (0, 117, True)
    block = [0] * 155
    block[0] = 802
    with pytest.raises(SunSpecDecodeError):
        reader.decode(block[:117])  # a stale map: another model sits there now


def test_points_reader_reads_points_beyond_a_short_block_as_none():
    # Firmware with a shorter 802 than the definition: W_SF (+63) is missing, so W is None.
    registers, _ = random_block(802, random.Random(1))
    short = registers[:50]
    reader = points_reader(802, ("SoC", "W"), len(short))
    values = reader.decode(short[reader.offset : reader.offset + reader.count])
    assert values["W"] is None
    assert values["SoC"] == decode(802, short)["SoC"]


def test_points_reader_refuses_points_that_need_two_requests():
    with pytest.raises(ValueError, match="span more than"):
        points_reader(701, ("W", "VL1"), 155, max_registers=40)


def test_a_read_response_describes_itself_without_every_register():
    """pymodbus formats each decoded response for a debug line even when nothing is logged."""
    from devices.connectors.sunspec.client import _RegistersResponse

    response = _RegistersResponse(dev_id=3, transaction_id=9)
    response.decode(bytes([80]) + bytes(range(80)))
    assert len(response.registers) == 40
    assert str(response) == "_RegistersResponse(dev_id=3, transaction_id=9, count=40)"
