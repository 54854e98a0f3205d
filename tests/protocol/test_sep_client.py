import pytest

from protocol import pki
from protocol.xml import serialize
from tests.protocol.client import SepClient
from tests.protocol.examples import EXAMPLES

# The database: every request takes its connection first (portal.availability).
pytestmark = [pytest.mark.urls("tests.protocol.sep_test_urls"), pytest.mark.django_db]


@pytest.fixture(scope="module")
def device():
    return pki.create_client_certificate(pki.create_root_ca(), "Device")


def test_valid_responses_pass_through(device):
    response = SepClient(device).get("/tm")
    assert response.status_code == 200
    assert b"<currentTime>1763780400</currentTime>" in response.content


def test_invalid_responses_fail_the_test(device):
    with pytest.raises(AssertionError, match=r"not valid against the 2030\.5 schema"):
        SepClient(device).get("/broken")


def test_without_a_certificate_the_view_refuses():
    assert SepClient().get("/tm").status_code == 403


def test_posting_a_body(device):
    client = SepClient(device)
    response = client.post_sep("/rsp", serialize(EXAMPLES["DERControlResponse"]()))
    assert response.status_code == 201
    assert response["Location"] == "/rsps/1/rsp/1"
    assert client.post_sep("/rsp", b"<nope").status_code == 400
    assert client.post("/rsp", data=b"{}", content_type="application/json").status_code == 415
