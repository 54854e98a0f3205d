"""common."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

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
)


@dataclass(kw_only=True)
class Link(SepObject):
    """Link: a reference to a single resource."""

    href: str = attribute("href", ANY_URI, required=True)


@dataclass(kw_only=True)
class ListLink(Link):
    """ListLink: a reference to a list, with its optional size."""

    all: int | None = attribute("all", UINT32)


@dataclass(kw_only=True)
class Resource(SepObject):
    """Resource."""

    href: str | None = attribute("href", ANY_URI)


@dataclass(kw_only=True)
class SubscribableResource(Resource):
    """SubscribableResource."""

    subscribable: int | None = attribute("subscribable", SUBSCRIBABLE)


@dataclass(kw_only=True)
class SepList(Resource):
    """List: `all` is the list's size, `results` how many items this page holds."""

    all: int = attribute("all", UINT32, required=True)
    results: int = attribute("results", UINT32, required=True)


@dataclass(kw_only=True)
class SubscribableList(SubscribableResource):
    """SubscribableList."""

    all: int = attribute("all", UINT32, required=True)
    results: int = attribute("results", UINT32, required=True)


@dataclass(kw_only=True)
class IdentifiedObject(Resource):
    """IdentifiedObject."""

    mrid: str = element("mRID", MRID, required=True)
    description: str | None = element("description", STRING32)
    version: int | None = element("version", UINT16)


@dataclass(kw_only=True)
class SubscribableIdentifiedObject(SubscribableResource):
    """SubscribableIdentifiedObject."""

    mrid: str = element("mRID", MRID, required=True)
    description: str | None = element("description", STRING32)
    version: int | None = element("version", UINT16)


@dataclass(kw_only=True)
class DateTimeInterval(SepObject):
    """DateTimeInterval: `start` (TimeType) and `duration` in seconds."""

    duration: int = element("duration", UINT32, required=True)
    start: int = element("start", TIME, required=True)


def time_type(moment: dt.datetime) -> int:
    """An aware datetime as TimeType: whole seconds since 1970-01-01 UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("TimeType needs an aware datetime")
    return int(moment.timestamp() // 1)


def from_time_type(seconds: int) -> dt.datetime:
    """TimeType as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
