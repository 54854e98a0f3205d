from celery import shared_task

from portal.services import heartbeat_record


@shared_task(name="system.heartbeat", ignore_result=True)
def system_heartbeat():
    """Record that a worker is consuming the queue (beat records itself on publish)."""
    heartbeat_record(source="worker")


@shared_task(name="portal.alerts_evaluate", ignore_result=True, expires=60)
def alerts_evaluate():
    from portal.alerts import alerts_evaluate as evaluate

    evaluate()


@shared_task(
    name="portal.alert_email",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def alert_email(alert_id: int):
    from portal.alerts import alert_email_send

    alert_email_send(alert_id=alert_id)


@shared_task(name="portal.event_notice", ignore_result=True, expires=24 * 3600)
def event_notice(notice_id: int):
    """Email one customer about a scheduled event (queued by name from enrollment)."""
    from portal.notices import event_notice_send

    event_notice_send(notice_id=notice_id)
