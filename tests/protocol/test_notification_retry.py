"""A notification the subscriber did not take is retried through Celery with backoff: soon
at first, never more than a minute apart (a subscriber back after a 5-minute outage hears
within a minute, S-ALL-46), given up after an hour; never resent once it was taken."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from celery.exceptions import Retry

from protocol.models import Subscription
from protocol.notifications import (
    RETRY_FOR_S,
    RETRY_MAX_S,
    notification_retry_delay,
)
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
        result = notification_deliver_task.apply(
            args=(sub.pk, sub.subscribed_resource), retries=done
        )
        assert isinstance(result.result, Retry)
        assert expected <= retries[-1] <= expected * 1.2
    sub.refresh_from_db()
    assert sub.failures == 3


def test_a_delivery_is_given_up_after_the_bound(utility_a, settings, retries):
    settings.SEP2_NOTIFY_ALLOW_PRIVATE = True
    sub = _subscription(utility_a, "http://127.0.0.1:9/closed")
    result = notification_deliver_task.apply(args=(sub.pk, sub.subscribed_resource), retries=500)
    assert result.successful() and retries == []


def test_a_taken_notification_is_not_sent_again(utility_a, subscriber, retries):  # noqa: F811
    uri, received = subscriber
    sub = _subscription(utility_a, uri)
    result = notification_deliver_task.apply(args=(sub.pk, sub.subscribed_resource))
    assert result.successful() and retries == [] and len(received) == 1


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
        notification_deliver_task.apply(args=(sub.pk, sub.subscribed_resource))
    finally:
        server.shutdown()
        server.server_close()
    assert bool(retries) is retried
    sub.refresh_from_db()
    assert sub.failures == 1
