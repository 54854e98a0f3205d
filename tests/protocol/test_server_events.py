"""Dispatch events as DERControls, and Responses flowing back to the domain."""

import functools
from datetime import timedelta

import pytest
from django.utils import timezone

from programs.models import Dispatch, Event, OptOut
from programs.services import event_activate, event_cancel, event_create
from protocol.managers.derp import der_control_mrid
from protocol.models import ControlResponse
from protocol.xml import parse, serialize
from protocol.xml.resources.common import time_type
from protocol.xml.resources.derp import DERControl, DERControlList
from protocol.xml.resources.response import DERControlResponse
from protocol.xml.resources.units import watts_of
from tests import factories
from tests.protocol.client import SepClient
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group, random_lfdi

pytestmark = pytest.mark.django_db


def online_device(utility):
    lfdi, sfdi = random_lfdi()
    return factories.device(utility, lfdi=lfdi, sfdi=sfdi, soc_pct=80, last_heard_at=timezone.now())


@pytest.fixture
def world(utility_a, manager_a):
    program, group = program_with_group(utility_a, max_events_per_day=None, min_stored_events=24)
    agg = actor(utility_a, program=program)
    end_device = enrolled_end_device(
        utility_a, client=agg.client, program=program, device=online_device(utility_a)
    )
    base = f"/edev/{end_device.pk}/derp/{group.pk}"
    return program, group, agg, end_device, base, manager_a


def _event(program, group, manager, *, minutes=60, **fields):
    defaults = {"kind": "discharge", "duration_s": 1800, "target_w": 3000}
    return event_create(
        program=program,
        group=group,
        start=timezone.now() + timedelta(minutes=minutes),
        actor=manager,
        **{**defaults, **fields},
    )


def _controls(http: SepClient, href: str) -> list[DERControl]:
    response = http.get(f"{href}?l=255")
    assert response.status_code == 200
    return parse(response.content, DERControlList).der_controls


def _respond(agg, end_device, event, status):
    body = DERControlResponse(
        created_date_time=time_type(timezone.now()),
        end_device_lfdi=end_device.lfdi,
        status=status,
        subject=der_control_mrid(end_device, event),
    )
    return agg.http.post_sep("/rsp", serialize(body))


def test_event_lifecycle_as_der_control(world):
    program, group, agg, end_device, base, manager = world
    # A second device shares the target, so this device's setpoint is not the group's.
    other = online_device(end_device.utility)
    enrolled_end_device(end_device.utility, client=agg.client, program=program, device=other)
    event = _event(program, group, manager, randomize_start_s=60)
    (control,) = _controls(agg.http, f"{base}/derc")
    assert control.mrid == der_control_mrid(end_device, event)
    assert control.event_status.current_status == 0
    assert control.interval.start == time_type(event.start)
    assert control.interval.duration == 1800
    assert control.randomize_start == 60
    assert control.reply_to == "/rsp" and control.response_required == 0x03
    dispatch = Dispatch.objects.get(event=event, device=end_device.device)
    assert 0 < dispatch.setpoint_w < event.signed_target_w
    assert watts_of(control.der_control_base.op_mod_target_w) == dispatch.setpoint_w
    assert _controls(agg.http, f"{base}/actderc") == []

    for code in (1, 2):
        assert _respond(agg, end_device, event, code).status_code == 201
        dispatch.refresh_from_db()
        assert dispatch.last_response == code and dispatch.last_response_at is not None

    # Its start comes (the list follows the clock), and the beat activates it.
    Event.objects.filter(pk=event.pk).update(start=timezone.now() - timedelta(seconds=60))
    event_activate(event_id=event.pk)
    (active,) = _controls(agg.http, f"{base}/actderc")
    assert active.event_status.current_status == 1
    assert _respond(agg, end_device, event, 3).status_code == 201
    dispatch.refresh_from_db()
    assert dispatch.last_response == 3
    assert ControlResponse.objects.filter(event=event).count() == 3


def test_cancelled_control_stays_and_late_response_is_accepted(world):
    program, group, agg, end_device, base, manager = world
    event = _event(program, group, manager)
    event_cancel(event=event, actor=manager)
    (control,) = _controls(agg.http, f"{base}/derc")
    assert control.event_status.current_status == 2
    assert _respond(agg, end_device, event, 6).status_code == 201
    # An opt-out that arrives after cancellation is recorded but changes nothing.
    assert _respond(agg, end_device, event, 4).status_code == 201
    assert not OptOut.objects.exists()


def test_superseded_control_shows_status_4(world):
    program, group, agg, end_device, base, manager = world
    older = _event(program, group, manager)
    newer = _event(program, group, manager, minutes=70)
    statuses = {c.mrid: c.event_status.current_status for c in _controls(agg.http, f"{base}/derc")}
    mrid = functools.partial(der_control_mrid, end_device)
    assert statuses == {mrid(older): 4, mrid(newer): 0}


def test_opt_out_response_flows_to_programs(world):
    program, group, agg, end_device, base, manager = world
    event = _event(program, group, manager)
    assert _respond(agg, end_device, event, 4).status_code == 201
    opt_out = OptOut.objects.get(event=event)
    assert opt_out.device == end_device.device and opt_out.source == "response"
    (control,) = _controls(agg.http, f"{base}/derc")
    # The control stays; this device's share is now 0 W.
    assert control.event_status.current_status == 0
    assert watts_of(control.der_control_base.op_mod_target_w) == 0


def test_charge_events_are_negative(world):
    program, group, agg, _, base, manager = world
    _event(program, group, manager, kind="charge")
    (control,) = _controls(agg.http, f"{base}/derc")
    assert watts_of(control.der_control_base.op_mod_target_w) < 0


