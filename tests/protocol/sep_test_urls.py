"""URLs that exist only for the SepClient tests."""

from django.http import HttpResponse
from django.urls import path

from protocol.http import SepResponse, parse_request_body
from protocol.transport import client_identity_from_request
from protocol.xml import SEP_CONTENT_TYPE
from protocol.xml.resources.response import DERControlResponse
from protocol.xml.resources.time import Time


def time_view(request):
    identity = client_identity_from_request(request)
    if identity is None:
        return HttpResponse(status=403)
    return SepResponse(
        Time(
            href="/tm",
            current_time=1_763_780_400,
            dst_end_time=0,
            dst_offset=0,
            dst_start_time=0,
            quality=7,
            tz_offset=0,
        )
    )


def broken_view(request):
    return HttpResponse(
        b'<Time xmlns="urn:ieee:std:2030.5:ns"><quality>7</quality></Time>',
        content_type=SEP_CONTENT_TYPE,
    )


def response_view(request):
    parsed = parse_request_body(request, DERControlResponse)
    if isinstance(parsed, HttpResponse):
        return parsed
    return SepResponse(status=201, headers={"Location": "/rsps/1/rsp/1"})


urlpatterns = [
    path("tm", time_view),
    path("broken", broken_view),
    path("rsp", response_view),
]
