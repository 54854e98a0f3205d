"""The 2030.5 side of domain signals: a changed event notifies DERControlList subscribers,
a changed group default DefaultDERControl subscribers; withdrawn vendor certificates are
refused."""

from django.dispatch import receiver

from programs.models import DispatchGroup, Event
from programs.selectors import group_devices
from programs.signals import default_control_changed, event_changed
from protocol.managers.derp import (
    ACTIVE_DER_CONTROL_LIST,
    DER_CONTROL_LIST,
    control_list_href,
    default_der_control_href,
)
from protocol.models import Client, EndDevice
from protocol.services import client_revoke, subscriptions_notify
from vendors.signals import certificates_revoked


@receiver(event_changed, dispatch_uid="protocol.event_changed")
def event_changed_notify(sender, event_id, utility_id, **kwargs):
    event = (
        Event.objects.for_utility(utility_id).select_related("group").filter(pk=event_id).first()
    )
    if event is None:
        return
    devices = group_devices(group=event.group).values("pk")
    hrefs = []
    for eid in (
        EndDevice.objects.for_utility(utility_id)
        .filter(device__in=devices)
        .values_list("pk", flat=True)
    ):
        hrefs += [
            control_list_href(eid, event.group_id, DER_CONTROL_LIST),
            control_list_href(eid, event.group_id, ACTIVE_DER_CONTROL_LIST),
        ]
    if hrefs:
        subscriptions_notify(utility_id=utility_id, resources=hrefs)


@receiver(default_control_changed, dispatch_uid="protocol.default_control_changed")
def default_control_changed_notify(sender, group_id, utility_id, **kwargs):
    """The group's DefaultDERControl changed: notify each of its devices' subscribers."""
    group = DispatchGroup.objects.for_utility(utility_id).filter(pk=group_id).first()
    if group is None:
        return
    hrefs = [
        default_der_control_href(eid, group_id)
        for eid in EndDevice.objects.for_utility(utility_id)
        .filter(device__in=group_devices(group=group).values("pk"))
        .values_list("pk", flat=True)
    ]
    if hrefs:
        subscriptions_notify(utility_id=utility_id, resources=hrefs)


@receiver(certificates_revoked, dispatch_uid="protocol.certificates_revoked")
def certificates_revoked_refuse(sender, certificates, now=None, **kwargs):
    """Vendor certificates withdrawn in the domain: refuse their clients from now on."""
    for utility_id, lfdi in certificates:
        client = Client.objects.for_utility(utility_id).filter(lfdi=lfdi, revoked=False).first()
        if client is not None:
            client_revoke(client=client, now=now)
        # Stopped runs record nothing more.
        Client.objects.for_utility(utility_id).filter(lfdi=lfdi).update(recording_run_id=None)
