"""Response and LogEvent function sets: /rsp and /edev/{e}/lel hrefs, LogEvent resources."""

from protocol.managers.edev import log_event_list_href
from protocol.models import EndDevice, LogEvent
from protocol.xml.resources.common import time_type
from protocol.xml.resources.log import LogEvent as SepLogEvent
from protocol.xml.resources.log import LogEventList

RESPONSE_LIST_HREF = "/rsp"


def response_href(response_pk: int) -> str:
    return f"{RESPONSE_LIST_HREF}/{response_pk}"


def log_event_href(end_device: EndDevice | int, log_event: LogEvent | int) -> str:
    return f"{log_event_list_href(end_device)}/{getattr(log_event, 'pk', log_event)}"


def log_event_resource(log_event: LogEvent) -> SepLogEvent:
    return SepLogEvent(
        href=log_event_href(log_event.end_device_id, log_event),
        created_date_time=time_type(log_event.created_at),
        details=log_event.details or None,
        function_set=log_event.function_set,
        log_event_code=log_event.log_event_code,
        log_event_id=log_event.log_event_id,
        log_event_pen=log_event.log_event_pen,
        profile_id=log_event.profile_id,
    )


def log_event_list(end_device: EndDevice, paged, *, poll_rate: int) -> LogEventList:
    return LogEventList(
        href=log_event_list_href(end_device),
        all=paged.all,
        results=paged.results,
        poll_rate=poll_rate,
        log_events=[log_event_resource(e) for e in paged.items],
    )
