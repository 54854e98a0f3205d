"""The 2030.5 side of domain signals: a changed event notifies DERControlList subscribers,
a changed group default DefaultDERControl subscribers; a changed program, dispatch group or
membership notifies the subscribers of the EndDevice lists and DERPrograms it reshapes;
withdrawn vendor certificates are refused."""

from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from devices.nmi import nmi_checksum
from programs.models import DispatchGroup, DispatchGroupMember, Event, Participant, Program
from programs.selectors import group_devices
from programs.signals import default_control_changed, event_changed, site_envelopes_changed
from protocol.managers.derp import (
    ACTIVE_DER_CONTROL_LIST,
    DER_CONTROL_LIST,
    control_list_href,
    default_der_control_href,
    site_control_list_href,
)
from protocol.managers.edev import END_DEVICE_LIST_HREF
from protocol.managers.pubsub import program_shaped
from protocol.models import Client, EndDevice
from protocol.services import client_revoke, subscriptions_notify, subscriptions_reshaped_notify
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


@receiver(site_envelopes_changed, dispatch_uid="protocol.site_envelopes_changed")
def site_envelopes_changed_notify(sender, program_id, utility_id, connection_point_ids, **kwargs):
    """Envelopes published or cancelled: notify the subscribers of the site DERControlLists
    of the program's EndDevices at those NMIs (as a site reported it: with or without its
    checksum digit). One query for the EndDevices, one for the subscriptions."""
    reported = [*connection_point_ids, *(n + str(nmi_checksum(n)) for n in connection_point_ids)]
    members = Participant.objects.filter(program_id=program_id, left_at__isnull=True)
    hrefs = [
        site_control_list_href(eid, program_id, suffix)
        for eid in EndDevice.objects.for_utility(utility_id)
        .filter(
            device__connection_point_id__in=reported,
            device__in=members.values("device"),
        )
        .values_list("pk", flat=True)
        for suffix in (DER_CONTROL_LIST, ACTIVE_DER_CONTROL_LIST)
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


@receiver(post_save, sender=Program, dispatch_uid="protocol.program_saved")
def program_saved_notify(sender, instance, **kwargs):
    """Poll rates, defaults, primacy: every EndDevice of the program's clients and groups."""
    members = Participant.objects.filter(program=instance, left_at__isnull=True).values("device")
    subscriptions_reshaped_notify(
        utility_id=instance.utility_id,
        end_devices=Q(registered_by__program=instance) | Q(device__in=members),
        wanted=program_shaped,
    )


@receiver(post_save, sender=DispatchGroup, dispatch_uid="protocol.group_saved")
@receiver(post_delete, sender=DispatchGroup, dispatch_uid="protocol.group_deleted")
def group_saved_notify(sender, instance, **kwargs):
    members = Participant.objects.filter(
        program_id=instance.program_id, left_at__isnull=True
    ).values("device")
    subscriptions_reshaped_notify(
        utility_id=instance.utility_id, end_devices=Q(device__in=members), wanted=program_shaped
    )


@receiver(post_save, sender=Participant, dispatch_uid="protocol.participant_saved")
@receiver(post_delete, sender=Participant, dispatch_uid="protocol.participant_deleted")
@receiver(post_save, sender=DispatchGroupMember, dispatch_uid="protocol.member_saved")
@receiver(post_delete, sender=DispatchGroupMember, dispatch_uid="protocol.member_deleted")
def membership_changed_notify(sender, instance, **kwargs):
    subscriptions_reshaped_notify(
        utility_id=instance.utility_id,
        end_devices=Q(device_id=instance.device_id),
        wanted=program_shaped,
    )


@receiver(post_save, sender=EndDevice, dispatch_uid="protocol.end_device_saved")
@receiver(post_delete, sender=EndDevice, dispatch_uid="protocol.end_device_deleted")
def end_device_saved_notify(sender, instance, **kwargs):
    """A registration shows in its client's EndDeviceList."""
    if instance.registered_by_id is None:
        return
    subscriptions_reshaped_notify(
        utility_id=instance.utility_id,
        end_devices=Q(registered_by_id=instance.registered_by_id),
        wanted=lambda resource, _: resource == END_DEVICE_LIST_HREF,
    )
