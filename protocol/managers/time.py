"""Time function set: /tm, the server's clock in the utility's zone."""

import datetime as dt
import functools
from typing import cast
from zoneinfo import ZoneInfo

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
