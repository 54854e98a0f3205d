"""The program manager's home figures (issue 19): each a link, sandbox programs excluded;
and every time a person reads is in the utility's zone, labelled."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from portal.selectors import pm_home_kpis
from programs.models import Dispatch, Participant, Season
from tenancy.choices import Role
from tests import factories


def enrolled(utility, program, **device_fields):
    device = factories.device(utility, **device_fields)
    Participant.objects.create(
        utility=utility, program=program, device=device, joined_at=timezone.now()
    )
    return device


def test_home_figures_count_live_programs_only_and_link_to_their_pages(client, db):
    utility = factories.utility(timezone="America/Los_Angeles")
    live = factories.program(utility, max_events_per_year=10)
    sandbox = factories.program(utility, is_sandbox=True)
    today = timezone.localdate()
    Season.objects.create(
        utility=utility, program=live, name="Now", max_events=4,
        start_date=today - timedelta(days=30), end_date=today + timedelta(days=30),
    )  # fmt: skip
    now = timezone.now()
    online = enrolled(utility, live, max_discharge_w=5000, capacity_wh=13500, last_heard_at=now)
    enrolled(utility, live, max_discharge_w=5000, capacity_wh=10000)
    enrolled(utility, sandbox, max_discharge_w=99000, capacity_wh=99000, last_heard_at=now)
    group = factories.dispatch_group(utility, prog=live)
    event = factories.event(utility, group=group, status="completed", start=now - timedelta(days=1))
    Dispatch.objects.create(
        utility=utility, event=event, device=online, setpoint_w=1000, last_response=3
    )
    factories.event(
        utility, group=factories.dispatch_group(utility, prog=sandbox), status="completed",
        start=now - timedelta(hours=1),
    )  # fmt: skip
    factories.alert(utility)

    kpis = {k.label: k for k in pm_home_kpis(utility=utility)}
    assert kpis["Enrolled capacity"].value == "10.0 kW · 23.5 kWh"
    assert kpis["Devices online"].value == "1 of 2"
    season = kpis[f"Events this season · {live.name}"]
    assert season.value == "1 of 4" and "10 a year" in season.detail
    assert season.url == reverse("programs:program-detail", args=[live.pk])
    assert not any(sandbox.name in label for label in kpis)
    last = kpis["Last event performance"]
    assert last.value == "100% completed"
    assert last.url == reverse("programs:event-detail", args=[event.pk])
    assert kpis["Open alerts"].value == "1"

    client.force_login(factories.member(utility, Role.ANALYST))
    page = client.get("/").content.decode()
    for kpi in kpis.values():
        assert f'href="{kpi.url}"' in page


def test_times_are_in_the_utility_zone_and_labelled(client, db):
    utility = factories.utility(timezone="America/Los_Angeles")
    client.force_login(factories.member(utility, Role.ANALYST))
    page = client.get("/").content.decode()
    assert 'data-tz="America/Los_Angeles"' in page and "Times: America/Los_Angeles" in page
    event = factories.event(
        utility, start=timezone.now().replace(month=7, day=1, hour=21, minute=0)
    )
    with timezone.override("America/Los_Angeles"):
        text = str(event)
    assert "14:00 PDT" in text  # 21:00 UTC in July, as the utility reads it


def test_season_hours_read_with_one_precision(db):
    """Seen on the screenshot of the demo's home: "1.0 h of 40.00 h" (hours used are
    rounded to a tenth, the season's cap printed as stored, with two decimals)."""
    utility = factories.utility()
    program = factories.program(utility)
    today = timezone.localdate()
    Season.objects.create(
        utility=utility, program=program, name="Winter", max_events=20, max_hours=40,
        start_date=today - timedelta(days=30), end_date=today + timedelta(days=30),
    )  # fmt: skip
    kpis = {k.label: k for k in pm_home_kpis(utility=utility)}
    assert kpis[f"Events this season · {program.name}"].detail.startswith("Winter; 0.0 h of 40.0 h")
