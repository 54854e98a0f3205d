"""LogEvent."""

from __future__ import annotations

from protocol.xml.codec import (
    STRING32,
    TIME,
    UINT8,
    UINT16,
    UINT32,
    element,
    items,
    root_element,
)
from protocol.xml.resources.common import Polled, Resource, SepList


@root_element()
class LogEvent(Resource):
    """LogEvent."""

    created_date_time: int = element("createdDateTime", TIME, required=True)
    details: str | None = element("details", STRING32)
    extended_data: int | None = element("extendedData", UINT32)
    function_set: int = element("functionSet", UINT8, required=True)
    log_event_code: int = element("logEventCode", UINT8, required=True)
    log_event_id: int = element("logEventID", UINT16, required=True)
    log_event_pen: int = element("logEventPEN", UINT32, required=True)
    profile_id: int = element("profileID", UINT8, required=True)


@root_element()
class LogEventList(Polled, SepList):
    """LogEventList."""

    log_events: list[LogEvent] = items(LogEvent)
