import pytest
from django.test import RequestFactory

from protocol.http import (
    MAX_LIMIT,
    PagingError,
    SepResponse,
    bad_request,
    list_query,
    method_not_allowed,
    page,
    parse_request_body,
)
from protocol.xml import SEP_CONTENT_TYPE, serialize
from protocol.xml.resources.response import DERControlResponse, Response
from tests.protocol.examples import EXAMPLES


def test_sep_response_serializes_with_length(sep_validator):
    response = SepResponse(EXAMPLES["Time"]())
    assert response.status_code == 200
    assert response["Content-Type"] == SEP_CONTENT_TYPE
    assert int(response["Content-Length"]) == len(response.content)
    sep_validator(response.content)


def test_empty_sep_response():
    response = SepResponse(status=201, headers={"Location": "/edev/4"})
    assert response.status_code == 201
    assert response["Content-Length"] == "0"
    assert response["Location"] == "/edev/4"


def test_error_responses():
    response = bad_request("status: 999 is above the maximum 255")
    assert response.status_code == 400
    assert b"above the maximum" in response.content
    response = method_not_allowed(["get", "PUT", "get"])
    assert response.status_code == 405
    assert response["Allow"] == "GET, PUT"


def post(body: bytes, content_type: str):
    return RequestFactory().post("/rsps/1/rsp", data=body, content_type=content_type)


def test_parse_request_body_checks_media_type_then_content():
    body = serialize(EXAMPLES["DERControlResponse"]())
    parsed = parse_request_body(post(body, SEP_CONTENT_TYPE), DERControlResponse)
    assert parsed == EXAMPLES["DERControlResponse"]()
    parsed = parse_request_body(post(body, "application/sep+xml; charset=utf-8"), Response)
    assert parsed.status_code == 400  # a DERControlResponse is not a plain Response
    assert parse_request_body(post(body, "application/xml"), DERControlResponse).status_code == 415
    bad = parse_request_body(post(body.replace(b">2<", b">300<"), SEP_CONTENT_TYPE), None)
    assert bad.status_code == 400
    assert b"status" in bad.content


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, (0, None, 1)),
        ({"s": "5", "l": "10"}, (5, None, 10)),
        ({"l": "100000"}, (0, None, MAX_LIMIT)),
        ({"a": "1763780400", "l": "0"}, (0, 1763780400, 0)),
    ],
)
def test_list_query(params, expected):
    query = list_query(params)
    assert (query.s, query.a, query.l) == expected


@pytest.mark.parametrize("params", [{"s": "-1"}, {"l": "x"}, {"s": "1.5"}, {"l": "99999999999"}])
def test_list_query_refuses_bad_values(params):
    with pytest.raises(PagingError):
        list_query(params)


def test_page_of_a_list():
    items = list(range(10))
    result = page(items, s=2, l=3)
    assert (result.items, result.all, result.results) == ([2, 3, 4], 10, 3)
    result = page(items, s=9, l=5)
    assert (result.items, result.all, result.results) == ([9], 10, 1)
    result = page(items, s=50, l=5)
    assert (result.items, result.all, result.results) == ([], 10, 0)
    assert page(tuple(items), l=2).items == [0, 1]


def test_page_applies_after_time_when_the_list_supports_it():
    times = [100, 200, 300, 400]
    result = page(times, a=250, l=10, after=lambda xs, a: [t for t in xs if t >= a])
    assert (result.items, result.all) == ([300, 400], 2)


def test_page_caps_the_limit():
    result = page(list(range(1000)), l=1000)
    assert (result.results, result.all) == (MAX_LIMIT, 1000)


@pytest.mark.parametrize("kwargs", [{"s": -1}, {"l": -1}, {"s": "1"}, {"l": True}])
def test_page_refuses_bad_arguments(kwargs):
    with pytest.raises(PagingError):
        page([1, 2], **kwargs)


@pytest.mark.django_db
def test_page_of_a_queryset():
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    for i in range(4):
        users.create(username=f"u{i}", email=f"u{i}@x.test")
    result = page(users.order_by("username"), s=1, l=2)
    assert [u.username for u in result.items] == ["u1", "u2"]
    assert (result.all, result.results) == (4, 2)


def test_declared_oversize_body_is_refused_before_reading(settings):
    settings.SEP2_MAX_BODY_BYTES = 100
    request = post(b"x" * 101, SEP_CONTENT_TYPE)
    response = parse_request_body(request, DERControlResponse)
    assert response.status_code == 413
    assert b"100 bytes" in response.content
    assert not hasattr(request, "_body")  # the body was never read
