"""time."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.xml.codec import TIME, TIME_OFFSET, UINT8, UINT32, attribute, element, root_element
from protocol.xml.resources.common import Resource


@root_element()
@dataclass(kw_only=True)
class Time(Resource):
    """Time: all instants are TimeType (seconds since 1970 UTC); offsets in seconds."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    current_time: int = element("currentTime", TIME, required=True)
    dst_end_time: int = element("dstEndTime", TIME, required=True)
    dst_offset: int = element("dstOffset", TIME_OFFSET, required=True)
    dst_start_time: int = element("dstStartTime", TIME, required=True)
    local_time: int | None = element("localTime", TIME)
    quality: int = element("quality", UINT8, required=True)
    tz_offset: int = element("tzOffset", TIME_OFFSET, required=True)
