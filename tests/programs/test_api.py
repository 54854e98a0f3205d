from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from programs.models import Event
from programs.services import participant_add
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def next_weekday_afternoon() -> datetime:
    """A weekday, 15:00 Portland time, at least a day ahead (the program's window)."""
    day = timezone.now() + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day.replace(hour=22, minute=0, second=0, microsecond=0)  # 15:00 PDT / 14:00 PST


@pytest.fixture
def api(manager):
    return api_client_for(manager)


def test_create_event_through_the_same_rules(api, program, group):
    program.window_start = program.window_end = None
    program.save()
    start = next_weekday_afternoon()
    response = api.post(
        "/api/v1/events/",
        {
            "group": group.pk,
            "kind": "discharge",
            "start": start.isoformat(),
            "duration_s": 3600,
            "target_w": 5000,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "scheduled" and len(body["mrid"]) == 32
    event = Event.objects.get(pk=body["id"])
    assert event.transitions.count() == 2


def test_refusal_lists_each_violation(api, program, group):
    response = api.post(
        "/api/v1/events/",
        {
            "group": group.pk,
            "kind": "discharge",
            "start": (timezone.now() + timedelta(minutes=5)).isoformat(),
            "duration_s": 60,
        },
        format="json",
    )
    assert response.status_code == 400
    rules = {v["rule"] for v in response.json()["violations"]}
    assert {"notice", "min_duration"} <= rules
    assert not Event.objects.exists()


def test_other_utilitys_group_is_an_unknown_reference(api, program):
    foreign = factories.dispatch_group(factories.utility())
    response = api.post(
        "/api/v1/events/",
        {
            "group": foreign.pk,
            "kind": "discharge",
            "start": next_weekday_afternoon().isoformat(),
            "duration_s": 3600,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "group" in response.json()
    assert not Event.objects.exists()


def test_wrong_types_are_400(api, group):
    response = api.post(
        "/api/v1/events/",
        {"group": "abc", "kind": "explode", "start": "yesterday", "duration_s": -5},
        format="json",
    )
    assert response.status_code == 400
    assert {"group", "kind", "start", "duration_s"} <= set(response.json())


def test_analyst_reads_but_cannot_dispatch(utility, group):
    api = api_client_for(factories.member(utility, Role.ANALYST))
    assert api.get("/api/v1/events/").status_code == 200
    response = api.post("/api/v1/events/", {"group": group.pk}, format="json")
    assert response.status_code == 403


def test_cancel_and_no_edits(api, utility, group):
    event = factories.event(utility, group=group, status="scheduled")
    assert api.patch(f"/api/v1/events/{event.pk}/", {"target_w": 1}).status_code == 405
    assert api.delete(f"/api/v1/events/{event.pk}/").status_code == 405
    response = api.post(f"/api/v1/events/{event.pk}/cancel/", {"reason": "Cooler weather"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert event.transitions.get().reason == "Cooler weather"


def test_forecast_endpoint(api, program, group):
    device = factories.device(program.utility, soc_pct=70, last_heard_at=timezone.now())
    participant_add(program=program, device=device)
    body = api.get(f"/api/v1/dispatch-groups/{group.pk}/forecast/?duration_s=7200").json()
    # (70 - 20) % of 13.5 kWh = 6750 Wh over 2 h = 3375 W, under the 5 kW rating.
    assert body["discharge_w"] == 3375 and body["devices"] == 1
    assert body["summary"].startswith("You can get about 3.4 kW of discharge for 2 h")
    assert api.get(f"/api/v1/dispatch-groups/{group.pk}/forecast/?duration_s=x").status_code == 400


def test_program_rules_validated_through_the_api(api, program):
    response = api.patch(
        f"/api/v1/programs/{program.pk}/", {"min_duration_min": 500}, format="json"
    )
    assert response.status_code == 400
    assert "max_duration_min" in response.json()
    program.refresh_from_db()
    assert program.min_duration_min == 5


def test_funnel_counts_responses(api, utility, group):
    event = factories.event(utility, group=group, status="active")
    for code in (None, 1, 2, 3, 4):
        d = factories.dispatch(utility)
        d.event, d.last_response = event, code
        d.save()
    body = api.get(f"/api/v1/events/{event.pk}/funnel/").json()
    assert body == {
        "dispatched": 5,
        "received": 3,
        "started": 2,
        "completed": 1,
        "opted_out": 1,
        "refused": 0,
        # The event has not ended: the device that has not answered is awaited, not silent.
        "awaiting": 1,
        "silent": 0,
    }


def test_a_program_with_events_cannot_be_deleted(api, utility, program, group):
    factories.event(utility, group=group)
    response = api.delete(f"/api/v1/programs/{program.pk}/")
    assert response.status_code == 409
    assert "events still refer to it" in response.json()["detail"]
    assert api.delete(f"/api/v1/dispatch-groups/{group.pk}/").status_code == 409
    empty = factories.program(utility)
    assert api.delete(f"/api/v1/programs/{empty.pk}/").status_code == 204


def test_a_valid_program_change_is_saved(api, program):
    """A PATCH that keeps the slug must not collide with the program's own row (the
    uniqueness check once saw the program itself as "another program")."""
    response = api.patch(
        f"/api/v1/programs/{program.pk}/",
        {"poll_rate_s": 30, "post_rate_s": 60},
        format="json",
    )
    assert response.status_code == 200, response.content
    program.refresh_from_db()
    assert program.poll_rate_s == 30 and program.post_rate_s == 60


def test_a_slug_taken_by_another_program_is_still_refused(api, program, utility):
    other = factories.program(utility)
    response = api.patch(f"/api/v1/programs/{other.pk}/", {"slug": program.slug}, format="json")
    assert response.status_code == 400
    other.refresh_from_db()
    assert other.slug != program.slug
