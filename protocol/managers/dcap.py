"""DeviceCapability function set: /dcap, where a client starts."""

from protocol.managers.edev import END_DEVICE_LIST_HREF
from protocol.managers.mirror import MIRROR_USAGE_POINT_LIST_HREF
from protocol.managers.time import TIME_HREF
from protocol.xml.resources.common import Link, ListLink
from protocol.xml.resources.dcap import DeviceCapability

DEVICE_CAPABILITY_HREF = "/dcap"


def device_capability(
    *, poll_rate: int, end_devices: int, mirror_usage_points: int
) -> DeviceCapability:
    return DeviceCapability(
        href=DEVICE_CAPABILITY_HREF,
        poll_rate=poll_rate,
        time_link=Link(href=TIME_HREF),
        end_device_list_link=ListLink(href=END_DEVICE_LIST_HREF, all=end_devices),
        mirror_usage_point_list_link=ListLink(
            href=MIRROR_USAGE_POINT_LIST_HREF, all=mirror_usage_points
        ),
    )
