# ruff: noqa: RUF009 -- element()/attribute() return dataclasses.field specifiers, not defaults
"""log."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.xml.codec import (
    STRING32,
    TIME,
    UINT8,
    UINT16,
    UINT32,
    attribute,
    element,
    root_element,
)
from protocol.xml.resources.common import Resource, SepList


@root_element()
@dataclass(kw_only=True)
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
@dataclass(kw_only=True)
class LogEventList(SepList):
    """LogEventList."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    log_events: list[LogEvent] = element("LogEvent", LogEvent, many=True)
