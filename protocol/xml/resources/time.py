"""Time (/tm): the server's clock and the client's local-time rules."""

from __future__ import annotations

from protocol.xml.codec import (
    TIME,
    TIME_OFFSET,
    UINT8,
    element,
    root_element,
)
from protocol.xml.resources.common import Polled, Resource


@root_element()
class Time(Polled, Resource):
    """Time: all instants are TimeType (seconds since 1970 UTC); offsets in seconds."""

    current_time: int = element("currentTime", TIME, required=True)
    dst_end_time: int = element("dstEndTime", TIME, required=True)
    dst_offset: int = element("dstOffset", TIME_OFFSET, required=True)
    dst_start_time: int = element("dstStartTime", TIME, required=True)
    local_time: int | None = element("localTime", TIME)
    quality: int = element("quality", UINT8, required=True)
    tz_offset: int = element("tzOffset", TIME_OFFSET, required=True)
