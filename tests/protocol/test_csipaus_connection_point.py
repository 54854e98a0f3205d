"""CSIP-AUS ConnectionPoint: the client PUTs its site's NMI and the site record keeps it."""

import pytest

from devices.models import Device
from protocol.models import EndDevice
from protocol.xml import parse, serialize
from protocol.xml.resources.common import Error
from protocol.xml.resources.edev import ConnectionPoint
from protocol.xml.resources.edev import EndDevice as SepEndDevice
from tests import factories
from tests.protocol.client import SepClient
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

pytestmark = pytest.mark.django_db

NMI = "4103035611"


def cp_body(nmi: str = NMI) -> bytes:
    return serialize(ConnectionPoint(connection_point_id=nmi), profile="csipaus")


def aus_world(utility):
    program, _ = program_with_group(utility, profile="csip_aus")
    agg = actor(utility, program=program)
    agg.http = SepClient(agg.cert, profile="csipaus")
    return program, agg


def test_client_puts_its_connection_point_and_the_site_keeps_it(utility_a):
    program, agg = aus_world(utility_a)
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program)
    edev = parse(agg.http.get(f"/edev/{end_device.pk}").content, SepEndDevice, profile="csipaus")
    href = edev.connection_point_link.href
    assert href == f"/edev/{end_device.pk}/cp"
    assert agg.http.get(href).status_code == 404  # nothing reported yet

    # The first report creates the resource: 201 with its Location (RFC 9110 9.3.4; the
    # CSIP-AUS reference server answers every ConnectionPoint PUT with a Location).
    response = agg.http.put_sep(href, cp_body())
    assert response.status_code == 201, response.content
    assert response["Location"] == href
    end_device.device.refresh_from_db()
    assert end_device.device.connection_point_id == NMI

    got = agg.http.get(href)
    assert got.status_code == 200
    assert b"https://csipaus.org/ns" in got.content
    cp = parse(got.content, ConnectionPoint, profile="csipaus")
    assert (cp.href, cp.connection_point_id) == (href, NMI)

    # A new NMI replaces the old one, and the cached GET follows.
    updated = agg.http.put_sep(href, cp_body("QB01234567"))
    assert (updated.status_code, updated["Location"]) == (204, href)
    assert parse(agg.http.get(href).content).connection_point_id == "QB01234567"


def test_another_clients_end_device_is_refused_and_nothing_written(utility_a, utility_b):
    program, owner = aus_world(utility_a)
    end_device = enrolled_end_device(utility_a, client=owner.client, program=program)
    _, stranger = aus_world(utility_a)
    _, foreigner = aus_world(utility_b)
    href = f"/edev/{end_device.pk}/cp"
    for other in (stranger, foreigner):
        assert other.http.put_sep(href, cp_body()).status_code == 404
        assert other.http.get(href).status_code == 404
    assert Device.objects.get(pk=end_device.device_id).connection_point_id == ""


@pytest.mark.parametrize(
    "body",
    [
        b"<ConnectionPoint xmlns='https://csipaus.org/ns'></ConnectionPoint>",
        b"<ConnectionPoint xmlns='https://csipaus.org/ns'><connectionPointId>"
        + b"9" * 33
        + b"</connectionPointId></ConnectionPoint>",
        b"<ConnectionPoint xmlns='https://csipaus.org/ns'><connectionPointId>  "
        b"</connectionPointId></ConnectionPoint>",
        # The element in the 2030.5 namespace is not the CSIP-AUS one.
        b"<ConnectionPoint xmlns='urn:ieee:std:2030.5:ns'><connectionPointId>1"
        b"</connectionPointId></ConnectionPoint>",
        b"<csipaus:ConnectionPoint xmlns:csipaus='https://csipaus.org/ns'>",
        b"<ConnectionPoint xmlns='https://csipaus.org/ns'><connectionPointId>"
        + b"1" * 2_000_000
        + b"</connectionPointId></ConnectionPoint>",
    ],
)
def test_malformed_connection_point_is_refused_with_an_error_body(utility_a, body):
    program, agg = aus_world(utility_a)
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program)
    response = agg.http.put_sep(f"/edev/{end_device.pk}/cp", body)
    assert response.status_code in (400, 413), response.content
    if response.status_code == 400:
        assert b"<Error" in response.content
    assert Device.objects.get(pk=end_device.device_id).connection_point_id == ""


