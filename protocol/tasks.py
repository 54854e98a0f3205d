"""Notification delivery. Thin: load by id, call the service; retries back off."""

from celery import shared_task

from protocol.services import NotificationFailed, notification_deliver


@shared_task(
    name="protocol.notification_deliver",
    ignore_result=True,
    autoretry_for=(NotificationFailed,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
    expires=3600,
)
def notification_deliver_task(subscription_id: int, resource: str):
    notification_deliver(subscription_id=subscription_id, resource=resource)
