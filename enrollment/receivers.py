"""Signal receivers: the devices domain tells us about telemetry (we link and verify); the
programs domain tells us about events (we remind enrolled customers)."""

import logging

from django.dispatch import receiver

from devices.signals import telemetry_ingested
from enrollment import services
from programs.signals import event_changed

logger = logging.getLogger(__name__)


@receiver(telemetry_ingested, dispatch_uid="enrollment")
def telemetry_ingested_verify(sender, *, utility_id, device_ids, source="", **kwargs):
    # The ingest has committed; a failure here must never reach the transport that sent it.
    try:
        services.enrollments_on_telemetry(utility_id=utility_id, device_ids=list(device_ids))
    except Exception:
        logger.exception("enrollment verification after telemetry from %s failed", source)


@receiver(event_changed, dispatch_uid="enrollment-remind")
def event_changed_remind(sender, *, event_id, utility_id, status, **kwargs):
    if status != "scheduled":
        return
    try:
        services.event_notices_queue(utility_id=utility_id, event_id=event_id)
    except Exception:
        logger.exception("event notices for event %s failed", event_id)
