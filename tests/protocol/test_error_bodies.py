"""A refused request answers with a 2030.5 `Error` body in application/sep+xml (issue 22).

reasonCode 0 is "invalid request format", 1 "invalid request values"; maxRetryDuration
(seconds) is given where waiting and retrying can succeed. The human-readable reason stays
in the body, as an XML comment, so a vendor can still see what was refused. SepClient
validates every application/sep+xml body against sep.xsd.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from protocol.models import Client
from protocol.xml import SEP_CONTENT_TYPE, parse, serialize
from protocol.xml.resources.common import Error
from protocol.xml.resources.der import DERSettings
from protocol.xml.resources.units import active_power
from tests.protocol.client import SepClient
from tests.protocol.sep_world import (
    actor,
    end_device_body,
    enrolled_end_device,
    program_with_group,
    random_lfdi,
)

pytestmark = pytest.mark.django_db

FORMAT, VALUES = 0, 1


def error_of(response, status: int, reason_code: int, *, says: str = "") -> Error:
    assert response.status_code == status, response.content
    assert response["Content-Type"].split(";")[0] == SEP_CONTENT_TYPE
    assert response["Content-Length"] == str(len(response.content))
    error = parse(response.content, Error, max_bytes=64 * 1024)
    assert error.reason_code == reason_code
    assert says.encode() in response.content
    return error


@pytest.fixture
def agg(utility_a):
    program, _ = program_with_group(utility_a)
    return actor(utility_a, program=program)


def test_400_for_a_body_that_does_not_parse(agg):
    response = agg.http.post_sep("/edev", b"<EndDevice")
    error = error_of(response, 400, FORMAT, says="malformed XML")
    assert error.max_retry_duration is None


def test_400_for_values_the_server_cannot_take(agg, utility_a):
    ed = enrolled_end_device(utility_a, client=agg.client, program=agg.client.program)
    ed.device = None
    ed.save()
    settings = DERSettings(set_grad_w=100, set_max_w=active_power(5000), updated_time=0)
    response = agg.http.put_sep(f"/edev/{ed.pk}/der/0/derg", serialize(settings))
    error_of(response, 400, VALUES, says="not linked to a device")


def test_400_for_a_bad_list_query(agg):
    error_of(agg.http.get("/edev?l=x"), 400, FORMAT, says="l must be")


def test_403_without_a_certificate_and_for_a_revoked_one(agg):
    error_of(SepClient().get("/dcap"), 403, FORMAT, says="no verified client certificate")
    Client.objects.filter(pk=agg.client.pk).update(revoked=True)
    error_of(agg.http.get("/dcap"), 403, FORMAT, says="revoked")


def test_404_for_another_clients_or_a_missing_end_device(agg):
    error_of(agg.http.get("/edev/999999"), 404, FORMAT, says="no such EndDevice")


def test_405_names_the_allowed_methods(agg):
    response = agg.http.delete("/dcap")
    error_of(response, 405, FORMAT)
    assert response["Allow"] == "GET, HEAD"


def test_409_for_a_second_registration_of_the_same_lfdi(agg):
    lfdi, sfdi = random_lfdi()
    assert agg.http.post_sep("/edev", end_device_body(lfdi, sfdi)).status_code == 201
    again = agg.http.post_sep("/edev", end_device_body(lfdi, sfdi))
    error_of(again, 409, VALUES, says="already registered")


def test_413_for_a_body_over_the_limit(agg, settings):
    settings.SEP2_MAX_BODY_BYTES = 100
    lfdi, sfdi = random_lfdi()
    body = end_device_body(lfdi, sfdi) + b" " * 200
    error_of(agg.http.post_sep("/edev", body), 413, FORMAT, says="exceeds the limit")


def test_415_for_a_body_that_is_not_sep_xml(agg):
    lfdi, sfdi = random_lfdi()
    response = agg.http.post("/edev", data=end_device_body(lfdi, sfdi), content_type="text/xml")
    error_of(response, 415, FORMAT, says=SEP_CONTENT_TYPE)


def test_503_says_when_to_retry(agg):
    Client.objects.filter(pk=agg.client.pk).update(
        outage_until=timezone.now() + timedelta(seconds=90)
    )
    response = agg.http.get("/dcap")
    error = error_of(response, 503, FORMAT)
    assert 85 <= error.max_retry_duration <= 90
    assert response["Retry-After"] == str(error.max_retry_duration)


def test_a_reason_that_would_break_the_comment_is_made_safe(agg):
    # A client's own text can reach the reason; "--" may not appear inside an XML comment.
    body = b'<EndDevice xmlns="urn:ieee:std:2030.5:ns"><sFDI>--1--</sFDI></EndDevice>'
    error_of(agg.http.post_sep("/edev", body), 400, FORMAT, says="sFDI")
