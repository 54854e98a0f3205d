"""Background jobs, queued by name through protocol.jobs. Thin: load by id, call the
service; retries back off."""

import logging
import secrets

from celery import shared_task

from protocol.jobs import CONFORMANCE_RUN, NOTIFICATION_DELIVER, SEP2_TRUST_WRITE
from protocol.notifications import (
    NotificationFailed,
    notification_deliver,
    notification_retry_delay,
)

logger = logging.getLogger(__name__)


@shared_task(
    bind=True, name=NOTIFICATION_DELIVER, ignore_result=True, max_retries=None, expires=3600
)
def notification_deliver_task(self, subscription_id: int, resource: str):
    """Retried on a failed delivery, with backoff, for a bounded time; never after the
    subscriber took it (the notification then carries the resource as it is now)."""
    try:
        notification_deliver(subscription_id=subscription_id, resource=resource)
    except NotificationFailed as exc:
        delay = notification_retry_delay(self.request.retries)
        if delay is None:
            logger.warning("notification to subscription %s given up: %s", subscription_id, exc)
            return
        delay += secrets.randbelow(delay // 5 + 1)  # jitter: subscribers back at once spread
        raise self.retry(exc=exc, countdown=delay) from exc


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
