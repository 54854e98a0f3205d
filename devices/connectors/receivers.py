"""Where the connector listens to programs: event status changes become setpoint jobs."""

from django.db import transaction
from django.dispatch import receiver

from devices.models import ConnectorSite
from programs.choices import FINAL_STATUSES, EventStatus
from programs.models import Event
from programs.signals import event_changed

CONTROL_STATUSES = {EventStatus.ACTIVE, *FINAL_STATUSES}


@receiver(event_changed, sender=Event, dispatch_uid="connectors.event_changed")
def queue_event_setpoints(sender, *, event_id, utility_id, status, **kwargs):
    """Queue the setpoint (or release) job when an event starts or ends at a utility with sites."""
    if status not in CONTROL_STATUSES:
        return
    if not ConnectorSite.objects.filter(utility_id=utility_id, enabled=True).exists():
        return
    from devices.connectors.tasks import connectors_event_task

    transaction.on_commit(lambda: connectors_event_task.delay(event_id))
