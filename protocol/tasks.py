"""Background jobs, queued by name through protocol.jobs. Thin: load by id, call the
service; retries back off."""

from celery import shared_task

from protocol.jobs import CONFORMANCE_RUN, NOTIFICATION_DELIVER, SEP2_TRUST_WRITE
from protocol.notifications import NotificationFailed, notification_deliver


@shared_task(
    name=NOTIFICATION_DELIVER,
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


@shared_task(name=CONFORMANCE_RUN, ignore_result=True, expires=3600)
def conformance_run_task(run_id: int, tick_s: float = 1.0, max_s: float = 3600.0):
    """Drive a conformance run to its end, one advance per tick (resumable if re-queued)."""
    import time

    from protocol.conformance.runner import run_advance

    deadline = time.monotonic() + max_s
    while not run_advance(run_id=run_id) and time.monotonic() < deadline:
        time.sleep(tick_s)


@shared_task(name=SEP2_TRUST_WRITE, ignore_result=True, expires=3600)
def sep2_trust_write_task():
    """Rewrite nginx's program CA bundle and CRLs and reload it (a CA or a revocation)."""
    from protocol.trust import trust_write

    trust_write()
