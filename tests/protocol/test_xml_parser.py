"""Hostile and malformed bodies are refused with a reason, before they cost memory."""

import tracemalloc

import pytest

from protocol.xml import SepXmlError, parse, serialize
from protocol.xml.parser import DEFAULT_MAX_BODY_BYTES, MAX_DEPTH, parse_document
from protocol.xml.resources.log import LogEvent
from protocol.xml.resources.response import DERControlResponse
from protocol.xml.resources.time import Time
from tests.protocol.examples import EXAMPLES, LFDI, MRID

NS = 'xmlns="urn:ieee:std:2030.5:ns"'


def refused(body: bytes, expected=None) -> str:
    with pytest.raises(SepXmlError) as excinfo:
        parse(body, expected)
    return str(excinfo.value)


def test_xxe_file_entity_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        f"<Time {NS}><currentTime>&x;</currentTime></Time>"
    ).encode()
    reason = refused(body)
    assert "DOCTYPE" in reason
    assert "TOPSECRET" not in reason


def test_billion_laughs_is_refused_quickly_and_small():
    entities = "".join(
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10 if i else "lol"}">' for i in range(10)
    )
    body = f"<!DOCTYPE lolz [{entities}]><Time {NS}>&l9;</Time>".encode()
    tracemalloc.start()
    try:
        reason = refused(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "DOCTYPE" in reason
    assert peak < 1_000_000


def test_doctype_without_entities_is_refused():
    assert "DOCTYPE" in refused(f"<!DOCTYPE Time><Time {NS}/>".encode())


def test_oversized_body_is_refused_before_parsing():
    body = b"<Time " + NS.encode() + b">" + b" " * (10 * 1024 * 1024) + b"</Time>"
    tracemalloc.start()
    try:
        reason = refused(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "exceeds the limit" in reason
    assert str(DEFAULT_MAX_BODY_BYTES) in reason
    assert peak < 1_000_000  # nothing was copied or parsed


def test_body_limit_follows_the_setting(settings):
    body = serialize(EXAMPLES["Time"]())
    settings.SEP2_MAX_BODY_BYTES = len(body) - 1
    assert "exceeds the limit" in refused(body)
    settings.SEP2_MAX_BODY_BYTES = len(body)
    assert parse(body) == EXAMPLES["Time"]()


def test_ten_thousand_deep_nesting_is_refused():
    body = f"<Time {NS}>".encode() + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</Time>"
    with pytest.raises(SepXmlError):
        parse_document(body, max_bytes=1_000_000)


def test_depth_limit_is_checked_after_parse():
    inside = MAX_DEPTH - 1
    ok = f"<Time {NS}>".encode() + b"<a>" * inside + b"</a>" * inside + b"</Time>"
    parse_document(ok)
    deep = f"<Time {NS}>".encode() + b"<a>" * MAX_DEPTH + b"</a>" * MAX_DEPTH + b"</Time>"
    with pytest.raises(SepXmlError, match=f"deeper than {MAX_DEPTH}"):
        parse_document(deep)
    # As few tags as a tree one level too deep can have: its innermost element closes itself.
    fewest = (
        f"<Time {NS}>".encode()
        + b"<a>" * (MAX_DEPTH - 1)
        + b"<a/>"
        + b"</a>" * (MAX_DEPTH - 1)
        + b"</Time>"
    )
    with pytest.raises(SepXmlError, match=f"deeper than {MAX_DEPTH}"):
        parse_document(fewest)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"<Time", "malformed XML"),
        (b"\xff\xfe<\x00T\x00", "not UTF-8"),
        (b"<Time><currentTime>1</currentTime></Time>", "namespace"),
        (b'<Time xmlns="urn:ieee:std:2030.5:nsX"/>', "namespace"),
        (f"<Bogus {NS}/>".encode(), "unknown root element Bogus"),
    ],
)
def test_malformed_bodies(body, reason):
    assert reason in refused(body)


def test_wrong_root_for_the_endpoint():
    body = serialize(EXAMPLES["Time"]())
    assert "expected DERControlResponse, got Time" in refused(body, DERControlResponse)


def test_processing_instruction_with_non_utf8_encoding_is_refused():
    body = f'<?xml version="1.0" encoding="ISO-8859-1"?><Time {NS}/>'.encode()
    assert "encoding" in refused(body)


