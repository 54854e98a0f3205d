"""Bodies shaped as other clients send them, not as our own simulator does (issue 22).

sep.xsd declares a List's `all` and `results` `use="required"`, but documents them as
"Required on a response to a GET, ignored otherwise": a client POSTing a list may leave
them out. The 2023 schema also gives the simple-content types (TimeType, mRIDType, …) a lax
`anyAttribute`, and mRIDType is HexBinary128, whose length is at most (not exactly) 16 bytes.
"""

from datetime import UTC, datetime, timedelta

import pytest

from devices.models import TelemetrySample
from protocol.models import MirrorUsagePoint
from protocol.xml import SepXmlError, parse
from protocol.xml.resources.common import time_type
from protocol.xml.resources.mirror import MirrorMeterReadingList
from protocol.xml.resources.mirror import MirrorUsagePoint as SepMirrorUsagePoint
from tests.protocol.sep_world import actor, enrolled_end_device, location_id, program_with_group

NS = 'xmlns="urn:ieee:std:2030.5:ns"'


def _mmr(mrid: str, at: int, value: int, *, reading_type: bool = True) -> str:
    rt = "<ReadingType><kind>37</kind><uom>38</uom></ReadingType>" if reading_type else ""
    return (
        f"<MirrorMeterReading><mRID>{mrid}</mRID><description>Site W</description>"
        f"<Reading><timePeriod><duration>60</duration><start>{at}</start></timePeriod>"
        f"<value>{value}</value></Reading>{rt}</MirrorMeterReading>"
    )


def _mup_body(lfdi: str, mrid: str, mmrs: str, role_flags: str = "03") -> bytes:
    return (
        f"<MirrorUsagePoint {NS}><mRID>{mrid}</mRID><description>site</description>"
        f"<roleFlags>{role_flags}</roleFlags><serviceCategoryKind>0</serviceCategoryKind>"
        f"<status>1</status><deviceLFDI>{lfdi}</deviceLFDI>{mmrs}</MirrorUsagePoint>"
    ).encode()


def _now_minus(minutes: int) -> int:
    return time_type(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes))


# --- the codec --------------------------------------------------------------------------


def test_a_posted_list_needs_neither_all_nor_results():
    mmr = _mmr("AB" * 16, 1_700_000_000, 5)
    body = f"<MirrorMeterReadingList {NS}>{mmr}</MirrorMeterReadingList>"
    parsed = parse(body.encode(), MirrorMeterReadingList)
    assert [m.mrid for m in parsed.mirror_meter_readings] == ["AB" * 16]


def test_a_posted_list_with_all_and_results_still_parses_and_checks_them():
    ok = f'<MirrorMeterReadingList {NS} all="1" results="1"></MirrorMeterReadingList>'
    assert parse(ok.encode(), MirrorMeterReadingList).mirror_meter_readings == []
    bad = f'<MirrorMeterReadingList {NS} all="many"></MirrorMeterReadingList>'
    with pytest.raises(SepXmlError):
        parse(bad.encode(), MirrorMeterReadingList)


def test_a_list_the_server_serves_still_carries_all_and_results():
    from protocol.xml import serialize

    with pytest.raises(SepXmlError, match="all"):
        serialize(MirrorMeterReadingList())


def test_a_short_mrid_is_a_valid_mrid():
    # mRIDType is HexBinary128: at most 16 bytes.
    body = _mup_body("AB" * 20, "0A0B", "")
    assert parse(body, SepMirrorUsagePoint).mrid == "0A0B"


def test_a_lax_attribute_on_a_simple_value_is_ignored_and_a_strict_one_refused():
    # 2023: mRIDType, TimeType, RoleFlagsType … extend their base with a lax anyAttribute.
    lax = _mup_body("AB" * 20, "AB" * 16, "").replace(
        b"<mRID>", b'<mRID xmlns:x="urn:example" x:note="y">'
    )
    assert parse(lax, SepMirrorUsagePoint).mrid == "AB" * 16
    strict = _mup_body("AB" * 20, "AB" * 16, "").replace(b"<mRID>", b'<mRID unit="1">')
    with pytest.raises(SepXmlError):
        parse(strict, SepMirrorUsagePoint)


# --- through the views -------------------------------------------------------------------


@pytest.mark.django_db
def test_readings_posted_to_a_mup_as_a_list_without_all_are_stored(utility_a):
    # Failed before: 400 "MirrorMeterReadingList@all: is required" (S-ALL-04, 06, 47).
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    created = agg.http.post_sep(
        "/mup", _mup_body(ed.lfdi, "C1" * 16, _mmr("D1" * 16, _now_minus(3), 1200))
    )
    assert created.status_code == 201, created.content
    at = _now_minus(1)
    posted = agg.http.post_sep(
        created["Location"],
        f"<MirrorMeterReadingList {NS}>{_mmr('D1' * 16, at, 1500, reading_type=False)}"
        f"</MirrorMeterReadingList>".encode(),
    )
    assert posted.status_code == 201, posted.content
    samples = TelemetrySample.objects.filter(device=ed.device)
    values = sorted(samples.values_list("value", flat=True))
    assert values == [1200.0, 1500.0]


