"""A device heard from before a scheduled event starts joins its plan; a report from devices
already planned costs one query (issue 18: three, most of a PUT DERStatus, before)."""

from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone

from devices.models import Device
from programs.models import Dispatch, Event, Participant
from programs.selectors import events_plans_may_take
from programs.services import event_create, event_plans_extend, opt_out_record
from tests import factories

pytestmark = pytest.mark.django_db


def _online(utility, **fields):
    return factories.device(utility, soc_pct=80, last_heard_at=timezone.now(), **fields)


def _world(utility, manager, n=3, **event_fields):
    program = factories.program(utility, max_events_per_day=None)
    group = factories.dispatch_group(utility, prog=program)
    devices = [_online(utility) for _ in range(n)]
    for device in devices:
        Participant.objects.create(
            utility=utility, program=program, device=device, joined_at=timezone.now()
        )
    fields = {"kind": "discharge", "duration_s": 1800, "target_w": None}
    fields.update(setpoint_rule="per_device", per_device_w=1000)
    fields.update(event_fields)
    event = event_create(
        program=program,
        group=group,
        start=timezone.now() + timedelta(hours=1),
        actor=manager,
        **fields,
    )
    return program, group, devices, event


def _join(utility, program, **fields):
    device = _online(utility, **fields)
    Participant.objects.create(
        utility=utility, program=program, device=device, joined_at=timezone.now()
    )
    return device


def test_a_report_from_planned_devices_costs_one_query(
    utility_a, manager_a, django_assert_max_num_queries
):
    _, _, devices, event = _world(utility_a, manager_a)
    assert Dispatch.objects.filter(event=event).count() == len(devices)
    with django_assert_max_num_queries(1):
        assert event_plans_extend(utility_id=utility_a.pk, device_ids=[d.pk for d in devices]) == []


def test_a_device_not_yet_planned_joins(utility_a, manager_a):
    program, _, devices, event = _world(utility_a, manager_a)
    late = _join(utility_a, program)
    ids = [late.pk, devices[0].pk]
    assert event_plans_extend(utility_id=utility_a.pk, device_ids=ids) == [event.pk]
    assert Dispatch.objects.get(event=event, device=late).setpoint_w == 1000
    # Planned now: the next report changes nothing and costs one query.
    assert event_plans_extend(utility_id=utility_a.pk, device_ids=ids) == []


def test_an_opted_out_device_or_a_left_participant_does_not_rejoin(
    utility_a, manager_a, django_assert_max_num_queries
):
    program, _, _, event = _world(utility_a, manager_a)
    late = _join(utility_a, program)
    opt_out_record(event=event, device=late, source="operator")
    gone = _join(utility_a, program)
    Participant.objects.filter(device=gone).update(left_at=timezone.now())
    with django_assert_max_num_queries(1):
        assert event_plans_extend(utility_id=utility_a.pk, device_ids=[late.pk, gone.pk]) == []
    assert not Dispatch.objects.filter(event=event, device__in=[late, gone]).exists()


def test_a_target_plan_that_meets_its_target_takes_nobody_new(
    utility_a, manager_a, django_assert_max_num_queries
):
    program, _, _, event = _world(
        utility_a, manager_a, selection="target", target_w=5000, setpoint_rule="pro_rata"
    )
    planned = sum(Dispatch.objects.filter(event=event).values_list("committed_w", flat=True))
    assert planned >= 5000
    late = _join(utility_a, program)
    with django_assert_max_num_queries(1):
        assert event_plans_extend(utility_id=utility_a.pk, device_ids=[late.pk]) == []


def test_another_utility_s_event_is_never_extended(utility_a, utility_b, manager_a):
    program, _, _, event = _world(utility_a, manager_a)
    late = _join(utility_a, program)
    assert event_plans_extend(utility_id=utility_b.pk, device_ids=[late.pk]) == []
    assert not Dispatch.objects.filter(event=event, device=late).exists()


def test_an_event_scheduled_after_a_report_found_none_takes_the_next_report(
    utility_a, manager_a, django_assert_num_queries
):
    """That a utility has no event still to start is kept between reports (issue 18: a
    query on every one): an event written in any way, right after, is honoured at once."""
    program = factories.program(utility_a, max_events_per_day=None)
    group = factories.dispatch_group(utility_a, prog=program)
    device = _join(utility_a, program)
    Device.objects.filter(pk=device.pk).update(last_heard_at=None)  # offline: left out
    assert event_plans_extend(utility_id=utility_a.pk, device_ids=[device.pk]) == []
    with django_assert_num_queries(0):  # nothing scheduled: kept
        assert event_plans_extend(utility_id=utility_a.pk, device_ids=[device.pk]) == []
    event = event_create(
        program=program,
        group=group,
        start=timezone.now() + timedelta(hours=1),
        actor=manager_a,
        kind="discharge",
        duration_s=1800,
        target_w=None,
        setpoint_rule="per_device",
        per_device_w=1000,
    )
    assert not Dispatch.objects.filter(event=event, device=device).exists()
    Device.objects.filter(pk=device.pk).update(last_heard_at=timezone.now())  # it reports
    assert event_plans_extend(utility_id=utility_a.pk, device_ids=[device.pk]) == [event.pk]
    assert Dispatch.objects.get(event=event, device=device).setpoint_w == 1000


def test_an_event_moved_later_by_any_write_is_honoured(utility_a, manager_a):
    """What was kept at one start is dropped when the start moves (an UPDATE, not a save)."""
    program, _, _, event = _world(utility_a, manager_a)
    late = _join(utility_a, program)
    after_start = event.start + timedelta(minutes=1)
    may_take = partial(events_plans_may_take, utility_id=utility_a.pk, device_ids=[late.pk])
    assert may_take(now=after_start) == []
    Event.objects.filter(pk=event.pk).update(start=event.start + timedelta(hours=2))
    assert may_take(now=after_start) == [event.pk]


def test_that_planned_devices_have_nothing_to_join_is_kept_until_a_plan_changes(
    utility_a, manager_a, django_assert_num_queries
):
    """With an event ahead, a report from planned devices costs nothing the second time; a
    Response noted on a Dispatch changes nothing, a Dispatch removed in any way does."""
    _, _, devices, event = _world(utility_a, manager_a)
    ids = [d.pk for d in devices]
    assert event_plans_extend(utility_id=utility_a.pk, device_ids=ids) == []
    Dispatch.objects.filter(event=event).update(last_response=1, last_response_at=timezone.now())
    with django_assert_num_queries(0):
        assert event_plans_extend(utility_id=utility_a.pk, device_ids=ids) == []
    Dispatch.objects.filter(event=event, device=devices[0]).delete()
    assert event_plans_extend(utility_id=utility_a.pk, device_ids=ids) == [event.pk]
    assert Dispatch.objects.filter(event=event, device=devices[0]).exists()
