"""Signal receivers: the devices domain tells us about telemetry; we link and verify."""

import logging

from enrollment import services

logger = logging.getLogger(__name__)


def telemetry_ingested_verify(sender, *, utility_id, device_ids, source="", **kwargs):
    # The ingest has committed; a failure here must never reach the transport that sent it.
    try:
        services.enrollments_on_telemetry(utility_id=utility_id, device_ids=list(device_ids))
    except Exception:
        logger.exception("enrollment verification after telemetry from %s failed", source)
