"""Time function set: /tm, the server's clock in the utility's zone."""

import dataclasses
import datetime as dt
import functools
import threading
from dataclasses import dataclass
from typing import cast
from zoneinfo import ZoneInfo

from protocol.xml import serialize
from protocol.xml.resources.common import time_type
from protocol.xml.resources.time import Time

TIME_HREF = "/tm"
# 2030.5 quality 4: "time obtained from a level 3 source" (this host's NTP-synced clock).
TIME_QUALITY = 4


@functools.lru_cache(maxsize=64)
def _dst_transitions(zone: ZoneInfo, year: int) -> tuple[list[dt.datetime], list[dt.datetime]]:
    """The UTC instants daylight saving starts and ends in `year` (hourly scan, cached)."""
    moment = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
    starts, ends = [], []
    previous = moment.astimezone(zone).dst() or dt.timedelta(0)
    while moment < end:
        moment += dt.timedelta(hours=1)
        current = moment.astimezone(zone).dst() or dt.timedelta(0)
        if current and not previous:
            starts.append(moment)
        elif previous and not current:
            ends.append(moment)
        previous = current
    return starts, ends


def dst_period(zone: ZoneInfo, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The current daylight-saving period if `now` is in one, else the next (either
    hemisphere: a period may span the new year). None where the zone keeps no DST."""
    starts, ends = [], []
    for year in (now.year - 1, now.year, now.year + 1):
        s, e = _dst_transitions(zone, year)
        starts += s
        ends += e
    if now.astimezone(zone).dst():
        start = max((s for s in starts if s <= now), default=None)
    else:
        start = min((s for s in starts if s > now), default=None)
    if start is None:
        return None
    end = min((e for e in ends if e > start), default=None)
    return None if end is None else (start, end)


def time_resource(*, zone_name: str, now: dt.datetime, poll_rate: int) -> Time:
    """2030.5 Time for a zone, as the CSIP-AUS reference server gives it.

    tzOffset is standard time; dstOffset is the daylight-saving offset in effect now (0
    outside daylight saving), and dstStartTime/dstEndTime bound the current period, or the
    next one outside it. So localTime = currentTime + tzOffset + dstOffset holds, both for
    a client that applies dstOffset within [dstStartTime, dstEndTime) and for one that adds
    it unconditionally. A zone without daylight saving sends 0 for all three.
    """
    zone = ZoneInfo(zone_name)
    local = now.astimezone(zone)
    utc_offset = cast(dt.timedelta, local.utcoffset())  # an aware datetime always has one
    dst_now = local.dst() or dt.timedelta(0)
    tz_offset = int((utc_offset - dst_now).total_seconds())
    period = dst_period(zone, now)
    if period:
        start_at, end_at = period
    else:
        start_at = end_at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    dst_offset = int(dst_now.total_seconds())
    return Time(
        href=TIME_HREF,
        poll_rate=poll_rate,
        current_time=time_type(now),
        dst_end_time=time_type(end_at),
        dst_offset=dst_offset,
        dst_start_time=time_type(start_at),
        local_time=time_type(now) + tz_offset + dst_offset,
        quality=TIME_QUALITY,
        tz_offset=tz_offset,
    )


# --- the /tm body, rendered per request without building a document ----------------------

_CURRENT = b"<currentTime>0</currentTime>"
_LOCAL = b"<localTime>0</localTime>"


@dataclass(frozen=True)
class _Template:
    """Time's bytes for one zone, poll rate and profile, between two instants where
    nothing but the clock changes: only currentTime and localTime are filled per request."""

    since: float  # Unix time, inclusive
    until: float  # Unix time, exclusive
    head: bytes
    middle: bytes
    tail: bytes
    local_shift: int  # localTime - currentTime (tzOffset + dstOffset)

    def render(self, current: int) -> bytes:
        return b"%s<currentTime>%d</currentTime>%s<localTime>%d</localTime>%s" % (
            self.head,
            current,
            self.middle,
            current + self.local_shift,
            self.tail,
        )


def _constant_span(zone: ZoneInfo, now: dt.datetime) -> tuple[float, float]:
    """The instants around `now` between which dst_period cannot change for a fixed
    daylight-saving state: the nearest DST starts, ends and new years (its years window)."""
    edges = [
        dt.datetime(now.year, 1, 1, tzinfo=now.tzinfo),  # dst_period's years are now's
        dt.datetime(now.year + 1, 1, 1, tzinfo=now.tzinfo),
    ]
    for year in (now.year - 1, now.year, now.year + 1):
        starts, ends = _dst_transitions(zone, year)
        edges += starts + ends
    since = max(e for e in edges if e <= now)
    until = min(e for e in edges if e > now)
    return since.timestamp(), until.timestamp()


_templates: dict[tuple, _Template] = {}
_templates_lock = threading.Lock()


def _template(
    zone: ZoneInfo, now: dt.datetime, poll_rate: int, profile: str, offsets: tuple[int, int]
) -> _Template:
    time_resource_now = time_resource(zone_name=str(zone.key), now=now, poll_rate=poll_rate)
    blank = dataclasses.replace(time_resource_now, current_time=0, local_time=0)
    body = serialize(blank, profile=profile)
    head, rest = body.split(_CURRENT)
    middle, tail = rest.split(_LOCAL)
    since, until = _constant_span(zone, now)
    return _Template(since, until, head, middle, tail, sum(offsets))


def time_body(*, zone_name: str, now: dt.datetime, poll_rate: int, profile: str) -> bytes:
    """serialize(time_resource(...), profile=profile), byte for byte, from a template kept
    per zone, poll rate, profile and offsets in effect (the DST fields change only at the
    zone's transitions; the template is rebuilt outside the span it was built for)."""
    zone = ZoneInfo(zone_name)  # ZoneInfo keeps one instance per key
    local = now.astimezone(zone)
    utc_offset = cast(dt.timedelta, local.utcoffset())
    dst_now = local.dst() or dt.timedelta(0)
    offsets = (int((utc_offset - dst_now).total_seconds()), int(dst_now.total_seconds()))
    key = (zone_name, poll_rate, profile, offsets)
    moment = now.timestamp()
    template = _templates.get(key)
    if template is None or not template.since <= moment < template.until:
        template = _template(zone, now, poll_rate, profile, offsets)
        with _templates_lock:
            if len(_templates) >= 4096:
                _templates.clear()
            _templates[key] = template
    return template.render(time_type(now))
