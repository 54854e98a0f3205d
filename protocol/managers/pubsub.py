"""Subscription / Notification function set: /edev/{e}/sub hrefs, Subscription resources,
and the Notification a subscriber is sent when a resource it follows changes.

A Notification carries the subscribed resource as the subscribing device sees it now
(DERControlList, DefaultDERControl, the DER's reported resources, DeviceInformation); any
other resource is sent as a bare change notice, and the subscriber GETs it.
"""

import re
from functools import partial

from django.utils import timezone

from protocol import selectors
from protocol.managers.derp import default_der_control, der_control_list, der_control_mrid
from protocol.managers.edev import reported_resource, subscription_list_href
from protocol.models import EndDevice, Subscription
from protocol.xml.resources.der import DERAvailability, DERCapability, DERSettings, DERStatus
from protocol.xml.resources.edev import DeviceInformation
from protocol.xml.resources.pubsub import Notification, SubscriptionList
from protocol.xml.resources.pubsub import Subscription as SepSubscription

# The subscribable resources a Notification carries, read back from their hrefs.
_DERC = re.compile(r"/edev/(\d+)/derp/(\d+)/(derc|actderc)")
_DDERC = re.compile(r"/edev/(\d+)/derp/(\d+)/dderc")
_REPORTED = re.compile(r"/edev/(\d+)/(?:der/0/(dercap|derg|ders|dera)|(di))")
_REPORTED_CLASSES = {
    "dercap": DERCapability,
    "derg": DERSettings,
    "ders": DERStatus,
    "dera": DERAvailability,
    "di": DeviceInformation,
}
# Notification.status 0: the subscribed resource changed (GET it, or read it here).
CHANGED = 0


def subscription_href(end_device: EndDevice | int, subscription: Subscription | int) -> str:
    return f"{subscription_list_href(end_device)}/{getattr(subscription, 'pk', subscription)}"


def subscription_resource(sub: Subscription) -> SepSubscription:
    return SepSubscription(
        href=subscription_href(sub.end_device_id, sub),
        subscribed_resource=sub.subscribed_resource,
        encoding=sub.encoding,
        level=sub.level,
        limit=sub.limit,
        notification_uri=sub.notification_uri,
    )


def subscription_list(end_device: EndDevice, paged, *, poll_rate: int) -> SubscriptionList:
    return SubscriptionList(
        href=subscription_list_href(end_device),
        all=paged.all,
        results=paged.results,
        poll_rate=poll_rate,
        subscriptions=[subscription_resource(s) for s in paged.items],
    )


def _notification_content(*, subscription: Subscription, resource: str):
    """(profile, the resource's current representation), or None content for resources
    sent as a bare change notice."""
    end_device = selectors.end_device_for_subscription(subscription=subscription)
    program = end_device.registered_by.program if end_device.registered_by else None
    profile = "csipaus" if program and program.profile == "csip_aus" else "csip"
    if match := _DERC.fullmatch(resource):
        if int(match[1]) != end_device.pk:
            return profile, None
        group = selectors.end_device_group(end_device=end_device, group_id=int(match[2]))
        if group is None:
            return profile, None
        views = selectors.group_controls(
            end_device=end_device,
            group=group,
            now=timezone.now(),
            mrid_of=partial(der_control_mrid, end_device),
            active_only=match[3] == "actderc",
        )
        shown = views[: max(subscription.limit, 1)]
        return profile, der_control_list(
            end_device, group, shown, total=len(views), suffix=match[3], profile=profile
        )
    if (match := _DDERC.fullmatch(resource)) and int(match[1]) == end_device.pk:
        group = selectors.end_device_group(end_device=end_device, group_id=int(match[2]))
        if group is None:
            return profile, None
        return profile, default_der_control(end_device, group, profile=profile)
    if (match := _REPORTED.fullmatch(resource)) and int(match[1]) == end_device.pk:
        key = match[2] or match[3]
        content = reported_resource(end_device, key, _REPORTED_CLASSES[key], resource, profile)
        if content is not None:
            return profile, content
    return profile, None


def notification(*, subscription: Subscription, resource: str) -> tuple[str, Notification]:
    """(profile, the Notification of a change to `resource`) for one subscription."""
    profile, content = _notification_content(subscription=subscription, resource=resource)
    return profile, Notification(
        subscribed_resource=resource,
        resource=content,
        status=CHANGED,
        subscription_uri=subscription_href(subscription.end_device_id, subscription),
    )
