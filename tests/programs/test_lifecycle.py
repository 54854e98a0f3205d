"""The event lifecycle on beat: scheduled → active → completed, cancel, supersede, audit."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_celery_beat.models import PeriodicTask

from programs import services, tasks
from programs.choices import EventStatus
from programs.models import Dispatch, Event, EventTransition, OptOut
from programs.services import EventRuleError, event_create
from programs.signals import event_changed
from tests import factories
from tests.programs.conftest import NOW

pytestmark = pytest.mark.django_db

START = datetime(2026, 7, 2, 22, 0, tzinfo=UTC)  # Thursday 15:00 PDT


@pytest.fixture
def fleet(program, group):
    devices = []
    for soc in (80, 60, 40):
        device = factories.device(
            program.utility,
            soc_pct=soc,
            last_heard_at=NOW,
            max_discharge_w=5000,
            capacity_wh=13500,
        )
        services.participant_add(program=program, device=device, now=NOW)
        devices.append(device)
    return devices


def make_event(program, group, actor, **kw):
    kw.setdefault("kind", "discharge")
    kw.setdefault("start", START)
    kw.setdefault("duration_s", 3600)
    kw.setdefault("target_w", 6000)
    return event_create(program=program, group=group, actor=actor, now=NOW, **kw)


def statuses(event):
    return [(t.from_status, t.to_status, t.actor_label) for t in event.transitions.all()]


def test_create_schedules_one_off_beat_entries_and_audits(program, group, manager, fleet):
    event = make_event(program, group, manager)
    assert event.status == EventStatus.SCHEDULED
    entries = {
        t.name: t for t in PeriodicTask.objects.filter(name__startswith=f"event-{event.pk}-")
    }
    activate, complete = (
        entries[f"event-{event.pk}-activate"],
        entries[f"event-{event.pk}-complete"],
    )
    assert activate.one_off and activate.clocked.clocked_time == START
    assert complete.clocked.clocked_time == START + timedelta(hours=1)
    assert json.loads(activate.args) == [event.pk]
    assert activate.task == "programs.event_activate"
    assert statuses(event) == [
        ("", "draft", manager.username),
        ("draft", "scheduled", manager.username),
    ]


def test_refusal_raises_with_every_reason_and_writes_nothing(program, group, manager):
    with pytest.raises(EventRuleError) as refused:
        make_event(program, group, manager, duration_s=120, start=NOW + timedelta(minutes=5))
    assert {v.rule for v in refused.value.violations} >= {"min_duration", "notice"}
    assert (
        not Event.objects.exists()
        and not PeriodicTask.objects.filter(name__startswith="event-").exists()
    )


def test_emergency_override_is_for_operators_and_is_audited(program, group, manager, operator):
    soon = NOW + timedelta(minutes=10)
    with pytest.raises(PermissionDenied):
        make_event(program, group, manager, start=soon, emergency_override=True)
    event = make_event(
        program,
        group,
        operator,
        start=soon,
        emergency_override=True,
        override_reason="Grid emergency declared",
    )
    assert event.emergency_override
    draft = event.transitions.first()
    assert draft.reason.startswith(
        "Grid emergency declared. Emergency override of: It starts in 10 min"
    )


def test_lifecycle_is_idempotent_when_beat_fires_twice(program, group, manager, fleet):
    event = make_event(program, group, manager)
    before_start = services.event_activate(event_id=event.pk, now=START - timedelta(seconds=1))
    assert before_start.status == EventStatus.SCHEDULED

    services.event_activate(event_id=event.pk, now=START)
    services.event_activate(event_id=event.pk, now=START + timedelta(seconds=2))
    assert Event.objects.get(pk=event.pk).status == EventStatus.ACTIVE
    end = START + timedelta(hours=1)
    services.event_complete(event_id=event.pk, now=end - timedelta(seconds=1))
    assert Event.objects.get(pk=event.pk).status == EventStatus.ACTIVE
    services.event_complete(event_id=event.pk, now=end)
    services.event_complete(event_id=event.pk, now=end + timedelta(seconds=5))
    services.event_activate(event_id=event.pk, now=end + timedelta(seconds=6))
    assert [s[1] for s in statuses(event)] == ["draft", "scheduled", "active", "completed"]


def test_tasks_are_the_services_as_beat_invokes_them(program, group, manager, fleet, settings):
    event = make_event(program, group, manager)
    # The tasks use the real clock: move the event so that it has just started.
    Event.objects.filter(pk=event.pk).update(start=datetime.now(UTC) - timedelta(seconds=5))
    tasks.event_activate(event.pk)
    tasks.event_activate(event.pk)
    assert Event.objects.get(pk=event.pk).status == EventStatus.ACTIVE
    assert EventTransition.objects.filter(event=event, to_status="active").count() == 1


def test_reconciler_catches_what_beat_missed(program, group, manager, fleet):
    event = make_event(program, group, manager)
    late = START + timedelta(hours=2)
    assert services.events_reconcile(now=late) == {"activated": 1, "completed": 0}
    assert services.events_reconcile(now=late) == {"activated": 0, "completed": 0}
    event.refresh_from_db()
    # Activation after the end completes straight away, and says so.
    assert event.status == EventStatus.COMPLETED
    assert event.transitions.last().reason == "Activation arrived after the event's end"


def test_cancel_mid_event_keeps_the_event_and_removes_its_beat_entries(
    program, group, manager, fleet
):
    event = make_event(program, group, manager)
    services.event_activate(event_id=event.pk, now=START)
    services.event_cancel(
        event=event, actor=manager, reason="Load dropped", now=START + timedelta(minutes=10)
    )
    services.event_cancel(
        event=event, actor=manager, reason="again", now=START + timedelta(minutes=11)
    )
    event.refresh_from_db()
    assert event.status == EventStatus.CANCELLED
    assert not PeriodicTask.objects.filter(name__startswith=f"event-{event.pk}-").exists()
    assert [s[1] for s in statuses(event)] == ["draft", "scheduled", "active", "cancelled"]
    # Beat firing the (already removed) completion anyway changes nothing.
    services.event_complete(event_id=event.pk, now=START + timedelta(hours=2))
    assert Event.objects.get(pk=event.pk).status == EventStatus.CANCELLED


def test_a_completed_event_cannot_be_cancelled(program, group, manager, fleet):
    event = make_event(program, group, manager)
    services.event_complete(event_id=event.pk, now=START + timedelta(hours=1))
    with pytest.raises(ValidationError, match="completed event cannot be cancelled"):
        services.event_cancel(event=event, actor=manager, now=START + timedelta(hours=2))


def test_overlapping_event_supersedes_the_older_one(program, group, manager, fleet):
    program.max_events_per_day = None
    program.save()
    first = make_event(program, group, manager)
    second = make_event(program, group, manager, start=START + timedelta(minutes=30))
    first.refresh_from_db()
    assert first.status == EventStatus.SUPERSEDED
    assert first.superseded_by == second
    assert not PeriodicTask.objects.filter(name__startswith=f"event-{first.pk}-").exists()
    # A non-overlapping event leaves the newer one alone.
    third = make_event(program, group, manager, start=START + timedelta(hours=3))
    second.refresh_from_db()
    assert second.status == EventStatus.SCHEDULED and third.status == EventStatus.SCHEDULED


def test_other_groups_do_not_supersede(program, group, manager, fleet):
    program.max_events_per_day = None
    program.save()
    other = factories.dispatch_group(program.utility, prog=program)
    first = make_event(program, group, manager)
    make_event(program, other, manager)
    first.refresh_from_db()
    assert first.status == EventStatus.SCHEDULED


def test_transitions_are_append_only(program, group, manager, fleet):
    event = make_event(program, group, manager)
    transition = event.transitions.first()
    transition.reason = "rewritten"
    with pytest.raises(ValidationError):
        transition.save()
    with pytest.raises(ValidationError):
        transition.delete()


def test_event_changed_is_sent_after_commit(
    program, group, manager, fleet, django_capture_on_commit_callbacks
):
    received = []

    def listener(**kwargs):
        received.append((kwargs["event_id"], kwargs["status"]))

    event_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            event = make_event(program, group, manager)
        assert received == [(event.pk, "scheduled")]
    finally:
        event_changed.disconnect(listener)


def test_dispatch_plan_shares_the_target_and_honours_reserve(program, group, manager, fleet):
    event = make_event(program, group, manager, target_w=6000)
    plan = {d.device_id: d for d in Dispatch.objects.filter(event=event)}
    # Available for 1 h above the 20 % reserve: (80-20)% of 13.5 kWh = 8.1 kWh -> 5000 W cap;
    # (60-20)% -> 5400 Wh -> 5000 W; (40-20)% -> 2700 Wh -> 2700 W. Total 12,700 W.
    committed = sorted(d.committed_w for d in plan.values())
    assert committed == [2700, 5000, 5000]
    # Pro rata: 6000/12700 of each.
    setpoints = sorted(d.setpoint_w for d in plan.values())
    assert setpoints == [
        int(2700 * 6000 / 12700),
        int(5000 * 6000 / 12700),
        int(5000 * 6000 / 12700),
    ]
    assert sum(setpoints) <= 6000


def test_target_selection_calls_only_as_many_devices_as_needed(program, group, manager, fleet):
    event = make_event(program, group, manager, target_w=6000, selection="target")
    # Ranked by availability: 5000 + 5000 covers 6000; the 40 % battery stays home.
    called = Dispatch.objects.filter(event=event)
    assert called.count() == 2
    assert fleet[2].pk not in set(called.values_list("device_id", flat=True))


def test_charge_events_have_negative_setpoints(program, group, manager, fleet):
    event = make_event(program, group, manager, kind="charge", target_w=3000)
    assert all(d.setpoint_w < 0 for d in Dispatch.objects.filter(event=event))
    assert event.signed_target_w == -3000


def test_offline_devices_and_opt_outs_are_left_out(program, group, manager, fleet):
    fleet[0].last_heard_at = NOW - timedelta(hours=3)
    fleet[0].save()
    event = make_event(program, group, manager)
    assert set(Dispatch.objects.filter(event=event).values_list("device_id", flat=True)) == {
        fleet[1].pk,
        fleet[2].pk,
    }
    services.opt_out_record(event=event, device=fleet[1], source=OptOut.Source.PORTAL, now=NOW)
    services.opt_out_record(event=event, device=fleet[1], source=OptOut.Source.PORTAL, now=NOW)
    assert OptOut.objects.filter(event=event).count() == 1
    assert Dispatch.objects.get(event=event, device=fleet[1]).setpoint_w == 0
