"""The types every function set builds on: links, resources, lists, identity and TimeType.

A "Subscribable" variant is its base plus the SubscribableResource attribute; it lists both
bases, and the dataclass field order (the last base's fields first) keeps the XSD order.
"""

from __future__ import annotations

import datetime as dt

from protocol.xml.codec import (
    ANY_URI,
    MRID,
    STRING32,
    SUBSCRIBABLE,
    TIME,
    UINT16,
    UINT32,
    SepObject,
    attribute,
    element,
    root_element,
)


class Link(SepObject):
    """Link: a reference to a single resource."""

    href: str = attribute("href", ANY_URI, required=True)


class ListLink(Link):
    """ListLink: a reference to a list, with its optional size."""

    all: int | None = attribute("all", UINT32)


class Resource(SepObject):
    """Resource."""

    href: str | None = attribute("href", ANY_URI)


class SubscribableResource(Resource):
    """SubscribableResource."""

    subscribable: int | None = attribute("subscribable", SUBSCRIBABLE)


class Polled(SepObject):
    """The pollRate attribute (seconds) of the resources a client polls; listed first in bases."""

    poll_rate: int | None = attribute("pollRate", UINT32)


class SepList(Resource):
    """List: `all` is the list's size, `results` how many items this page holds.

    Both are required on a response to a GET and ignored otherwise (sep.xsd), so a list a
    client POSTs (MirrorMeterReadingList) may leave them out; serialize still demands them.
    """

    all: int | None = attribute("all", UINT32, served=True)
    results: int | None = attribute("results", UINT32, served=True)


class SubscribableList(SepList, SubscribableResource):
    """SubscribableList."""


class IdentifiedObject(Resource):
    """IdentifiedObject."""

    mrid: str = element("mRID", MRID, required=True)
    description: str | None = element("description", STRING32)
    version: int | None = element("version", UINT16)


class SubscribableIdentifiedObject(IdentifiedObject, SubscribableResource):
    """SubscribableIdentifiedObject."""


class DateTimeInterval(SepObject):
    """DateTimeInterval: `start` (TimeType) and `duration` in seconds."""

    duration: int = element("duration", UINT32, required=True)
    start: int = element("start", TIME, required=True)


@root_element()
class Error(SepObject):
    """Error: why a request was refused. reasonCode 0 invalid request format, 1 invalid
    request values, 2 resource limit reached, 3 conditional subscription field not supported,
    4 maximum request frequency exceeded; maxRetryDuration in seconds."""

    max_retry_duration: int | None = element("maxRetryDuration", UINT16)
    reason_code: int = element("reasonCode", UINT16, required=True)


def time_type(moment: dt.datetime) -> int:
    """An aware datetime as TimeType: whole seconds since 1970-01-01 UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("TimeType needs an aware datetime")
    return int(moment.timestamp() // 1)


def from_time_type(seconds: int) -> dt.datetime:
    """TimeType as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
