"""SunSpec model layouts, built from pysunspec2's JSON model definitions.

Each layout lists every point with its register offset from the model's ID register, its
type, its size, and the key of its scale factor. Layouts are built once per model id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

# The models the connector reads and writes: modern DER (7xx), battery (802) and the legacy
# inverter/storage models still common in the field (1xx).
SUPPORTED_MODELS: tuple[int, ...] = (1, 701, 702, 704, 713, 715, 802, 103, 120, 123, 124)

END_MODEL_ID = 0xFFFF
SUNS_MARKER = (0x5375, 0x6E53)  # "SunS"

# type name -> (struct code, registers); strings take their size from the definition.
POINT_TYPES: dict[str, tuple[str, int]] = {
    "int16": ("h", 1),
    "uint16": ("H", 1),
    "count": ("H", 1),
    "acc16": ("H", 1),
    "enum16": ("H", 1),
    "bitfield16": ("H", 1),
    "pad": ("H", 1),
    "sunssf": ("h", 1),
    "int32": ("i", 2),
    "uint32": ("I", 2),
    "acc32": ("I", 2),
    "enum32": ("I", 2),
    "bitfield32": ("I", 2),
    "ipaddr": ("I", 2),
    "int64": ("q", 4),
    "uint64": ("Q", 4),
    "acc64": ("Q", 4),
    "float32": ("f", 2),
    "float64": ("d", 4),
    "string": ("s", 0),
}


@dataclass(frozen=True, slots=True)
class PointDef:
    """One point of a model: where it sits and how to read it."""

    key: str  # "W", or "PFWInj.PF" inside a group, or "Module[2].V" in a repeating group
    name: str
    type: str
    offset: int  # registers from the model's ID register
    size: int  # registers
    sf: str | int | None  # key of the scale-factor point, or a constant exponent
    writable: bool
    mandatory: bool

    def __str__(self) -> str:
        return f"{self.key} ({self.type} @ +{self.offset})"


@dataclass(frozen=True, slots=True)
class RepeatingGroupDef:
    """A group repeated after the fixed block; its points' offsets are relative to the group."""

    name: str
    length: int  # registers per repetition
    points: tuple[PointDef, ...]
    count: str | int  # a point key holding the count, a fixed count, or 0 for "fill the rest"


@dataclass(frozen=True, slots=True)
class ModelDef:
    """The register layout of one SunSpec model."""

    model_id: int
    name: str
    fixed_length: int  # registers including ID and L
    points: dict[str, PointDef]
    repeating: RepeatingGroupDef | None

    def __str__(self) -> str:
        return f"SunSpec model {self.model_id} ({self.name})"

    def point(self, key: str) -> PointDef:
        try:
            return self.points[key]
        except KeyError:
            raise KeyError(f"model {self.model_id} has no point {key!r}") from None


def _point_size(pdef: dict) -> int:
    code, size = POINT_TYPES[pdef["type"]]
    if code == "s":
        return int(pdef["size"])
    return size


def _is_repeating(gdef: dict) -> bool:
    count = gdef.get("count")
    return count is not None and count != 1


def _sf_ref(pdef: dict, prefix: str, group_points: set[str]) -> str | int | None:
    sf = pdef.get("sf")
    if sf is None:
        return None
    try:
        return int(sf)
    except ValueError:
        pass
    # Like pysunspec2: look in the point's own group first, then at the model's top level.
    return f"{prefix}{sf}" if sf in group_points else sf


def _flatten(
    gdef: dict, prefix: str, offset: int, out: list[PointDef]
) -> tuple[int, RepeatingGroupDef | None]:
    names = {p["name"] for p in gdef.get("points", [])}
    for pdef in gdef.get("points", []):
        if pdef["type"] not in POINT_TYPES:
            raise ValueError(f"unsupported SunSpec point type {pdef['type']!r}")
        size = _point_size(pdef)
        out.append(
            PointDef(
                key=f"{prefix}{pdef['name']}",
                name=pdef["name"],
                type=pdef["type"],
                offset=offset,
                size=size,
                sf=_sf_ref(pdef, prefix, names),
                writable=pdef.get("access", "R") == "RW",
                mandatory=pdef.get("mandatory") == "M",
            )
        )
        offset += size
    repeating = None
    for sub in gdef.get("groups", []):
        if _is_repeating(sub):
            if repeating is not None:
                raise ValueError("more than one repeating group is not supported")
            sub_points: list[PointDef] = []
            length, nested = _flatten(sub, "", 0, sub_points)
            if nested is not None:
                raise ValueError("nested repeating groups are not supported")
            count = sub["count"]
            if isinstance(count, str) and not count.isdigit():
                count_ref: str | int = count
            else:
                count_ref = int(count)
            repeating = RepeatingGroupDef(sub["name"], length, tuple(sub_points), count_ref)
        else:
            if repeating is not None:
                raise ValueError("a fixed group after a repeating group is not supported")
            offset, nested = _flatten(sub, f"{prefix}{sub['name']}.", offset, out)
            if nested is not None:
                repeating = nested
    return offset, repeating


@cache
def model_definition(model_id: int) -> ModelDef:
    """Load and flatten model_<id>.json shipped with pysunspec2 (cached)."""
    path = resources.files("sunspec2").joinpath(f"models/json/model_{model_id}.json")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyError(f"no SunSpec definition for model {model_id}") from None
    group = raw["group"]
    points: list[PointDef] = []
    fixed_length, repeating = _flatten(group, "", 0, points)
    return ModelDef(
        model_id=model_id,
        name=group["name"],
        fixed_length=fixed_length,
        points={p.key: p for p in points},
        repeating=repeating,
    )