@pytest.mark.parametrize(
    ("nmi", "says"),
    [
        ("NOTAVALIDID", "I or O"),  # cactus S-OPT-02's "Incorrect Connection Point Registration"
        ("41020000003", "checksum"),  # 4102000000's checksum is 2
        ("410200000", "10 characters"),
        ("410200000026", "10 characters"),
        ("4102 00000", "digits and capital letters"),
        ("qb01234567", "digits and capital letters"),
        ("4102000000X", "checksum"),
    ],
)
def test_a_connection_point_that_is_not_an_nmi_is_refused_and_nothing_changes(utility_a, nmi, says):
    program, agg = aus_world(utility_a)
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program)
    href = f"/edev/{end_device.pk}/cp"
    assert agg.http.put_sep(href, cp_body("41020000002")).status_code == 201

    response = agg.http.put_sep(href, cp_body(nmi))
    assert response.status_code == 400, response.content
    # reasonCode 1, "invalid request values": the body was well formed, its value is wrong.
    assert parse(response.content, Error).reason_code == 1
    assert says.encode() in response.content
    assert Device.objects.get(pk=end_device.device_id).connection_point_id == "41020000002"
    assert parse(agg.http.get(href).content).connection_point_id == "41020000002"


@pytest.mark.parametrize("nmi", ["41020000002", "41020000026", "QB01234567", "VAAA0000657"])
def test_an_nmi_with_or_without_its_checksum_is_kept_as_sent(utility_a, nmi):
    program, agg = aus_world(utility_a)
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program)
    href = f"/edev/{end_device.pk}/cp"
    assert agg.http.put_sep(href, cp_body(nmi)).status_code == 201
    assert parse(agg.http.get(href).content).connection_point_id == nmi


def test_plain_csip_clients_have_no_connection_point(utility_a):
    program, _ = program_with_group(utility_a)  # US CSIP
    agg = actor(utility_a, program=program)
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program)
    edev = parse(agg.http.get(f"/edev/{end_device.pk}").content, SepEndDevice)
    assert edev.connection_point_link is None
    assert agg.http.put_sep(f"/edev/{end_device.pk}/cp", cp_body()).status_code == 404
    assert Device.objects.get(pk=end_device.device_id).connection_point_id == ""


def test_unlinked_end_device_refuses_a_connection_point(utility_a):
    program, agg = aus_world(utility_a)
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program)
    EndDevice.objects.filter(pk=end_device.pk).update(device=None)
    response = agg.http.put_sep(f"/edev/{end_device.pk}/cp", cp_body())
    assert response.status_code == 400 and b"<Error" in response.content


def test_connection_point_queries_do_not_grow_with_the_fleet(
    utility_a, django_assert_max_num_queries
):
    program, agg = aus_world(utility_a)
    end_devices = [
        enrolled_end_device(utility_a, client=agg.client, program=program) for _ in range(2)
    ]
    for _ in range(8):
        factories.device(utility_a, connection_point_id=NMI)
    first, second = end_devices
    href = f"/edev/{first.pk}/cp"
    with django_assert_max_num_queries(12):
        assert agg.http.put_sep(href, cp_body()).status_code == 201
    with django_assert_max_num_queries(6):
        assert agg.http.get(href).status_code == 200
    with django_assert_max_num_queries(6):
        assert agg.http.get(f"/edev/{second.pk}/cp").status_code == 404
