"""Enrollment notices. Tasks are thin: ids in, load, send."""

from celery import shared_task

from enrollment import notifications, services


@shared_task(name="enrollment.notify", ignore_result=True, expires=24 * 3600)
def enrollment_notify(enrollment_id: int, kind: str, context: dict | None = None):
    notifications.enrollment_email_send(enrollment_id=enrollment_id, kind=kind, **(context or {}))


@shared_task(name="enrollment.drafts_prune", ignore_result=True, expires=3600)
def enrollment_drafts_prune():
    services.enrollment_drafts_prune()