@pytest.mark.django_db
def test_a_mup_with_a_short_client_mrid_is_created(utility_a):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    created = agg.http.post_sep("/mup", _mup_body(ed.lfdi, "0123", _mmr("0456", _now_minus(2), 7)))
    assert created.status_code == 201, created.content
    assert MirrorUsagePoint.objects.get(pk=location_id(created)).mrid == "0123"


# --- re-POSTing a known MirrorUsagePoint (item 5) ------------------------------------------


@pytest.mark.django_db
def test_re_posting_a_known_mup_updates_it_and_answers_with_its_location(utility_a):
    # Failed before: 204 with the Location, but roleFlags 0049 were dropped and 0003 stayed.
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    mmr = _mmr("D2" * 16, _now_minus(3), 900)
    created = agg.http.post_sep("/mup", _mup_body(ed.lfdi, "C2" * 16, mmr, role_flags="03"))
    assert created.status_code == 201, created.content
    body = _mup_body(ed.lfdi, "C2" * 16, "", role_flags="0049").replace(
        b"<description>site</description>", b"<description>site meter</description>"
    )
    again = agg.http.post_sep("/mup", body)
    assert (again.status_code, again["Location"]) == (204, created["Location"])
    mup = MirrorUsagePoint.objects.get(pk=location_id(created))
    assert (mup.role_flags, mup.description) == (0x49, "site meter")
    served = parse(agg.http.get(created["Location"]).content, SepMirrorUsagePoint)
    assert (served.role_flags, served.description) == (0x49, "site meter")
    assert MirrorUsagePoint.objects.count() == 1


@pytest.mark.django_db
def test_a_role_change_moves_the_power_quantity_to_the_site_channel(utility_a):
    # roleFlags bit 1 (isPremisesAggregationPoint) decides site W vs device W.
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    mmr = _mmr("D3" * 16, _now_minus(3), 900)
    created = agg.http.post_sep("/mup", _mup_body(ed.lfdi, "C3" * 16, mmr, role_flags="0008"))
    assert created.status_code == 201, created.content
    # The re-POST repeats the known quantity without its ReadingType, as 2030.5 lets it.
    known = _mmr("D3" * 16, _now_minus(2), 950, reading_type=False)
    again = agg.http.post_sep("/mup", _mup_body(ed.lfdi, "C3" * 16, known, role_flags="03"))
    assert again.status_code == 204, again.content
    samples = TelemetrySample.objects.filter(device=ed.device)
    channels = dict(samples.values_list("value", "channel"))
    assert channels == {900.0: "w", 950.0: "site_w"}


@pytest.mark.django_db
def test_a_re_post_with_bad_values_changes_nothing(utility_a):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    created = agg.http.post_sep("/mup", _mup_body(ed.lfdi, "C4" * 16, "", role_flags="03"))
    assert created.status_code == 201, created.content
    unknown = _mmr("D4" * 16, _now_minus(2), 950, reading_type=False)
    refused = agg.http.post_sep("/mup", _mup_body(ed.lfdi, "C4" * 16, unknown, role_flags="49"))
    assert refused.status_code == 400
    assert MirrorUsagePoint.objects.get(pk=location_id(created)).role_flags == 0x03


# --- values read back as written (item 8) --------------------------------------------------


def test_hex_values_keep_the_lexical_form_they_were_parsed_from():
    from protocol.xml import serialize
    from protocol.xml.resources.der import DERSettings

    body = (
        f"<DERSettings {NS}><modesEnabled>0c</modesEnabled><setGradW>100</setGradW>"
        "<setMaxW><multiplier>0</multiplier><value>5000</value></setMaxW>"
        "<updatedTime>0</updatedTime></DERSettings>"
    ).encode()
    parsed = parse(body, DERSettings)
    assert parsed.modes_enabled == 0x0C
    assert b"<modesEnabled>0c</modesEnabled>" in serialize(parsed)
    parsed.modes_enabled = 0x0C  # a value the server sets is written in canonical form
    assert b"<modesEnabled>0000000C</modesEnabled>" in serialize(parsed)


@pytest.mark.django_db
def test_a_client_reads_back_modes_as_it_wrote_them(utility_a):
    # Failed before: modesSupported 03 came back as 00000003, modesEnabled 0C as 0000000C
    # (S-ALL-10 and 55).
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    power = "<multiplier>0</multiplier><value>5000</value>"
    capability = (
        f"<DERCapability {NS}><modesSupported>03</modesSupported>"
        f"<rtgMaxW>{power}</rtgMaxW><type>83</type></DERCapability>"
    ).encode()
    settings = (
        f"<DERSettings {NS}><modesEnabled>0C</modesEnabled><setGradW>100</setGradW>"
        f"<setMaxW>{power}</setMaxW><updatedTime>0</updatedTime></DERSettings>"
    ).encode()
    der = f"/edev/{ed.pk}/der/0"
    assert agg.http.put_sep(f"{der}/dercap", capability).status_code == 204
    assert agg.http.put_sep(f"{der}/derg", settings).status_code == 204
    assert b"<modesSupported>03</modesSupported>" in agg.http.get(f"{der}/dercap").content
    assert b"<modesEnabled>0C</modesEnabled>" in agg.http.get(f"{der}/derg").content
