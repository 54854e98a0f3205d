"""Subscriptions: created per EndDevice; changes notify the subscriber over real HTTP."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from programs.services import event_create
from protocol.managers.derp import der_control_mrid
from protocol.models import NotificationDelivery, Subscription
from protocol.notifications import NotificationFailed, notification_deliver
from protocol.selectors import subscriptions_to
from protocol.services import subscriptions_notify
from protocol.xml import parse, serialize
from protocol.xml.resources.der import DERStatus, StateOfChargeStatus
from protocol.xml.resources.pubsub import Notification, SubscriptionList
from protocol.xml.resources.pubsub import Subscription as SepSubscription
from tests import factories
from tests.protocol.schema import assert_valid_sep
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscriber(settings):
    settings.SEP2_NOTIFY_ALLOW_PRIVATE = True  # the test subscriber listens on loopback
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append((self.headers["Content-Type"], self.rfile.read(length)))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/notify", received
    server.shutdown()
    server.server_close()


def _subscription(href, uri):
    return SepSubscription(
        subscribed_resource=href, encoding=0, level="+S1", limit=1, notification_uri=uri
    )


def test_subscribe_list_delete(utility_a, subscriber):
    uri, _ = subscriber
    program, group = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    derc = f"/edev/{ed.pk}/derp/{group.pk}/derc"
    created = agg.http.post_sep(f"/edev/{ed.pk}/sub", serialize(_subscription(derc, uri)))
    assert created.status_code == 201
    listing = parse(agg.http.get(f"/edev/{ed.pk}/sub?l=5").content, SubscriptionList)
    assert [s.subscribed_resource for s in listing.subscriptions] == [derc]
    # Another EndDevice's resources cannot be subscribed to through this one.
    foreign = agg.http.post_sep(f"/edev/{ed.pk}/sub", serialize(_subscription("/edev/999", uri)))
    assert foreign.status_code == 400
    assert agg.http.delete(created["Location"]).status_code == 204
    assert not Subscription.objects.exists()


def test_event_change_selects_derc_subscribers_and_delivery_reaches_them(
    utility_a, manager_a, subscriber, django_capture_on_commit_callbacks
):
    uri, received = subscriber
    program, group = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    online = factories.device(utility_a, soc_pct=80, last_heard_at=timezone.now())
    ed = enrolled_end_device(utility_a, client=agg.client, program=program, device=online)
    derc = f"/edev/{ed.pk}/derp/{group.pk}/derc"
    agg.http.post_sep(f"/edev/{ed.pk}/sub", serialize(_subscription(derc, uri)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event = event_create(
            program=program,
            group=group,
            kind="discharge",
            start=timezone.now() + timedelta(hours=1),
            duration_s=1800,
            target_w=1000,
            actor=manager_a,
        )
    assert callbacks  # event_changed is sent after commit and queues the notification
    (sub,) = subscriptions_to(utility_id=utility_a.pk, resources=[derc])
    assert notification_deliver(subscription_id=sub.pk, resource=derc) is True
    content_type, body = received[0]
    assert content_type == "application/sep+xml"
    assert_valid_sep(body, "csip")
    notification = parse(body, Notification)
    assert notification.subscribed_resource == derc and notification.status == 0
    # The notification carries the list as this device sees it now.
    (control,) = notification.resource.der_controls
    assert control.mrid == der_control_mrid(ed, event)
    assert control.event_status.current_status == 0
    sub.refresh_from_db()
    assert sub.last_notified_at is not None


def test_failed_delivery_raises_for_retry(utility_a, settings):
    settings.SEP2_NOTIFY_ALLOW_PRIVATE = True
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    sub = Subscription.objects.create(
        utility=utility_a,
        end_device=ed,
        subscribed_resource=f"/edev/{ed.pk}",
        notification_uri="http://127.0.0.1:9/closed",
    )
    with pytest.raises(NotificationFailed):
        notification_deliver(subscription_id=sub.pk, resource=sub.subscribed_resource)
    sub.refresh_from_db()
    assert sub.failures == 1


def test_der_status_notification_carries_the_status(utility_a, subscriber):
    uri, received = subscriber
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    ders = f"/edev/{ed.pk}/der/0/ders"
    agg.http.post_sep(f"/edev/{ed.pk}/sub", serialize(_subscription(ders, uri)))
    now = int(timezone.now().timestamp())
    status = DERStatus(
        reading_time=now, state_of_charge_status=StateOfChargeStatus(date_time=now, value=4200)
    )
    assert agg.http.put_sep(ders, serialize(status)).status_code == 204
    (sub,) = subscriptions_to(utility_id=utility_a.pk, resources=[ders])
    notification_deliver(subscription_id=sub.pk, resource=ders)
    notification = parse(received[0][1], Notification)
    assert notification.resource.href == ders
    assert notification.resource.state_of_charge_status.value == 4200


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:6379/",
        "http://10.1.2.3/n",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/n",
        "ftp://example.com/n",
    ],
)
def test_notifications_never_target_our_own_network(utility_a, uri):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    response = agg.http.post_sep(
        f"/edev/{ed.pk}/sub", serialize(_subscription(f"/edev/{ed.pk}", uri))
    )
    assert response.status_code == 400
    assert not Subscription.objects.exists()
    # A row that got in some other way is not delivered either.
    sub = Subscription.objects.create(
        utility=utility_a, end_device=ed, subscribed_resource=f"/edev/{ed.pk}", notification_uri=uri
    )
    assert notification_deliver(subscription_id=sub.pk, resource=sub.subscribed_resource) is False


def test_a_group_default_change_notifies_default_der_control_subscribers(
    utility_a, manager_a, subscriber, django_capture_on_commit_callbacks, monkeypatch
):
    from programs.services import default_control_clear, default_control_set
    from protocol import receivers
    from protocol.xml.resources.derp import DefaultDERControl

    uri, received = subscriber
    program, group = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    online = factories.device(utility_a, soc_pct=80, last_heard_at=timezone.now())
    ed = enrolled_end_device(utility_a, client=agg.client, program=program, device=online)
    dderc = f"/edev/{ed.pk}/derp/{group.pk}/dderc"
    served = parse(agg.http.get(dderc).content, DefaultDERControl)
    assert served.subscribable == 1
    agg.http.post_sep(f"/edev/{ed.pk}/sub", serialize(_subscription(dderc, uri)))
    notified = []

    def spy(*, utility_id, resources):
        notified.append(resources)
        return []

    monkeypatch.setattr(receivers, "subscriptions_notify", spy)
    with django_capture_on_commit_callbacks(execute=True):
        default_control_set(group=group, actor=manager_a, values={"op_mod_connect": False})
    assert notified == [[dderc]]
    (sub,) = subscriptions_to(utility_id=utility_a.pk, resources=[dderc])
    assert notification_deliver(subscription_id=sub.pk, resource=dderc) is True
    _, body = received[0]
    assert_valid_sep(body, "csip")
    notification = parse(body, Notification)
    assert notification.resource.der_control_base.op_mod_connect is False
    with django_capture_on_commit_callbacks(execute=True):
        default_control_clear(group=group, actor=manager_a)
    assert notified == [[dderc], [dderc]]


def test_a_subscription_made_after_a_put_found_none_is_notified_on_the_next_put(
    utility_a, django_assert_num_queries
):
    """Whether a utility has subscriptions is kept between writes (issue 18: a query on
    every PUT): a subscription written in any way, right after, is honoured at once."""
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    ders = f"/edev/{ed.pk}/der/0/ders"
    status = serialize(DERStatus(reading_time=int(timezone.now().timestamp())))
    assert agg.http.put_sep(ders, status).status_code == 204  # none: that is kept
    with django_assert_num_queries(0):
        assert subscriptions_notify(utility_id=utility_a.pk, resources=[ders]) == []
    sub = Subscription.objects.create(  # not through the service: any write counts
        utility=utility_a, end_device=ed, subscribed_resource=ders, notification_uri="http://x/n"
    )
    assert agg.http.put_sep(ders, status).status_code == 204
    assert NotificationDelivery.objects.filter(subscription=sub, resource=ders).count() == 1
    Subscription.objects.filter(pk=sub.pk).delete()
    assert subscriptions_notify(utility_id=utility_a.pk, resources=[ders]) == []