def test_export_limit_uses_csipaus_under_that_profile(utility_a, manager_a):
    program, group = program_with_group(utility_a, profile="csip_aus", max_events_per_day=None)
    agg = actor(utility_a, program=program)
    agg.http = SepClient(agg.cert, profile="csipaus")
    end_device = enrolled_end_device(
        utility_a, client=agg.client, program=program, device=online_device(utility_a)
    )
    _event(program, group, manager_a, kind="export_limit", target_w=1500)
    base = f"/edev/{end_device.pk}/derp/{group.pk}"
    response = agg.http.get(f"{base}/derc?l=5")
    assert b"https://csipaus.org/ns" in response.content
    (control,) = parse(response.content, DERControlList, profile="csipaus").der_controls
    assert watts_of(control.der_control_base.op_mod_exp_lim_w) == 1500


def test_responses_are_validated(world, utility_b):
    program, group, agg, end_device, _, manager = world
    event = _event(program, group, manager)
    assert _respond(agg, end_device, event, 200).status_code == 400
    for code in (1, 14, 252, 254):
        assert _respond(agg, end_device, event, code).status_code == 201
    # Another client's device, or another utility's event, is not found.
    other = actor(end_device.utility, name="other")
    assert _respond(other, end_device, event, 1).status_code == 404
    foreign = factories.event(utility_b)
    assert _respond(agg, end_device, foreign, 1).status_code == 404
    # An event of a group this device is not in is not its DERControl.
    elsewhere = factories.event(end_device.utility)
    assert _respond(agg, end_device, elsewhere, 4).status_code == 404
    assert not OptOut.objects.exists()


def test_list_keeps_at_least_min_stored_events(world):
    program, group, agg, _, base, manager = world
    program.min_stored_events = 24
    program.save()
    for i in range(26):
        event = _event(program, group, manager, minutes=60 * (i + 1), duration_s=600)
        event_cancel(event=event, actor=manager)
    response = agg.http.get(f"{base}/derc?l=255")
    listing = parse(response.content, DERControlList)
    assert listing.all == 24 and listing.results == 24
    assert parse(agg.http.get(f"{base}/derc?s=20&l=10").content).results == 4


# --- the list follows the clock, not the beat (issue 22 item 6) -----------------------------


def test_a_control_whose_interval_ended_leaves_the_list_at_once(world):
    # Failed before: still listed, as active (currentStatus 1), 25 s after its end (S-ALL-41).
    program, group, agg, ed, base, manager = world
    mrid = functools.partial(der_control_mrid, ed)
    event = _event(program, group, manager)
    event_activate(event_id=event.pk, now=event.start)
    Event.objects.filter(pk=event.pk).update(start=timezone.now() - timedelta(seconds=1825))
    event.refresh_from_db()
    assert event.status == "active"  # the beat has not completed it yet
    assert _controls(agg.http, f"{base}/derc") == []
    assert _controls(agg.http, f"{base}/actderc") == []
    assert agg.http.get(f"{base}/derc/{mrid(event)}").status_code == 404


def test_a_control_whose_interval_began_is_active_before_the_beat_says_so(world):
    program, group, agg, ed, base, manager = world
    mrid = functools.partial(der_control_mrid, ed)
    event = _event(program, group, manager)
    Event.objects.filter(pk=event.pk).update(start=timezone.now() - timedelta(seconds=30))
    (control,) = _controls(agg.http, f"{base}/derc")
    assert control.event_status.current_status == 1
    (active,) = _controls(agg.http, f"{base}/actderc")
    assert active.mrid == mrid(event)


def test_cancelled_controls_never_push_out_scheduled_ones(world):
    # Failed before: min_stored_events counted every event by start time, so future-dated
    # cancelled controls hid newly scheduled ones.
    program, group, agg, ed, base, manager = world
    mrid = functools.partial(der_control_mrid, ed)
    for i in range(24):
        cancelled = _event(program, group, manager, minutes=600 + 60 * i, duration_s=600)
        event_cancel(event=cancelled, actor=manager)
    scheduled = [
        _event(program, group, manager, minutes=60 * (i + 1), duration_s=600) for i in range(4)
    ]
    response = agg.http.get(f"{base}/derc?l=255")
    listing = parse(response.content, DERControlList)
    assert (listing.all, listing.results) == (28, 28)
    assert [c.mrid for c in listing.der_controls[:4]] == [mrid(e) for e in scheduled]
    assert {c.event_status.current_status for c in listing.der_controls[4:]} == {2}


def test_list_order_is_start_then_newest_creation_then_mrid_descending(world):
    program, group, agg, ed, base, manager = world
    mrid = functools.partial(der_control_mrid, ed)
    first, second, third = (
        _event(program, group, manager, minutes=m, duration_s=600) for m in (300, 120, 200)
    )
    start = timezone.now() + timedelta(hours=1)
    created = timezone.now() - timedelta(hours=1)
    # Same start: the newest creation comes first; same creation too: the larger mRID.
    Event.objects.filter(pk=first.pk).update(start=start, created_at=created)
    Event.objects.filter(pk=second.pk).update(start=start, created_at=created)
    Event.objects.filter(pk=third.pk).update(start=start, created_at=created + timedelta(1))
    same = sorted([mrid(first), mrid(second)], reverse=True)
    listed = [c.mrid for c in _controls(agg.http, f"{base}/derc")]
    assert listed == [mrid(third), *same]
    page = parse(agg.http.get(f"{base}/derc?s=1&l=1").content, DERControlList)
    assert (page.all, page.results, page.der_controls[0].mrid) == (3, 1, same[0])
