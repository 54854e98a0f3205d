"""Delivering Notifications to subscribers: the body of the notification job.

A change records each Notification it owes in the outbox (NotificationDelivery, in the
change's own transaction) and queues a task that owns it. `notification_send` claims it
atomically, so a duplicate or late task sends nothing, and records the outcome: each
notification is taken by its subscriber once. The pub/sub manager renders the
Notification; `notification_deliver` POSTs it to the subscriber's notificationURI. A
failed POST is retried on `notification_retry_delay`'s schedule: backing off from 5 s to
at most a minute, so a subscriber that comes back hears within a minute, and given up an
hour after the change (the subscriber then finds the change at its next poll). An answer
that waiting cannot change (404, 410, 403, …) is not retried.

A task lost with its worker (a whole worker killed loses what its consumer had taken off
the broker, until the broker's visibility timeout, an hour on Redis) loses nothing:
`notifications_sweep`, run by beat every 10 s (settings.CELERY_BEAT_SCHEDULE), gives a
notification whose owner's lease (NOTIFY_LEASE_S) ran out to a new task.
"""

import logging
import secrets
import urllib.error
import urllib.request
from datetime import timedelta

from protocol.managers.pubsub import notification
from protocol.models import Subscription
from protocol.services import (
    notification_claim,
    notification_done,
    notification_retry_at,
    notification_target_allowed,
    notifications_overdue_requeue,
    subscription_delivery_record,
    subscription_failure_record,
)
from protocol.xml import SEP_CONTENT_TYPE, serialize

logger = logging.getLogger(__name__)

NOTIFY_TIMEOUT_S = 10
RETRY_FIRST_S = 5
RETRY_MAX_S = 60
RETRY_FOR_S = 3600
# A subscriber's answer that retrying cannot change (408 and 429 ask for a retry; 5xx retry).
GIVEN_UP_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 413, 415})


def notification_retry_delay(retries: int) -> int | None:
    """Seconds to wait before the retry that follows `retries` earlier retries: doubling
    from RETRY_FIRST_S, capped at RETRY_MAX_S; None once the waits would pass RETRY_FOR_S."""
    waited = 0
    for attempt in range(retries + 1):
        delay = min(RETRY_FIRST_S * 2**attempt, RETRY_MAX_S)
        waited += delay
        if waited > RETRY_FOR_S:
            return None
    return delay


class NotificationFailed(Exception):
    """The subscriber did not accept the notification (the task retries)."""


def notification_deliver(*, subscription_id: int, resource: str) -> bool:
    """POST a Notification (status 0: the resource changed; GET it) to the subscriber.

    Returns False when the subscription is gone; raises NotificationFailed to be retried.
    """
    subscription = (
        Subscription.objects.filter(pk=subscription_id).select_related("end_device").first()
    )
    if subscription is None:
        return False
    if not notification_target_allowed(subscription.notification_uri):
        logger.warning("notification to %s refused: not a public address", subscription.pk)
        return False
    profile, message = notification(subscription=subscription, resource=resource)
    body = serialize(message, profile=profile)
    request = urllib.request.Request(  # noqa: S310 -- the URI is checked to be http(s)
        subscription.notification_uri,
        data=body,
        method="POST",
        headers={"Content-Type": SEP_CONTENT_TYPE},
    )
    try:
        with urllib.request.urlopen(request, timeout=NOTIFY_TIMEOUT_S) as response:  # noqa: S310
            ok = 200 <= response.status < 300
    except urllib.error.HTTPError as exc:
        subscription_failure_record(subscription=subscription)
        if exc.code in GIVEN_UP_STATUSES:  # no such endpoint, or never ours: waiting won't help
            logger.warning("notification to %s refused by the subscriber: %s", subscription.pk, exc)
            return False
        raise NotificationFailed(str(exc)) from exc
    except (urllib.error.URLError, OSError) as exc:
        subscription_failure_record(subscription=subscription)
        raise NotificationFailed(str(exc)) from exc
    if not ok:
        raise NotificationFailed(f"subscriber answered {response.status}")
    subscription_delivery_record(subscription=subscription)
    return True


def notification_send(*, delivery_id: int, task_id: str) -> int | None:
    """One attempt, by task `task_id`, at the outbox's notification `delivery_id`: claimed
    first (nothing is sent when it is done or another task's), then POSTed and its outcome
    recorded. Returns the seconds after which this task should try again, or None."""
    delivery = notification_claim(delivery_id=delivery_id, task_id=task_id)
    if delivery is None:
        return None
    try:
        delivered = notification_deliver(
            subscription_id=delivery.subscription_id, resource=delivery.resource
        )
    except NotificationFailed as exc:
        delay = notification_retry_delay(delivery.attempts - 1)
        if delay is None:
            logger.warning("notification %s given up: %s", delivery.pk, exc)
            notification_done(delivery=delivery, delivered=False)
            return None
        delay += secrets.randbelow(delay // 5 + 1)  # jitter: subscribers back at once spread
        notification_retry_at(delivery=delivery, delay_s=delay)
        return delay
    notification_done(delivery=delivery, delivered=delivered)
    return None


def notifications_sweep() -> dict[str, int]:
    """Send again each notification whose task was lost (or is late past its lease); give
    up those older than the retry schedule allows."""
    return notifications_overdue_requeue(give_up_after=timedelta(seconds=RETRY_FOR_S + RETRY_MAX_S))
