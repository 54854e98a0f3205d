"""One declaration per 2030.5 resource type drives both serializing and parsing.

A resource is a subclass of `SepObject`, which makes it a keyword-only dataclass; its fields
carry their wire mapping in metadata (see `element`, `attribute` and `items`). Field order is
the XSD sequence order: base-class fields come first, exactly as XSD extension appends to its
base. Parsing is strict: elements must
appear in sequence order, unknown elements and attributes are refused, and every value is
range-checked, so a body that parses is one the schema would accept.

Two 2023-edition additions are accepted and ignored, because they mean nothing to a 2018
reading of the body: `schemaVer` on the top-level element (2030.5-2023 requires it; parse
keeps its value, see `schema_version`), and attributes in a foreign namespace on any element
(the 2023 types' lax `anyAttribute`). Unqualified unknown attributes, unknown attributes in
the 2030.5, CSIP-AUS or XML Schema instance namespaces, and unknown elements are still
refused, as is every hostile document (see `protocol.xml.parser`).

Parsing reads what a client sends, so it asks only what the schema asks of a client: a
List's `all` and `results` ("required on a response to a GET, ignored otherwise") may be
left out (see `attribute(served=True)`), and a client's mRID may be shorter than 16 bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar, cast, dataclass_transform

from lxml import etree

from protocol.xml.errors import SepXmlError
from protocol.xml.parser import parse_document

SEP_NS = "urn:ieee:std:2030.5:ns"
CSIPAUS_NS = "https://csipaus.org/ns"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SEP_CONTENT_TYPE = "application/sep+xml"
PROFILES = ("csip", "csipaus")
DEFAULT_PROFILE = "csip"

_META = "sep"
_INTEGER = re.compile(r"[+-]?[0-9]+")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")

T = TypeVar("T")


# --- Simple value types -------------------------------------------------------------------


@dataclass(frozen=True)
class Integer:
    """An xs integer type with inclusive bounds (UInt8 … Int64 and bounded 2030.5 types)."""

    name: str
    minimum: int
    maximum: int

    def check(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SepXmlError(f"{self.name} must be an integer", field=where)
        if value < self.minimum:
            raise SepXmlError(f"{value} is below the minimum {self.minimum}", field=where)
        if value > self.maximum:
            raise SepXmlError(f"{value} is above the maximum {self.maximum}", field=where)
        return value

    def to_text(self, value: int, where: str) -> str:
        return str(self.check(value, where))

    def from_text(self, text: str, where: str) -> int:
        text = text.strip()
        if not _INTEGER.fullmatch(text) or len(text) > 24:
            raise SepXmlError(f"{text[:24]!r} is not a valid {self.name}", field=where)
        return self.check(int(text), where)


class HexValue(int):
    """An int parsed from hexBinary that remembers its lexical form ("03", "0c"), so a
    resource a client wrote reads back exactly as written (hexBinary has many forms of one
    value: 03, 0003, 00000003). Arithmetic on it gives a plain int."""

    text: str

    def __new__(cls, text: str) -> HexValue:
        value = super().__new__(cls, int(text, 16))
        value.text = text
        return value


@dataclass(frozen=True)
class HexInt:
    """hexBinary carrying a number or bitmap (flags, categories); Python sees an int.

    Values the server makes are written in full width, upper case (0000000C); a parsed value
    (a HexValue) is written back in the form it was read in.
    """

    name: str
    size: int  # bytes

    def check(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SepXmlError(f"{self.name} must be an integer", field=where)
        if not 0 <= value < 1 << (8 * self.size):
            raise SepXmlError(f"{value} does not fit in {self.size} bytes", field=where)
        return value

    def to_text(self, value: int, where: str) -> str:
        value = self.check(value, where)
        if isinstance(value, HexValue) and len(value.text) <= 2 * self.size:
            return value.text
        return f"{value:0{2 * self.size}X}"

    def from_text(self, text: str, where: str) -> int:
        text = text.strip()
        if not text or not _HEX.fullmatch(text) or len(text) > 2 * self.size:
            raise SepXmlError(f"{text[:24]!r} is not a valid {self.name}", field=where)
        return HexValue(text)


@dataclass(frozen=True)
class HexId:
    """hexBinary carrying an identifier (mRID, LFDI); Python sees upper-case hex text."""

    name: str
    size: int  # bytes
    exact: bool = True  # False: 1 to `size` bytes, as the XSD's maxLength allows

    def check(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not _HEX.fullmatch(value):
            raise SepXmlError(f"{self.name} must be hex digits in pairs", field=where)
        if self.exact and len(value) != 2 * self.size:
            raise SepXmlError(f"{self.name} must be {2 * self.size} hex digits", field=where)
        if not value or len(value) > 2 * self.size:
            raise SepXmlError(f"{self.name} must be 2 to {2 * self.size} hex digits", field=where)
        return value.upper()

    def to_text(self, value: str, where: str) -> str:
        return self.check(value, where)

    def from_text(self, text: str, where: str) -> str:
        return self.check(text.strip(), where)


@dataclass(frozen=True)
class Boolean:
    name: str = "boolean"

    def check(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise SepXmlError("must be a boolean", field=where)
        return value

    def to_text(self, value: bool, where: str) -> str:
        return "true" if self.check(value, where) else "false"

    def from_text(self, text: str, where: str) -> bool:
        text = text.strip()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise SepXmlError(f"{text[:24]!r} is not a valid boolean", field=where)


@dataclass(frozen=True)
class String:
    name: str
    max_length: int

    def check(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise SepXmlError(f"{self.name} must be text", field=where)
        if len(value) > self.max_length:
            raise SepXmlError(f"longer than {self.max_length} characters", field=where)
        return value

    def to_text(self, value: str, where: str) -> str:
        return self.check(value, where)

    def from_text(self, text: str, where: str) -> str:
        return self.check(text, where)


UINT8 = Integer("UInt8", 0, 2**8 - 1)
UINT16 = Integer("UInt16", 0, 2**16 - 1)
UINT32 = Integer("UInt32", 0, 2**32 - 1)
UINT40 = Integer("UInt40", 0, 2**40 - 1)
UINT48 = Integer("UInt48", 0, 2**48 - 1)
INT8 = Integer("Int8", -(2**7), 2**7 - 1)
INT16 = Integer("Int16", -(2**15), 2**15 - 1)
INT32 = Integer("Int32", -(2**31), 2**31 - 1)
INT48 = Integer("Int48", -(2**47), 2**47)  # the XSD's own bounds
TIME = Integer("TimeType", -(2**63), 2**63 - 1)  # seconds since 1970-01-01 UTC
TIME_OFFSET = Integer("TimeOffsetType", -(2**31), 2**31 - 1)
PERCENT = Integer("PerCent", 0, 10000)  # hundredths of a percent
SIGNED_PERCENT = Integer("SignedPerCent", -10000, 10000)
POWER_OF_TEN = Integer("PowerOfTenMultiplierType", -9, 9)
ONE_HOUR_RANGE = Integer("OneHourRangeType", -3600, 3600)
SUBSCRIBABLE = Integer("SubscribableType", 0, 3)
SFDI = Integer("SFDIType", 0, 2**40 - 1)
HEX8 = HexInt("HexBinary8", 1)
HEX16 = HexInt("HexBinary16", 2)
HEX32 = HexInt("HexBinary32", 4)
HEX64 = HexInt("HexBinary64", 8)
# mRIDType is HexBinary128 (maxLength 16): a client's own mRIDs may be shorter than ours.
MRID = HexId("mRIDType", 16, exact=False)
LFDI = HexId("HexBinary160", 20)
BOOLEAN = Boolean()
STRING6 = String("String6", 6)
STRING16 = String("String16", 16)
STRING32 = String("String32", 32)
STRING192 = String("String192", 192)
ANY_URI = String("anyURI", 2048)

SimpleType = Integer | HexInt | HexId | Boolean | String


class AnyResource:
    """Marker for an element typed `Resource` whose concrete type is given by xsi:type."""


# --- Field declarations -------------------------------------------------------------------


@dataclass(frozen=True)
class ElementSpec:
    element: str
    kind: Any  # a SimpleType, a SepObject subclass, or AnyResource
    required: bool
    many: bool
    namespace: str
    required_in: frozenset[str] = frozenset()  # profiles that make an optional element required

    def is_required(self, profile: str) -> bool:
        return self.required or profile in self.required_in

    @property
    def qname(self) -> str:
        return f"{{{self.namespace}}}{self.element}"


@dataclass(frozen=True)
class AttributeSpec:
    name: str
    kind: SimpleType
    required: bool
    # "Required on a response to a GET, ignored otherwise" (List@all, List@results): the
    # server always writes it; a client's body may leave it out.
    served: bool = False


def element(
    name: str,
    kind: Any,
    *,
    required: bool = False,
    many: bool = False,
    namespace: str = SEP_NS,
    required_in: Iterable[str] = (),
) -> Any:
    """Declare a child element; declaration order is wire order.

    `required_in` names profiles (e.g. "csipaus") in which an otherwise optional element
    must be present.
    """
    spec = ElementSpec(name, kind, required, many, namespace, frozenset(required_in))
    if many:
        return dataclasses.field(default_factory=list, metadata={_META: spec})
    if required:
        return dataclasses.field(metadata={_META: spec})
    return dataclasses.field(default=None, metadata={_META: spec})


def attribute(name: str, kind: SimpleType, *, required: bool = False, served: bool = False) -> Any:
    """Declare an attribute. `served`: required in what the server sends, optional in what
    a client sends (the XSD's "required on a response to a GET, ignored otherwise")."""
    spec = AttributeSpec(name, kind, required, served)
    if required:
        return dataclasses.field(metadata={_META: spec})
    return dataclasses.field(default=None, metadata={_META: spec})


@dataclass_transform(kw_only_default=True)
@dataclass(kw_only=True)
class SepObject:
    """Base of every declared 2030.5 type (resources and their nested complex types).

    Each subclass becomes a keyword-only dataclass, so a type is declared by its fields alone.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(kw_only=True)(cls)


ROOT_ELEMENTS: dict[str, type[SepObject]] = {}
_ROOT_NAMES: dict[type, str] = {}
_ROOT_NAMESPACES: dict[type, str] = {}  # root elements outside the 2030.5 namespace


_Sep = TypeVar("_Sep", bound=SepObject)


def root_element(
    name: str | None = None, *, namespace: str = SEP_NS
) -> Callable[[type[_Sep]], type[_Sep]]:
    """Register a class as a top-level 2030.5 element (default: the class name), or as a
    CSIP-AUS one (`namespace=CSIPAUS_NS`, e.g. csipaus:ConnectionPoint)."""

    def register(cls: type[_Sep]) -> type[_Sep]:
        element_name = name or cls.__name__
        if element_name in ROOT_ELEMENTS:
            raise RuntimeError(f"root element {element_name} declared twice")
        ROOT_ELEMENTS[element_name] = cls
        _ROOT_NAMES[cls] = element_name
        if namespace != SEP_NS:
            _ROOT_NAMESPACES[cls] = namespace
        return cls

    return register


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}")


def root_name(cls: type) -> str:
    try:
        return _ROOT_NAMES[cls]
    except KeyError:
        raise SepXmlError(f"{cls.__name__} is not a top-level 2030.5 resource") from None


def items(kind: type[SepObject]) -> Any:
    """Declare a list resource's entries: one element per item, named by the item's root name."""
    return element(root_name(kind), kind, many=True)


def _declared_specs(cls: type) -> list[tuple[str, ElementSpec | AttributeSpec]]:
    return [(f.name, f.metadata[_META]) for f in dataclasses.fields(cls) if _META in f.metadata]


# Typed as a plain callable: mypy checks a cached function's arguments against Hashable,
# and a dataclass type fails that through its unhashable instances; a class always hashes.
_specs: Callable[[type], list[tuple[str, ElementSpec | AttributeSpec]]] = functools.cache(
    _declared_specs
)


def element_names(cls: type) -> dict[str, str]:
    """A declared type's child elements: attribute name → element name, in wire order."""
    return {n: spec.element for n, spec in _specs(cls) if isinstance(spec, ElementSpec)}


# --- Serialize ----------------------------------------------------------------------------


def serialize(obj: SepObject, *, profile: str = DEFAULT_PROFILE, note: str | None = None) -> bytes:
    """Render a declared resource as a 2030.5 document (default namespace, XSD order).

    `note` is human-readable text carried as an XML comment before the first child (an
    Error's reason): schema-valid, and ignored by every parser.
    """
    _check_profile(profile)
    name = root_name(type(obj))
    namespace = _ROOT_NAMESPACES.get(type(obj), SEP_NS)
    nsmap: dict[str | None, str] = {None: SEP_NS}
    if namespace != SEP_NS:
        nsmap["csipaus"] = namespace
    root = etree.Element(f"{{{namespace}}}{name}", nsmap=nsmap)
    if note:
        root.append(etree.Comment(_comment_text(note)))
    _fill(root, obj, name, profile)
    return etree.tostring(root, encoding="utf-8")


_NOT_IN_A_COMMENT = re.compile(r"[^\t\n\x20-\ud7ff\ue000-\ufffd]")


def _comment_text(note: str) -> str:
    """`note` as XML comment text: no "--", no trailing "-", only characters XML carries."""
    text = _NOT_IN_A_COMMENT.sub("?", note)
    while "--" in text:
        text = text.replace("--", "- -")
    return f" {text} "


def _fill(el: etree._Element, obj: SepObject, path: str, profile: str) -> None:
    for attr_name, spec in _specs(type(obj)):
        value = getattr(obj, attr_name)
        if isinstance(spec, AttributeSpec):
            if value is None:
                if spec.required or spec.served:
                    raise SepXmlError("is required", field=f"{path}@{spec.name}")
                continue
            try:
                el.set(spec.name, spec.kind.to_text(value, f"{path}@{spec.name}"))
            except ValueError as exc:
                if isinstance(exc, SepXmlError):
                    raise
                raise SepXmlError(
                    "contains characters XML cannot carry", field=f"{path}@{spec.name}"
                ) from exc
            continue
        where = f"{path}.{spec.element}"
        values = value if spec.many else ([] if value is None else [value])
        if spec.is_required(profile) and not values:
            raise SepXmlError("is required", field=where)
        for item in values:
            nsmap = {"csipaus": CSIPAUS_NS} if spec.namespace == CSIPAUS_NS else None
            child = etree.SubElement(el, spec.qname, nsmap=nsmap)
            if spec.kind is AnyResource:
                if not isinstance(item, SepObject):
                    raise SepXmlError("must be a 2030.5 resource", field=where)
                child.set(f"{{{XSI_NS}}}type", root_name(type(item)))
                _fill(child, item, where, profile)
            elif isinstance(spec.kind, type):
                if not isinstance(item, spec.kind):
                    raise SepXmlError(f"must be a {spec.kind.__name__}", field=where)
                _fill(child, cast(SepObject, item), where, profile)  # kind: a SepObject class
            else:
                text = spec.kind.to_text(item, where)
                try:
                    child.text = text
                except ValueError as exc:  # control characters XML cannot carry
                    raise SepXmlError("contains characters XML cannot carry", field=where) from exc


# --- Parse --------------------------------------------------------------------------------


def parse(
    body: bytes,
    expected: type[T] | Iterable[type[T]] | None = None,
    *,
    profile: str = DEFAULT_PROFILE,
    max_bytes: int | None = None,
) -> T:
    """Parse and validate a 2030.5 body into its declared dataclass.

    `expected` names the resource type(s) this endpoint accepts; anything else is refused.
    `profile` ("csip" or "csipaus") adds that profile's required elements.
    """
    _check_profile(profile)
    root = parse_document(body, max_bytes=max_bytes)
    qname = etree.QName(root)
    if qname.namespace not in (SEP_NS, CSIPAUS_NS):
        raise SepXmlError(f"root element must be in namespace {SEP_NS}")
    cls = ROOT_ELEMENTS.get(qname.localname)
    if cls is None or _ROOT_NAMESPACES.get(cls, SEP_NS) != qname.namespace:
        raise SepXmlError(f"unknown root element {qname.localname}")
    if expected is not None:
        allowed = (expected,) if isinstance(expected, type) else tuple(expected)
        if cls not in allowed:
            names = ", ".join(root_name(c) for c in allowed)
            raise SepXmlError(f"expected {names}, got {qname.localname}")
    # ``cls`` is one of ``expected`` (checked above).
    return cast(T, _read(cls, root, qname.localname, profile, root=True))


SCHEMA_VER = "schemaVer"
_SCHEMA_VER_TEXT = re.compile(r"[0-9A-Za-z.+_-]{1,32}")
_SCHEMA_VER_KEY = "_sep_schema_ver"
# Attributes in these namespaces are never lax: an unknown one claims a meaning we lack.
_STRICT_NAMESPACES = frozenset({SEP_NS, CSIPAUS_NS, XSI_NS})
# Except these XML Schema instance hints, which change nothing about the content.
_IGNORED_XSI = frozenset({f"{{{XSI_NS}}}schemaLocation", f"{{{XSI_NS}}}noNamespaceSchemaLocation"})


# The 2023 schema declares these as complex types with simple content and a lax
# anyAttribute; plain simple types (UInt8, HexBinary160, String32, …) carry no attribute.
_LAX_SIMPLE_CONTENT = frozenset(
    {
        "mRIDType",
        "OneHourRangeType",
        "PerCent",
        "PowerOfTenMultiplierType",
        "SFDIType",
        "SignedPerCent",
        "TimeOffsetType",
        "TimeType",
    }
)


def schema_version(obj: SepObject) -> str | None:
    """The `schemaVer` a parsed top-level resource carried (2030.5-2023), else None."""
    return getattr(obj, _SCHEMA_VER_KEY, None)


def _lax(key: str) -> bool:
    """Whether an undeclared attribute is a lax addition that may be ignored."""
    if key in _IGNORED_XSI:
        return True
    if not key.startswith("{"):
        return False
    return key[1:].partition("}")[0] not in _STRICT_NAMESPACES


class _Plan(NamedTuple):
    """How `_read` reads one declared type, worked out once per type (a 2030.5 listener
    reads the same few types thousands of times a second)."""

    # attribute name -> (field name, spec)
    attributes: dict[str, tuple[str, AttributeSpec]]
    # (field name, spec, the element's qualified tag), in sequence order
    elements: tuple[tuple[str, ElementSpec, str], ...]
    tags: frozenset[str]


def _read_plan(cls: type) -> _Plan:
    specs = _specs(cls)
    elements = tuple((n, spec, spec.qname) for n, spec in specs if isinstance(spec, ElementSpec))
    return _Plan(
        attributes={spec.name: (n, spec) for n, spec in specs if isinstance(spec, AttributeSpec)},
        elements=elements,
        tags=frozenset(tag for _, _, tag in elements),
    )


_plan: Callable[[type], _Plan] = functools.cache(_read_plan)


def _read(
    cls: type[T], el: etree._Element, path: str, profile: str, *, typed=False, root=False
) -> T:
    attributes, elements, tags = _plan(cls)
    values: dict[str, Any] = {}
    schema_ver = None
    for key, text in el.attrib.items():
        if typed and key == f"{{{XSI_NS}}}type":
            continue
        if key not in attributes:
            if root and key == SCHEMA_VER:
                if not _SCHEMA_VER_TEXT.fullmatch(text):
                    raise SepXmlError("is not a schema version", field=f"{path}@{key}")
                schema_ver = text
                continue
            if _lax(key):
                continue
            raise SepXmlError(f"unexpected attribute {key}", field=path)
        attr_name, attr_spec = attributes[key]
        values[attr_name] = attr_spec.kind.from_text(text, f"{path}@{key}")
    for attr_name, attr_spec in attributes.values():
        if attr_spec.required and attr_name not in values:
            raise SepXmlError("is required", field=f"{path}@{attr_spec.name}")
    # Element-only content may carry whitespace between children; empty content may not.
    if el.text and (el.text.strip() or not elements):
        raise SepXmlError("unexpected text content", field=path)

    children = list(el)
    for child in children:
        if not isinstance(child.tag, str):
            raise SepXmlError("unexpected non-element content", field=path)
        if child.tail and child.tail.strip():
            raise SepXmlError("unexpected text content", field=path)
    index, count = 0, len(children)
    for attr_name, spec, tag in elements:
        found = []
        if index < count and children[index].tag == tag:
            where = f"{path}.{spec.element}"
            while index < count and children[index].tag == tag:
                found.append(_read_value(spec, children[index], where, profile))
                index += 1
                if not spec.many:
                    break
        elif spec.required or profile in spec.required_in:
            if any(child.tag == tag for child in children[index:]):
                raise SepXmlError(f"element {spec.element} is out of order", field=path)
            raise SepXmlError("is required", field=f"{path}.{spec.element}")
        if spec.many:
            values[attr_name] = found
        elif found:
            values[attr_name] = found[0]
    if index < count:
        tag = etree.QName(children[index])
        known = children[index].tag in tags
        problem = "is out of order or repeated" if known else "is not allowed here"
        raise SepXmlError(f"element {tag.localname} {problem}", field=path)
    obj = cls(**values)
    if schema_ver is not None:
        setattr(obj, _SCHEMA_VER_KEY, schema_ver)
    return obj


def _read_value(spec: ElementSpec, el: etree._Element, where: str, profile: str) -> Any:
    if spec.kind is AnyResource:
        declared = el.get(f"{{{XSI_NS}}}type")
        if not declared:
            raise SepXmlError("needs an xsi:type", field=where)
        cls = ROOT_ELEMENTS.get(declared.rpartition(":")[2])
        if cls is None:
            raise SepXmlError(f"unknown xsi:type {declared}", field=where)
        return _read(cls, el, where, profile, typed=True)
    if isinstance(spec.kind, type):
        return _read(spec.kind, el, where, profile)
    lax = spec.kind.name in _LAX_SIMPLE_CONTENT
    if len(el) or any(not (lax and _lax(key)) for key in el.attrib):
        raise SepXmlError("must be a simple value", field=where)
    return spec.kind.from_text(el.text or "", where)
