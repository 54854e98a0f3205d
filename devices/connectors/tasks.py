"""Connector jobs. Thin: parse arguments, call a service. All are idempotent."""

from celery import shared_task

from devices.connectors.services import (
    connector_event_apply,
    connector_setpoints_reassert,
    connectors_poll,
)


@shared_task(name="devices.connectors_poll", ignore_result=True)
def connectors_poll_task():
    """Poll the sites that are due (beat every 10 s; each site keeps its own interval)."""
    summary = connectors_poll()
    return summary.polled


@shared_task(
    name="devices.connectors_event",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    max_retries=3,
)
def connectors_event_task(event_id: int):
    """Write (or release) one event's setpoints on its Modbus devices."""
    connector_event_apply(event_id=event_id)


@shared_task(name="devices.connectors_reassert", ignore_result=True)
def connectors_reassert_task():
    """Re-write active setpoints before they revert, and keep 715 heartbeats alive."""
    connector_setpoints_reassert()
