"""The 2030.5 side of domain signals: a changed event notifies DERControlList subscribers."""

from django.dispatch import receiver

from programs.models import Event
from programs.selectors import group_devices
from programs.signals import event_changed
from protocol.models import EndDevice
from protocol.services import subscriptions_notify


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
        base = f"/edev/{eid}/derp/{event.group_id}"
        hrefs += [f"{base}/derc", f"{base}/actderc"]
    if hrefs:
        subscriptions_notify(utility_id=utility_id, resources=hrefs)
