"""The site's URLs plus `/bench-static`: a fixed sep+xml body, no identity, no database."""

from django.urls import include, path

from protocol.http import SepResponse
from protocol.xml.resources.time import Time

STATIC_BODY = Time(
    href="/tm",
    current_time=1_763_780_400,
    dst_end_time=0,
    dst_offset=0,
    dst_start_time=0,
    quality=7,
    tz_offset=0,
)


def static_view(request):
    return SepResponse(STATIC_BODY)


urlpatterns = [
    path("bench-static", static_view),
    path("", include("portal.urls")),
]
