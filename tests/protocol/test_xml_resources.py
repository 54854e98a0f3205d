"""Every declared resource survives serialize -> schema validation -> parse unchanged."""

import pytest
from lxml import etree

from protocol.xml import SEP_NS, codec, parse, serialize
from protocol.xml.resources.derp import DERControlList
from protocol.xml.resources.edev import EndDevice
from tests.protocol.examples import EXAMPLES, csipaus_examples


def test_every_declared_resource_has_an_example():
    # csipaus:ConnectionPoint exists only in CSIP-AUS: its example is a CSIP-AUS one.
    assert set(EXAMPLES) | {"ConnectionPoint"} == set(codec.ROOT_ELEMENTS)
    assert "ConnectionPoint" in csipaus_examples()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_round_trip_is_schema_valid(name, sep_validator):
    original = EXAMPLES[name]()
    body = serialize(original)

    sep_validator(body, profile="csip")
    root = etree.fromstring(body)
    assert root.tag == f"{{{SEP_NS}}}{name}"
    assert root.nsmap[None] == SEP_NS
    parsed = parse(body)
    assert type(parsed) is type(original)
    assert parsed == original


@pytest.mark.parametrize("name", sorted(csipaus_examples()))
def test_csipaus_extensions_round_trip(name, sep_validator):
    original = csipaus_examples()[name]
    body = serialize(original)

    sep_validator(body, profile="csipaus")
    assert b'xmlns:csipaus="https://csipaus.org/ns"' in body
    assert parse(body, profile="csipaus") == original
    assert serialize(original, profile="csipaus") == body


def test_csipaus_extensions_are_not_plain_2030_5():
    """The two profiles differ, so validating against the right one matters."""
    from tests.protocol.schema import schema_errors

    body = serialize(csipaus_examples()["DERControl"])
    assert schema_errors(body, "csip")


def test_elements_follow_the_xsd_sequence():
    body = serialize(EXAMPLES["DERControl"]())
    children = [etree.QName(c).localname for c in etree.fromstring(body)]
    assert children == [
        "mRID",
        "description",
        "version",
        "creationTime",
        "EventStatus",
        "interval",
        "randomizeDuration",
        "randomizeStart",
        "DERControlBase",
        "deviceCategory",
    ]


def test_hex_and_identifier_formatting():
    body = serialize(EXAMPLES["DERCapability"]())
    assert b"<modesSupported>00500040</modesSupported>" in body
    device = EndDevice(lfdi="3e4f45ab31edfe5b67e343e5e4562e31984e23e5", sfdi=1, changed_time=0)
    assert b"<lFDI>3E4F45AB31EDFE5B67E343E5E4562E31984E23E5</lFDI>" in serialize(device)


def test_notification_carries_typed_resource(sep_validator):
    body = serialize(EXAMPLES["Notification"]())
    resource = etree.fromstring(body).find(f"{{{SEP_NS}}}Resource")
    assert resource.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "DERControlList"
    parsed = parse(body)
    assert isinstance(parsed.resource, DERControlList)
    assert parsed.resource.der_controls[0].mrid == EXAMPLES["DERControl"]().mrid


def test_csipaus_profile_requires_doe_modes_supported():
    from protocol.xml import SepXmlError

    capability = EXAMPLES["DERCapability"]()
    body = serialize(capability)
    assert parse(body) == capability  # optional in plain 2030.5
    with pytest.raises(SepXmlError, match="doeModesSupported"):
        parse(body, profile="csipaus")
    with pytest.raises(SepXmlError, match="doeModesSupported"):
        serialize(capability, profile="csipaus")
