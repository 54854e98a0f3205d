"""The notification outbox: a change records each Notification it owes in the database, so
a task lost with a killed Celery worker loses nothing (the sweep sends it again), and an
atomic claim makes every duplicate, redelivered or late task send nothing: each
notification is taken by its subscriber once (issue 20's Celery fault drill)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from programs.services import event_create
from protocol.models import NotificationDelivery, Subscription
from protocol.notifications import RETRY_FOR_S, RETRY_MAX_S, notifications_sweep
from protocol.services import (
    NOTIFY_KEEP_DONE,
    NOTIFY_LEASE_S,
    notification_claim,
    notification_done,
    notifications_queue,
)
from protocol.tasks import notification_deliver_task, notifications_sweep_task
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group
from tests.protocol.test_server_subscriptions import subscriber  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _subscription(utility, uri="http://127.0.0.1:9/closed"):
    program, _ = program_with_group(utility)
    agg = actor(utility, program=program)
    ed = enrolled_end_device(utility, client=agg.client, program=program)
    return Subscription.objects.create(
        utility=utility,
        end_device=ed,
        subscribed_resource=f"/edev/{ed.pk}",
        notification_uri=uri,
    )


def _overdue(delivery, *, by_s=1):
    """As if its owner's lease ran out `by_s` seconds ago (its task was lost)."""
    NotificationDelivery.objects.filter(pk=delivery.pk).update(
        due_at=timezone.now() - timedelta(seconds=by_s)
    )