def response_body(*children: str, attrs: str = "") -> bytes:
    return f"<DERControlResponse {NS}{attrs}>{''.join(children)}</DERControlResponse>".encode()


LFDI_EL = f"<endDeviceLFDI>{LFDI}</endDeviceLFDI>"
SUBJECT_EL = f"<subject>{MRID}</subject>"


def test_valid_response_parses():
    parsed = parse(response_body(LFDI_EL, "<status>1</status>", SUBJECT_EL), DERControlResponse)
    assert parsed == DERControlResponse(end_device_lfdi=LFDI, status=1, subject=MRID)


@pytest.mark.parametrize(
    ("children", "field", "reason"),
    [
        ((LFDI_EL, "<status>256</status>", SUBJECT_EL), "status", "above the maximum 255"),
        ((LFDI_EL, "<status>-1</status>", SUBJECT_EL), "status", "below the minimum 0"),
        ((LFDI_EL, "<status>1.5</status>", SUBJECT_EL), "status", "not a valid UInt8"),
        ((LFDI_EL,), "subject", "is required"),
        (("<endDeviceLFDI>ABC</endDeviceLFDI>", SUBJECT_EL), "endDeviceLFDI", "hex digits"),
        ((LFDI_EL, "<subject>" + "12" * 17 + "</subject>"), "subject", "2 to 32 hex digits"),
        ((SUBJECT_EL, LFDI_EL), "DERControlResponse", "out of order"),
        ((LFDI_EL, SUBJECT_EL, "<extra>1</extra>"), "DERControlResponse", "not allowed"),
        ((LFDI_EL, "<status><x/></status>", SUBJECT_EL), "status", "simple value"),
    ],
)
def test_field_errors_name_the_field(children, field, reason):
    with pytest.raises(SepXmlError) as excinfo:
        parse(response_body(*children), DERControlResponse)
    assert excinfo.value.field.endswith(field)
    assert reason in excinfo.value.reason


def test_unknown_attribute_is_refused():
    body = response_body(LFDI_EL, SUBJECT_EL, attrs=' bogus="1"')
    assert "unexpected attribute bogus" in refused(body)


def test_nested_ranges_are_checked():
    control = serialize(EXAMPLES["DERControl"]())
    body = control.replace(b"<opModFixedW>-5000<", b"<opModFixedW>-10001<")
    with pytest.raises(SepXmlError) as excinfo:
        parse(body)
    assert excinfo.value.field == "DERControl.DERControlBase.opModFixedW"
    body = control.replace(b"<multiplier>3<", b"<multiplier>10<")
    with pytest.raises(SepXmlError, match="above the maximum 9"):
        parse(body)


def test_list_attributes_are_served_always_and_read_when_given():
    # sep.xsd: "Required on a response to a GET, ignored otherwise" (issue 22).
    assert parse(f'<EndDeviceList {NS} all="1"/>'.encode()).results is None
    assert "results" in refused(f'<EndDeviceList {NS} all="1" results="x"/>'.encode())
    with pytest.raises(SepXmlError, match="results"):
        serialize(parse(f'<EndDeviceList {NS} all="1"/>'.encode()))


def test_serializer_refuses_out_of_range_values():
    bad = DERControlResponse(end_device_lfdi=LFDI, status=999, subject=MRID)
    with pytest.raises(SepXmlError, match="status"):
        serialize(bad)
    with pytest.raises(SepXmlError, match="required"):
        serialize(
            Time(
                current_time=1,
                dst_end_time=0,
                dst_offset=0,
                dst_start_time=0,
                quality=None,
                tz_offset=0,
            )
        )


def test_serializer_refuses_text_xml_cannot_carry():
    bad = LogEvent(
        created_date_time=0,
        details="bell\x07",
        function_set=0,
        log_event_code=0,
        log_event_id=0,
        log_event_pen=0,
        profile_id=0,
    )
    with pytest.raises(SepXmlError, match=r"LogEvent\.details"):
        serialize(bad)
    with pytest.raises(SepXmlError, match="href"):
        serialize(
            Time(
                href="/tm\x00",
                current_time=0,
                dst_end_time=0,
                dst_offset=0,
                dst_start_time=0,
                quality=7,
                tz_offset=0,
            )
        )
