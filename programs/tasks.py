"""Beat-driven event lifecycle. Tasks are thin: ids in, a service call, idempotent."""

from celery import shared_task

from programs import services


@shared_task(name="programs.event_activate", ignore_result=True)
def event_activate(event_id: int):
    services.event_activate(event_id=event_id, actor_label="beat")


@shared_task(name="programs.event_complete", ignore_result=True)
def event_complete(event_id: int):
    services.event_complete(event_id=event_id, actor_label="beat")


@shared_task(name="programs.events_reconcile", ignore_result=True, expires=60)
def events_reconcile():
    services.events_reconcile()
