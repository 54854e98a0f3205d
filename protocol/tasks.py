"""Background jobs, queued by name through protocol.jobs. Thin: load by id, call the
service; retries back off."""

import logging

from celery import shared_task

from protocol.jobs import (
    CONFORMANCE_RUN,
    NOTIFICATION_DELIVER,
    NOTIFICATIONS_SWEEP,
    SEP2_TRUST_WRITE,
)
from protocol.notifications import notification_send, notifications_sweep

logger = logging.getLogger(__name__)


@shared_task(
    bind=True, name=NOTIFICATION_DELIVER, ignore_result=True, max_retries=None, expires=3600
)
def notification_deliver_task(self, delivery_id: int):
    """Send the outbox's notification `delivery_id` if this task may (it owns it, or its
    owner's lease ran out); retried on a failed delivery, with backoff, for a bounded time;
    never after the subscriber took it (it then carries the resource as it is now)."""
    delay = notification_send(delivery_id=delivery_id, task_id=self.request.id)
    if delay is not None:
        raise self.retry(countdown=delay)


@shared_task(name=NOTIFICATIONS_SWEEP, ignore_result=True)
def notifications_sweep_task():
    """Beat's: notifications whose task was lost with a killed worker are sent again."""
    counts = notifications_sweep()
    if counts["requeued"] or counts["given_up"]:
        logger.info("notification sweep: %s", counts)


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
