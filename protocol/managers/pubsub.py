"""Subscription / Notification function set: /edev/{e}/sub hrefs, Subscription resources,
and the Notification a subscriber is sent when a resource it follows changes.

A Notification carries the subscribed resource as the subscribing device's client sees it
now: the EndDeviceList, the device's FunctionSetAssignmentsList, DERProgramList, a
DERProgram's DERControlList and DefaultDERControl, the DER's reported resources and
DeviceInformation. Any other resource (a site program's DERControlList among them) is sent
as a bare change notice, and the subscriber GETs it.
"""

import re
from functools import partial

from django.utils import timezone

from protocol import selectors
from protocol.http import page
from protocol.managers.derp import (
    default_der_control,
    der_control_list,
    der_control_mrid,
    derp_list,
    program_entries,
)
from protocol.managers.edev import (
    END_DEVICE_LIST_HREF,
    end_device_list,
    fsa_list,
    fsa_resources,
    reported_resource,
    subscription_list_href,
)
from protocol.models import EndDevice, Subscription
from protocol.xml.resources.der import DERAvailability, DERCapability, DERSettings, DERStatus
from protocol.xml.resources.edev import DeviceInformation
from protocol.xml.resources.pubsub import Notification, SubscriptionList
from protocol.xml.resources.pubsub import Subscription as SepSubscription

# The subscribable resources a Notification carries, read back from their hrefs.
_DERC = re.compile(r"/edev/(\d+)/derp/(\d+)/(derc|actderc)")
_REPORTED = re.compile(r"/edev/(\d+)/(?:der/0/(dercap|derg|ders|dera)|(di))")
_FSA_LIST = re.compile(r"/edev/(\d+)/fsa")
_DERP_LIST = re.compile(r"/edev/(\d+)/derp")
_FSA_DERP_LIST = re.compile(r"/edev/(\d+)/fsa/(\d+)/derp")
_DEFAULT_CONTROL = re.compile(r"/edev/(\d+)/derp/(\d+)/dderc")
DEFAULT_POLL_RATE_S = 300  # a client with no program (protocol.fsets.base's default)
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
    client = selectors.end_device_client(end_device=end_device)
    program = client.program if client else None
    profile = "csipaus" if program and program.profile == "csip_aus" else "csip"

    def poll_rate(name: str) -> int:
        return program.poll_rate_for(name) if program else DEFAULT_POLL_RATE_S

    limit = max(subscription.limit, 1)
    if resource == END_DEVICE_LIST_HREF:
        if client is None:
            return profile, None
        items = selectors.end_devices_for_client(client=client).order_by("pk")
        return profile, end_device_list(
            page(items, l=limit), poll_rate=poll_rate("edev_list"), profile=profile
        )
    if (match := _FSA_LIST.fullmatch(resource)) and int(match[1]) == end_device.pk:
        groups = selectors.end_device_groups(end_device=end_device)
        paged = page(fsa_resources(end_device, groups, profile=profile), l=limit)
        return profile, fsa_list(end_device, paged, poll_rate=poll_rate("fsa_list"))
    if (match := _DERP_LIST.fullmatch(resource)) and int(match[1]) == end_device.pk:
        groups = selectors.end_device_groups(end_device=end_device)
        entries = program_entries(end_device, groups, profile=profile)
        return profile, derp_list(
            end_device, page(entries, l=limit), poll_rate=poll_rate("derp_list")
        )
    if (match := _FSA_DERP_LIST.fullmatch(resource)) and int(match[1]) == end_device.pk:
        groups = selectors.end_device_groups(end_device=end_device)
        mine = program_entries(end_device, groups, profile=profile, program_id=int(match[2]))
        return profile, derp_list(
            end_device, page(mine, l=limit), poll_rate=poll_rate("derp_list"), href=resource
        )
    if (match := _DEFAULT_CONTROL.fullmatch(resource)) and int(match[1]) == end_device.pk:
        group = selectors.end_device_group(end_device=end_device, group_id=int(match[2]))
        if group is None:
            return profile, None
        return profile, default_der_control(end_device, group, profile=profile)
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
        shown = views[:limit]
        return profile, der_control_list(
            end_device, group, shown, total=len(views), suffix=match[3], profile=profile
        )
    if (match := _REPORTED.fullmatch(resource)) and int(match[1]) == end_device.pk:
        key = match[2] or match[3]
        content = reported_resource(end_device, key, _REPORTED_CLASSES[key], resource, profile)
        if content is not None:
            return profile, content
    return profile, None


def program_shaped(resource: str, end_device_id: int) -> bool:
    """Whether a program or membership change can change `resource` as this EndDevice's
    client sees it: the EndDeviceList (poll rate), its FunctionSetAssignmentsList and
    DERProgramList, and a DERProgram's DefaultDERControl."""
    if resource == END_DEVICE_LIST_HREF:
        return True
    for pattern in (_FSA_LIST, _DERP_LIST, _FSA_DERP_LIST, _DEFAULT_CONTROL):
        if (match := pattern.fullmatch(resource)) and int(match[1]) == end_device_id:
            return True
    return False


def notification(*, subscription: Subscription, resource: str) -> tuple[str, Notification]:
    """(profile, the Notification of a change to `resource`) for one subscription."""
    profile, content = _notification_content(subscription=subscription, resource=resource)
    return profile, Notification(
        subscribed_resource=resource,
        resource=content,
        status=CHANGED,
        subscription_uri=subscription_href(subscription.end_device_id, subscription),
    )
