from celery import shared_task

from portal.services import heartbeat_record


@shared_task(name="system.heartbeat", ignore_result=True)
def system_heartbeat():
    """Record that a worker is consuming the queue (beat records itself on publish)."""
    heartbeat_record(source="worker")
