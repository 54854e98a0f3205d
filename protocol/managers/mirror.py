"""Metering mirror function set: /mup hrefs and the MirrorUsagePoint resources."""

from protocol.models import MirrorUsagePoint
from protocol.xml.resources.mirror import MirrorUsagePoint as SepMirrorUsagePoint
from protocol.xml.resources.mirror import MirrorUsagePointList

MIRROR_USAGE_POINT_LIST_HREF = "/mup"


def mup_href(mup: MirrorUsagePoint | int) -> str:
    return f"{MIRROR_USAGE_POINT_LIST_HREF}/{getattr(mup, 'pk', mup)}"


def mup_resource(mup: MirrorUsagePoint, *, post_rate: int | None = None) -> SepMirrorUsagePoint:
    """`post_rate`: the program's; the EndDevice's own (a per-site override) wins."""
    return SepMirrorUsagePoint(
        href=mup_href(mup),
        mrid=mup.mrid,
        description=mup.description or None,
        role_flags=mup.role_flags,
        service_category_kind=mup.service_category_kind,
        status=mup.status,
        device_lfdi=mup.end_device.lfdi,
        post_rate=mup.end_device.post_rate_s or post_rate,
    )


def mup_list(paged, *, poll_rate: int, post_rate: int | None = None) -> MirrorUsagePointList:
    return MirrorUsagePointList(
        href=MIRROR_USAGE_POINT_LIST_HREF,
        all=paged.all,
        results=paged.results,
        poll_rate=poll_rate,
        mirror_usage_points=[mup_resource(m, post_rate=post_rate) for m in paged.items],
    )