def test_a_change_records_its_notifications_with_it(
    utility_a, manager_a, django_capture_on_commit_callbacks
):
    program, group = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    derc = f"/edev/{ed.pk}/derp/{group.pk}/derc"
    sub = Subscription.objects.create(
        utility=utility_a, end_device=ed, subscribed_resource=derc, notification_uri="http://x/n"
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event_create(
            program=program,
            group=group,
            kind="discharge",
            start=timezone.now() + timedelta(hours=1),
            duration_s=1800,
            target_w=1000,
            actor=manager_a,
        )
    (delivery,) = NotificationDelivery.objects.filter(subscription=sub)
    assert delivery.resource == derc and delivery.attempts == 0
    assert delivery.delivered_at is None and delivery.given_up_at is None
    # Its task is queued after commit, under the id that owns the row for a lease.
    assert len(callbacks) >= 2 and delivery.task_id
    lease = (delivery.due_at - delivery.created_at).total_seconds()
    assert lease == NOTIFY_LEASE_S


def test_a_rolled_back_change_owes_nothing(utility_a, django_capture_on_commit_callbacks):
    sub = _subscription(utility_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            notifications_queue([(sub.pk, sub.subscribed_resource)])
            raise RuntimeError("the change failed")
    assert not NotificationDelivery.objects.exists() and callbacks == []


def test_a_notification_is_claimed_by_one_task_at_a_time(utility_a):
    sub = _subscription(utility_a)
    (delivery,) = notifications_queue([(sub.pk, sub.subscribed_resource)])
    # Another task (a duplicate, or the sweep's) cannot take it while its owner may.
    assert notification_claim(delivery_id=delivery.pk, task_id="stranger") is None
    claimed = notification_claim(delivery_id=delivery.pk, task_id=delivery.task_id)
    assert claimed is not None and claimed.attempts == 1
    assert notification_claim(delivery_id=delivery.pk, task_id="stranger") is None
    # The owner's message redelivered after its process died mid-task claims it again.
    again = notification_claim(delivery_id=delivery.pk, task_id=delivery.task_id)
    assert again is not None and again.attempts == 2
    # Once the owner's time is up, one other task takes it over, and the owner is out.
    _overdue(delivery)
    taken = notification_claim(delivery_id=delivery.pk, task_id="successor")
    assert taken is not None and taken.task_id == "successor" and taken.attempts == 3
    assert notification_claim(delivery_id=delivery.pk, task_id=delivery.task_id) is None
    assert notification_claim(delivery_id=delivery.pk, task_id="third") is None
    # Done: nobody, not even its owner, sends it again.
    notification_done(delivery=taken, delivered=True)
    assert notification_claim(delivery_id=delivery.pk, task_id="successor") is None
    _overdue(delivery)
    assert notification_claim(delivery_id=delivery.pk, task_id="fourth") is None


def test_a_claim_of_a_notification_that_is_gone_is_nothing(utility_a):
    sub = _subscription(utility_a)
    (delivery,) = notifications_queue([(sub.pk, sub.subscribed_resource)])
    sub.delete()  # its subscription went: so did what it was owed
    assert notification_claim(delivery_id=delivery.pk, task_id=delivery.task_id) is None
    assert notification_deliver_task.apply(
        args=(delivery.pk,), task_id=delivery.task_id
    ).successful()


def test_the_sweep_sends_a_lost_notification_once(
    utility_a,
    subscriber,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    uri, received = subscriber
    sub = _subscription(utility_a, uri)
    (lost,) = notifications_queue([(sub.pk, sub.subscribed_resource)])
    (on_time,) = notifications_queue([(sub.pk, sub.subscribed_resource)])
    # Within its owner's lease the sweep leaves it alone (its task may still come).
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert notifications_sweep()["requeued"] == 0
    assert callbacks == []
    # The worker holding `lost`'s task was killed: the lease runs out, the sweep hands it on.
    _overdue(lost)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert notifications_sweep()["requeued"] == 1
    assert len(callbacks) == 1
    lost_before = lost.task_id
    lost.refresh_from_db()
    assert lost.task_id != lost_before and lost.due_at > timezone.now()
    # The next sweep, before the new task's lease is up, queues nothing more.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert notifications_sweep()["requeued"] == 0
    assert callbacks == []
    # The new owner sends it; the lost task, restored by the broker an hour later, does not.
    notification_deliver_task.apply(args=(lost.pk,), task_id=lost.task_id)
    notification_deliver_task.apply(args=(lost.pk,), task_id=lost_before)
    notification_deliver_task.apply(args=(on_time.pk,), task_id=on_time.task_id)
    assert len(received) == 2
    lost.refresh_from_db()
    assert lost.delivered_at is not None and lost.attempts == 1
    # Delivered: later sweeps never send it again, even long past its lease.
    _overdue(lost, by_s=600)
    _overdue(on_time, by_s=600)
    assert notifications_sweep()["requeued"] == 0


def test_the_sweep_gives_up_past_the_retry_window_and_forgets_old_done_ones(utility_a):
    sub = _subscription(utility_a)
    stale, fresh, old_done, recent_done = notifications_queue(
        [(sub.pk, sub.subscribed_resource)] * 4
    )
    now = timezone.now()
    NotificationDelivery.objects.filter(pk=stale.pk).update(
        created_at=now - timedelta(seconds=RETRY_FOR_S + RETRY_MAX_S + 1),
        due_at=now - timedelta(seconds=1),
    )
    NotificationDelivery.objects.filter(pk=old_done.pk).update(
        delivered_at=now - NOTIFY_KEEP_DONE - timedelta(seconds=1)
    )
    NotificationDelivery.objects.filter(pk=recent_done.pk).update(given_up_at=now)
    counts = notifications_sweep()
    assert counts == {"requeued": 0, "given_up": 1, "deleted": 1}
    stale.refresh_from_db()
    assert stale.given_up_at is not None and stale.delivered_at is None
    fresh.refresh_from_db()
    assert fresh.given_up_at is None
    assert set(NotificationDelivery.objects.values_list("pk", flat=True)) == {
        stale.pk,
        fresh.pk,
        recent_done.pk,
    }


def test_the_sweep_task_runs_the_sweep(utility_a, django_capture_on_commit_callbacks):
    sub = _subscription(utility_a)
    (delivery,) = notifications_queue([(sub.pk, sub.subscribed_resource)])
    _overdue(delivery)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert notifications_sweep_task.apply().successful()
    assert len(callbacks) == 1
    before = delivery.task_id
    delivery.refresh_from_db()
    assert delivery.task_id != before
