from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from programs.choices import EventStatus
from programs.models import Dispatch, DispatchGroup, Event, Program, Season
from programs.services import participant_add
from tenancy.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(client, manager):
    client.force_login(manager)
    return client


def test_create_program_and_edit_its_rules(web, utility):
    response = web.post(
        reverse("programs:program-create"),
        {
            "name": "Battery Savers",
            "slug": "battery-savers",
            "status": "draft",
            "profile": "csip",
            "primacy": 10,
            "poll_rate_s": 300,
            "post_rate_s": 300,
            "telemetry_cadence_s": 300,
            "control_delivery_s": 300,
            "min_stored_events": 24,
            "min_duration_min": 5,
            "max_duration_min": 240,
            "allowed_weekdays": ["0", "1", "2", "3", "4"],
            "min_notice_min": 60,
            "min_rest_min": 0,
            "reserve_soc_pct": 20,
            "max_events_per_day": 1,
            "default_charge_from_solar": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    program = Program.objects.get(slug="battery-savers")
    assert program.utility == utility
    bad = web.post(
        reverse("programs:program-update", args=[program.pk]),
        {
            **{
                f: getattr(program, f)
                for f in (
                    "name",
                    "slug",
                    "status",
                    "profile",
                    "primacy",
                    "poll_rate_s",
                    "post_rate_s",
                    "telemetry_cadence_s",
                    "control_delivery_s",
                    "min_stored_events",
                    "allowed_weekdays",
                    "min_notice_min",
                    "min_rest_min",
                    "reserve_soc_pct",
                )
            },
            "min_duration_min": 90,
            "max_duration_min": 30,
            "window_start": "14:00",
        },
    )
    assert bad.status_code == 200
    page = bad.content.decode()
    assert "maximum duration is shorter" in page and "both ends" in page
    program.refresh_from_db()
    assert program.max_duration_min == 240


def test_program_page_shows_the_usage_meter_and_adds_parts(web, program):
    url = reverse("programs:program-detail", args=[program.pk])
    page = web.get(url).content.decode()
    assert "Season usage" in page and "0 of 60" in page
    add = reverse("programs:program-part-add", args=[program.pk, "group"])
    assert web.post(add, {"name": "Portland", "zip_prefixes": "972"}).status_code == 302
    assert DispatchGroup.objects.filter(program=program, name="Portland").exists()
    add_season = reverse("programs:program-part-add", args=[program.pk, "season"])
    response = web.post(
        add_season,
        {"name": "Winter", "start_date": "2026-12-01", "end_date": "2026-11-01"},
        follow=True,
    )
    assert "The season ends before it starts." in response.content.decode()
    assert not Season.objects.filter(name="Winter").exists()


def test_event_form_checks_rules_and_forecast_live(web, program, group):
    device = factories.device(program.utility, soc_pct=90, last_heard_at=timezone.now())
    participant_add(program=program, device=device)
    response = web.post(
        reverse("programs:event-create") + "?check=1",
        {
            "group": group.pk,
            "kind": "discharge",
            "purpose": "peak",
            "start_local": "2030-01-05T16:00",
            "duration_min": 2,
            "selection": "all",
            "setpoint_rule": "pro_rata",
            "randomize_start_s": 0,
            "randomize_duration_s": 0,
        },
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "Saturday is not an allowed event day" in html
    assert "shorter than the program&#x27;s minimum of 5 min" in html
    assert "You can get about" in html
    assert not Event.objects.exists()


def test_event_form_schedules_and_cancel_works(web, program, group):
    program.window_start = program.window_end = None
    program.allowed_weekdays = "0,1,2,3,4,5,6"
    program.save()
    start = (timezone.now() + timedelta(days=2)).astimezone(
        __import__("zoneinfo").ZoneInfo(program.utility.timezone)
    )
    response = web.post(
        reverse("programs:event-create"),
        {
            "group": group.pk,
            "kind": "discharge",
            "purpose": "peak",
            "start_local": start.strftime("%Y-%m-%dT%H:%M"),
            "duration_min": 30,
            "target_kw": "5",
            "selection": "all",
            "setpoint_rule": "pro_rata",
            "randomize_start_s": 0,
            "randomize_duration_s": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    event = Event.objects.get()
    assert event.target_w == 5000 and event.status == EventStatus.SCHEDULED
    assert abs((event.start - start).total_seconds()) < 60
    detail = web.get(response["Location"]).content.decode()
    assert "Audit trail" in detail and "Cancel event" in detail
    web.post(reverse("programs:event-cancel", args=[event.pk]), {"reason": "Mild weather"})
    event.refresh_from_db()
    assert event.status == EventStatus.CANCELLED


def test_calendar_shows_the_month(web, utility, group):
    event = factories.event(
        utility, group=group, status="scheduled", start=timezone.now() + timedelta(hours=3)
    )
    month = event.start.astimezone(__import__("zoneinfo").ZoneInfo(utility.timezone))
    page = web.get(reverse("programs:event-calendar") + f"?month={month:%Y-%m}").content.decode()
    assert reverse("programs:event-detail", args=[event.pk]) in page
    assert web.get(reverse("programs:event-calendar") + "?month=garbage").status_code == 200


def test_analyst_cannot_schedule_or_cancel(client, utility, group):
    client.force_login(factories.member(utility, Role.ANALYST))
    event = factories.event(utility, group=group, status="scheduled")
    # The new-event form is a write: the analyst neither opens nor submits it (issue 19).
    assert client.get(reverse("programs:event-create")).status_code == 403
    assert client.post(reverse("programs:event-create"), {}).status_code == 403
    assert client.post(reverse("programs:event-cancel", args=[event.pk])).status_code == 403
    event.refresh_from_db()
    assert event.status == "scheduled"


def test_event_page_device_table_says_what_each_response_code_means(web, utility):
    event = factories.event(utility, status="active")
    now = timezone.now()
    rows = {}
    for code, committed in ((3, 3000), (4, 2000), (6, 1500), (None, None)):
        device = factories.device(utility, power_w=1234, last_heard_at=now)
        rows[code] = Dispatch.objects.create(
            utility=utility,
            event=event,
            device=device,
            setpoint_w=1000,
            committed_w=committed,
            last_response=code,
        )
    url = reverse("programs:event-detail", args=[event.pk])
    page = web.get(url).content.decode()
    # One vocabulary (programs.choices.Participation), the raw Response code beside it.
    assert (
        'data-participation="completed">Completed <small class="muted" title="Event completed">(3)'
    ) in page
    assert 'data-participation="opted_out">Opted out <small class="muted"' in page
    assert 'data-participation="received">Received <small class="muted" title="Cancelled">' in page
    # The event has not ended: an unanswered device is awaited, not silent.
    assert 'data-participation="awaiting">Awaiting response</td>' in page
    assert all(f'id="dispatch-{d.pk}"' in page for d in rows.values())
    assert page.index(f"dispatch-{rows[3].pk}") < page.index(f"dispatch-{rows[None].pk}")
    assert "1234 W" in page
    # Rows cost no queries of their own.
    with CaptureQueriesContext(connection) as few:
        web.get(url)
    for _ in range(30):
        device = factories.device(utility, last_heard_at=now)
        Dispatch.objects.create(
            utility=utility, event=event, device=device, setpoint_w=1000, last_response=1
        )
    with CaptureQueriesContext(connection) as many:
        web.get(url)
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_event_page_says_the_per_device_setpoint_and_carries_a_live_status_badge(web, utility):
    event = factories.event(
        utility, status="scheduled", target_w=None, setpoint_rule="per_device", per_device_w=2000
    )
    page = web.get(reverse("programs:event-detail", args=[event.pk])).content.decode()
    assert "2000 W per device" in page and "all available" not in page
    assert 'id="event-status" class="badge status-scheduled" data-status="scheduled"' in page
    assert f"/ws/utility/{utility.pk}/event.{event.pk}/" in page
