"""Thin tasks: ids in, one service call. Re-running is harmless (reconciliation is idempotent)."""

from celery import shared_task

from programs.models import Event
from settlement import services

RECONCILE_TASK = "settlement.event_reconcile"


@shared_task(
    name=RECONCILE_TASK,
    ignore_result=True,
    expires=24 * 3600,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def event_reconcile(event_id: int):
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return
    services.event_reconcile(event=event)
