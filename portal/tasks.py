from celery import shared_task

from portal.services import heartbeat_record


@shared_task(name="system.heartbeat", ignore_result=True)
def system_heartbeat():
    """Record that a worker is consuming the queue (beat records itself on publish)."""
    heartbeat_record(source="worker")


@shared_task(name="portal.live_publish_trailing", ignore_result=True)
def live_publish_trailing(utility_id: int):
    """The trailing edge of the live throttle: publish the latest state once."""
    from django.core.cache import cache

    from portal.live import live_publish_throttled

    cache.delete(f"live:pending:{utility_id}")
    live_publish_throttled(utility_id=utility_id)
