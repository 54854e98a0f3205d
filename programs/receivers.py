"""Programs' side of domain signals: a device heard from joins the plans of scheduled events."""

from django.dispatch import receiver

from devices.signals import telemetry_ingested
from programs.services import event_plans_extend


@receiver(telemetry_ingested, dispatch_uid="programs.event_plans_extend")
def telemetry_ingested_extend_plans(sender, utility_id, device_ids, **kwargs):
    event_plans_extend(utility_id=utility_id, device_ids=list(device_ids))
