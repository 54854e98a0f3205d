"""Events read true (issue 19): one participation vocabulary on the event page, the control
room's feed, the API and the CSV; 2030.5 Responses and Modbus read-back both counted;
"silent" only after the event's end plus the grace period; actions follow the state."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from portal.live import event_snapshot
from programs import services
from programs.choices import EventStatus, Participation, ResponseStatus
from programs.models import Dispatch, OptOut
from programs.selectors import event_funnel
from protocol.services import response_record
from tests import factories
from tests.conftest import api_client_for


@pytest.fixture
def web(client, manager):
    client.force_login(manager)
    return client


def dispatch(event, device, **fields):
    return Dispatch.objects.create(
        utility=event.utility, event=event, device=device, setpoint_w=2000, **fields
    )


@pytest.fixture
def completed_event(utility, group, settings):
    """An event that ended an hour ago: one 2030.5 device completed (by its Responses), one
    Modbus device completed (by read-back), one opted out and one never answered."""
    settings.EVENT_RESPONSE_GRACE_S = 900
    start = timezone.now() - timedelta(hours=2)
    event = factories.event(utility, group=group, status=EventStatus.ACTIVE, start=start)
    sep2 = factories.end_device(utility)
    modbus, opted, quiet = (factories.device(utility) for _ in range(3))
    for device in (sep2.device, modbus, opted, quiet):
        dispatch(event, device)
    for code in (ResponseStatus.RECEIVED, ResponseStatus.STARTED, ResponseStatus.COMPLETED):
        response_record(end_device=sep2, event=event, status=code)
    services.dispatch_readback_record(
        event=event, device_ids=[modbus.pk], code=ResponseStatus.STARTED
    )
    OptOut.objects.create(
        utility=utility, event=event, device=opted, source="portal", at=timezone.now()
    )
    event.status = EventStatus.COMPLETED
    event.save(update_fields=["status"])
    services.dispatch_readback_record(
        event=event, device_ids=[modbus.pk, quiet.pk], code=ResponseStatus.COMPLETED
    )
    return event


TRUE_FUNNEL = {
    "dispatched": 4,
    "received": 2,
    "started": 2,
    "completed": 2,
    "opted_out": 1,
    "refused": 0,
    "awaiting": 0,
    "silent": 1,
}


def test_completed_event_page_shows_the_true_funnel_and_no_cancel(web, completed_event):
    assert event_funnel(event=completed_event) == TRUE_FUNNEL
    page = web.get(reverse("programs:event-detail", args=[completed_event.pk])).content.decode()
    for key in TRUE_FUNNEL:
        assert f'<li data-key="{key}">' in page
    assert '<span class="label">Completed</span><span class="bar" data-n="2"' in page
    assert '<span class="label">Silent</span><span class="bar" data-n="1"' in page
    assert "Cancel event" not in page
    # The target refuses too, with a reason, and nothing changes.
    assert web.post(reverse("programs:event-cancel", args=[completed_event.pk])).status_code == 302
    completed_event.refresh_from_db()
    assert completed_event.status == EventStatus.COMPLETED


def test_a_live_power_figure_only_while_the_event_can_change(web, utility, group, completed_event):
    """Seen on the screenshot of a completed demo event: its chart's heading read "now" and a dash,
    a live figure that no feed will ever fill (the page opens no live socket once ended)."""
    page = web.get(reverse("programs:event-detail", args=[completed_event.pk])).content.decode()
    assert 'id="live-delivered"' not in page and "data-socket-url" not in page
    active = factories.event(utility, group=group, status=EventStatus.ACTIVE)
    page = web.get(reverse("programs:event-detail", args=[active.pk])).content.decode()
    assert 'id="live-delivered"' in page and "data-socket-url" in page


def test_the_api_the_feed_and_the_csv_say_the_same(web, manager, completed_event):
    api = api_client_for(manager)
    body = api.get(f"/api/v1/events/{completed_event.pk}/funnel/").json()
    assert body == TRUE_FUNNEL
    snapshot = event_snapshot(event=completed_event)
    assert snapshot["funnel"] == TRUE_FUNNEL
    feed = sorted(row["participation"] for row in snapshot["devices"])
    assert feed == ["completed", "completed", "opted_out", "silent"]
    response = web.get(reverse("programs:event-csv", args=[completed_event.pk]))
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted(r["participation"] for r in rows) == feed
    labels = {r["participation"]: r["participation_label"] for r in rows}
    assert labels == {p: Participation(p).label for p in feed}
    assert "last_response_at (America/Los_Angeles)" in rows[0]


def test_no_device_is_silent_before_the_event_has_ended(web, utility, group, settings):
    settings.EVENT_RESPONSE_GRACE_S = 900
    event = factories.event(utility, group=group, status=EventStatus.SCHEDULED)
    dispatch(event, factories.device(utility))
    funnel = event_funnel(event=event)
    assert (funnel["awaiting"], funnel["silent"]) == (1, 0)
    page = web.get(reverse("programs:event-detail", args=[event.pk])).content.decode()
    assert ">Awaiting response</td>" in page and ">Silent</td>" not in page
    # Within the grace period after the end: still awaited; after it: silent.
    end = event.end
    assert event_funnel(event=event, now=end + timedelta(minutes=10))["silent"] == 0
    assert event_funnel(event=event, now=end + timedelta(minutes=16))["silent"] == 1


def test_readback_never_overwrites_an_answer(utility, group):
    event = factories.event(utility, group=group, status=EventStatus.ACTIVE)
    opted, answered, fresh = (factories.device(utility) for _ in range(3))
    dispatch(event, opted, last_response=ResponseStatus.OPTED_OUT)
    dispatch(event, answered, last_response=ResponseStatus.COMPLETED)
    dispatch(event, fresh)
    ids = [opted.pk, answered.pk, fresh.pk]
    assert services.dispatch_readback_record(event=event, device_ids=ids, code=2) == 1
    codes = dict(Dispatch.objects.filter(event=event).values_list("device_id", "last_response"))
    assert codes == {opted.pk: 4, answered.pk: 3, fresh.pk: 2}
    with pytest.raises(ValidationError):
        services.dispatch_readback_record(event=event, device_ids=ids, code=4)


@pytest.mark.parametrize(
    "status", [EventStatus.DRAFT, EventStatus.COMPLETED, EventStatus.SUPERSEDED]
)
def test_cancel_only_while_scheduled_or_active(utility, group, manager, status):
    event = factories.event(utility, group=group, status=status)
    with pytest.raises(ValidationError, match="only a scheduled or active event"):
        services.event_cancel(event=event, actor=manager)
    event.refresh_from_db()
    assert event.status == status


def test_supersede_only_while_scheduled(utility, group, manager):
    start = timezone.now() + timedelta(hours=3)
    active = factories.event(
        utility, group=group, status=EventStatus.ACTIVE, start=timezone.now() - timedelta(minutes=5)
    )
    scheduled = factories.event(utility, group=group, status=EventStatus.SCHEDULED, start=start)
    newer = factories.event(utility, group=group, status=EventStatus.DRAFT, start=start)
    services.event_schedule(event=newer, actor=manager)
    scheduled.refresh_from_db()
    assert scheduled.status == EventStatus.SUPERSEDED and scheduled.superseded_by == newer
    over_active = factories.event(
        utility, group=group, status=EventStatus.DRAFT, start=timezone.now()
    )
    with pytest.raises(ValidationError, match="already active"):
        services.event_schedule(event=over_active, actor=manager)
    active.refresh_from_db()
    over_active.refresh_from_db()
    assert (active.status, over_active.status) == (EventStatus.ACTIVE, EventStatus.DRAFT)
