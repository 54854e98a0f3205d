"""A notification the subscriber did not take is retried through Celery with backoff: soon
at first, never more than a minute apart (a subscriber back after a 5-minute outage hears
within a minute, S-ALL-46), given up after an hour; never resent once it was taken. The
attempts are counted on the outbox row (NotificationDelivery), not by Celery."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from celery.exceptions import Retry

from protocol.models import NotificationDelivery, Subscription
from protocol.notifications import (
    RETRY_FOR_S,
    RETRY_MAX_S,
    notification_retry_delay,
)
from protocol.services import notifications_queue
from protocol.tasks import notification_deliver_task
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group
from tests.protocol.test_server_subscriptions import subscriber  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_retries_back_off_to_a_minute_and_stop_after_an_hour():
    # Failed before: Celery's retry_backoff doubled up to 600 s with 6 retries, so a
    # subscriber back after 5 minutes waited up to 5 more (or was never retried again).
    delays = []
    retries = 0
    while (delay := notification_retry_delay(retries)) is not None:
        delays.append(delay)
        retries += 1
    assert delays[:5] == [5, 10, 20, 40, 60]
    assert delays == sorted(delays) and max(delays) == RETRY_MAX_S
    assert RETRY_FOR_S - RETRY_MAX_S < sum(delays) <= RETRY_FOR_S
    assert notification_retry_delay(retries + 5) is None


def _subscription(utility, uri):
    program, _ = program_with_group(utility)
    agg = actor(utility, program=program)
    ed = enrolled_end_device(utility, client=agg.client, program=program)
    return Subscription.objects.create(
        utility=utility, end_device=ed, subscribed_resource=f"/edev/{ed.pk}", notification_uri=uri
    )


def _owed(sub, *, attempts=0):
    """The outbox row a change records for `sub`, `attempts` already made."""
    [delivery] = notifications_queue([(sub.pk, sub.subscribed_resource)])
    NotificationDelivery.objects.filter(pk=delivery.pk).update(attempts=attempts)
    return delivery


def _attempt(delivery):
    """Run its task as the owner the change queued (eagerly, in this process)."""
    return notification_deliver_task.apply(args=(delivery.pk,), task_id=delivery.task_id)


@pytest.fixture
def retries(monkeypatch):
    asked = []

    def retry(*, exc=None, countdown=None, **kw):
        asked.append(countdown)
        raise Retry(exc=exc, when=countdown)

    monkeypatch.setattr(notification_deliver_task, "retry", retry)
    return asked


def test_a_failed_delivery_is_retried_with_the_schedules_delay(utility_a, settings, retries):
    settings.SEP2_NOTIFY_ALLOW_PRIVATE = True
    sub = _subscription(utility_a, "http://127.0.0.1:9/closed")
    for done, expected in ((0, 5), (3, 40), (20, 60)):
        delivery = _owed(sub, attempts=done)
        result = _attempt(delivery)
        assert isinstance(result.result, Retry)
        assert expected <= retries[-1] <= expected * 1.2
        delivery.refresh_from_db()
        assert delivery.attempts == done + 1 and delivery.delivered_at is None
        assert delivery.given_up_at is None
        # Its task keeps it through the wait: the sweep does not send it meanwhile.
        assert delivery.due_at.timestamp() > delivery.created_at.timestamp() + retries[-1]
    sub.refresh_from_db()
    assert sub.failures == 3


def test_a_delivery_is_given_up_after_the_bound(utility_a, settings, retries):
    settings.SEP2_NOTIFY_ALLOW_PRIVATE = True
    sub = _subscription(utility_a, "http://127.0.0.1:9/closed")
    delivery = _owed(sub, attempts=500)
    result = _attempt(delivery)
    assert result.successful() and retries == []
    delivery.refresh_from_db()
    assert delivery.given_up_at is not None and delivery.delivered_at is None
    assert _attempt(delivery).successful() and retries == []  # and never tried again
    delivery.refresh_from_db()
    assert delivery.attempts == 501


def test_a_taken_notification_is_not_sent_again(utility_a, subscriber, retries):  # noqa: F811
    uri, received = subscriber
    sub = _subscription(utility_a, uri)
    delivery = _owed(sub)
    result = _attempt(delivery)
    assert result.successful() and retries == [] and len(received) == 1
    # Its task again (redelivered by the broker), or another (queued by the sweep): nothing.
    _attempt(delivery)
    notification_deliver_task.apply(args=(delivery.pk,))
    assert retries == [] and len(received) == 1
    delivery.refresh_from_db()
    assert delivery.delivered_at is not None and delivery.attempts == 1


@pytest.mark.parametrize(
    ("status", "retried"), [(404, False), (410, False), (500, True), (429, True)]
)
def test_a_subscriber_that_has_no_such_endpoint_is_not_retried(
    utility_a, settings, retries, status, retried
):
    settings.SEP2_NOTIFY_ALLOW_PRIVATE = True

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sub = _subscription(utility_a, f"http://127.0.0.1:{server.server_port}/gone")
        delivery = _owed(sub)
        _attempt(delivery)
    finally:
        server.shutdown()
        server.server_close()
    assert bool(retries) is retried
    sub.refresh_from_db()
    assert sub.failures == 1
    delivery.refresh_from_db()
    assert (delivery.given_up_at is None) is retried and delivery.delivered_at is None
