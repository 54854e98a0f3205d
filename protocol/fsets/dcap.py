"""DeviceCapability (/dcap) and Time (/tm): where a client starts, and the server's clock."""

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from protocol import selectors
from protocol.fsets.base import SepView
from protocol.xml import resources as r
from protocol.xml.resources import time_type

TIME_QUALITY_NTP = 7  # "time obtained from an NTP-synchronised source" (uncertain level)


class DeviceCapabilityView(SepView):
    def get(self, request):
        return self.sep(
            r.DeviceCapability(
                href="/dcap",
                poll_rate=self.poll_rate,
                time_link=r.Link(href="/tm"),
                end_device_list_link=r.ListLink(
                    href="/edev",
                    all=selectors.end_devices_for_client(client=self.client).count(),
                ),
                mirror_usage_point_list_link=r.ListLink(
                    href="/mup",
                    all=selectors.mirror_usage_points_for_client(client=self.client).count(),
                ),
            )
        )


@functools.lru_cache(maxsize=64)
def _dst_bounds(zone: ZoneInfo, year: int) -> tuple[dt.datetime, dt.datetime] | None:
    """The UTC instants this year's daylight saving starts and ends, by hourly scan."""
    moment = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
    start_at = end_at = None
    previous = moment.astimezone(zone).dst() or dt.timedelta(0)
    while moment < end:
        moment += dt.timedelta(hours=1)
        current = moment.astimezone(zone).dst() or dt.timedelta(0)
        if current and not previous:
            start_at = moment
        elif previous and not current:
            end_at = moment
        previous = current
    if start_at is None or end_at is None:
        return None
    return start_at, end_at


def time_resource(*, zone_name: str, now: dt.datetime, poll_rate: int) -> r.Time:
    """2030.5 Time for a zone: tzOffset is standard time, dstOffset applies in [start, end)."""
    zone = ZoneInfo(zone_name)
    local = now.astimezone(zone)
    dst_now = local.dst() or dt.timedelta(0)
    tz_offset = int((local.utcoffset() - dst_now).total_seconds())
    bounds = _dst_bounds(zone, local.year)
    if bounds:
        (start_at, end_at), dst_offset = bounds, 3600
        probe = (start_at + dt.timedelta(hours=1)).astimezone(zone).dst()
        dst_offset = int(probe.total_seconds()) if probe else 3600
    else:
        start_at = end_at = now
        dst_offset = 0
    return r.Time(
        href="/tm",
        poll_rate=poll_rate,
        current_time=time_type(now),
        dst_end_time=time_type(end_at),
        dst_offset=dst_offset,
        dst_start_time=time_type(start_at),
        local_time=time_type(now) + int(local.utcoffset().total_seconds()),
        quality=TIME_QUALITY_NTP,
        tz_offset=tz_offset,
    )


class TimeView(SepView):
    def get(self, request):
        return self.sep(
            time_resource(zone_name=self.utility.timezone, now=self.now, poll_rate=self.poll_rate)
        )
