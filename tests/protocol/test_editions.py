"""2023-edition payloads: schemaVer and lax extra attributes are accepted where the schema
allows them, and everything hostile or malformed is still refused (issue 23)."""

import pytest
from django.urls import reverse

from protocol.models import Client, EndDevice
from protocol.xml import SepXmlError, parse, schema_version, serialize
from protocol.xml.resources.der import DERSettings
from protocol.xml.resources.edev import EndDevice as SepEndDevice
from protocol.xml.resources.units import active_power, watts_of
from tests.protocol.sep_world import actor, end_device_body, location_id, random_lfdi

NS = 'xmlns="urn:ieee:std:2030.5:ns"'
VENDOR_NS = 'xmlns:v="http://vendor.example/ns"'


def _edev(attrs: str = "", inner_attrs: str = "", lfdi="00" * 20) -> bytes:
    return (
        f"<EndDevice {NS} {VENDOR_NS}{attrs}><lFDI{inner_attrs}>{lfdi}</lFDI><sFDI>1</sFDI>"
        "<changedTime>0</changedTime></EndDevice>"
    ).encode()


def test_schema_ver_on_the_top_level_element_is_accepted_and_kept():
    # Failed before issue 23: "EndDevice: unexpected attribute schemaVer".
    parsed = parse(_edev(' schemaVer="2.0"'), SepEndDevice)
    assert parsed.sfdi == 1 and schema_version(parsed) == "2.0"
    assert schema_version(parse(_edev(), SepEndDevice)) is None


def test_foreign_namespace_attributes_are_ignored_on_complex_elements():
    assert parse(_edev(' v:build="7"'), SepEndDevice).lfdi == "00" * 20
    settings = DERSettings(set_grad_w=100, set_max_w=active_power(5000), updated_time=0)
    body = serialize(settings).replace(
        b"<setMaxW>", b'<setMaxW xmlns:v="http://vendor.example/ns" v:note="x">'
    )
    assert watts_of(parse(body, DERSettings).set_max_w) == 5000


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_edev(' bogus="1"'), "unexpected attribute bogus"),  # unqualified: a typo, not lax
        (_edev("", ' v:note="x"'), "must be a simple value"),  # simple types carry none
        (_edev(' schemaVer="' + "9" * 200 + '"'), "schemaVer"),
        (_edev(' schemaVer=""'), "schemaVer"),
        (
            _edev(' xmlns:s="urn:ieee:std:2030.5:ns" s:bogus="1"'),
            "unexpected attribute",
        ),  # our own namespace is not lax
        (
            _edev(' xmlns:x="http://www.w3.org/2001/XMLSchema-instance" x:type="Time"'),
            "unexpected attribute",
        ),
        (_edev(' schemaVer="2.0"', lfdi="ZZ" * 20), "lFDI"),  # values stay strictly typed
    ],
)
def test_what_is_still_refused(body, reason):
    with pytest.raises(SepXmlError) as excinfo:
        parse(body, SepEndDevice)
    assert reason in str(excinfo.value)


def test_schema_ver_is_top_level_only():
    settings = serialize(DERSettings(set_grad_w=100, set_max_w=active_power(5000), updated_time=0))
    body = settings.replace(b"<setMaxW>", b'<setMaxW schemaVer="2.0">')
    with pytest.raises(SepXmlError) as excinfo:
        parse(body, DERSettings)
    assert "unexpected attribute schemaVer" in str(excinfo.value)


def test_doctype_is_still_refused_with_schema_ver():
    body = b'<!DOCTYPE r [<!ENTITY x "y">]>' + _edev(' schemaVer="2.0"')
    with pytest.raises(SepXmlError) as excinfo:
        parse(body, SepEndDevice)
    assert "DOCTYPE" in str(excinfo.value)


@pytest.mark.django_db
def test_a_2023_client_registers_and_its_edition_shows(client_a, utility_a):
    agg = actor(utility_a, name="Edition 2023 Aggregator")
    lfdi, sfdi = random_lfdi()
    body = end_device_body(lfdi, sfdi).replace(b"<EndDevice ", b'<EndDevice schemaVer="2.0" ')
    created = agg.http.post_sep("/edev", body)
    assert created.status_code == 201, created.content
    assert EndDevice.objects.get(pk=location_id(created)).lfdi == lfdi
    assert Client.objects.get(pk=agg.client.pk).schema_ver == "2.0"
    page = client_a.get(reverse("protocol:client-list")).content.decode()
    assert "2030.5-2023 (schemaVer 2.0)" in page
