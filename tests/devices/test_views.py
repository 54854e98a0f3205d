"""The fleet pages: device list filters and query count, detail charts, connector sites."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from devices.models import ConnectorSite
from devices.services import Reading, telemetry_ingest
from programs.models import Dispatch
from tenancy.choices import Role
from tests import factories


@pytest.fixture
def fleet(utility_a):
    now = timezone.now()
    online = factories.device(utility_a, serial="ON-1", vendor_name="Acme", state="OR")
    stale = factories.device(utility_a, serial="ST-1", vendor_name="Volt", state="WA")
    factories.device(utility_a, serial="OFF-1", vendor_name="Volt", state="WA", zip_code="98101")
    faulted = factories.device(utility_a, serial="F-1", vendor_name="Acme", alarms=["overtemp"])
    online.last_heard_at = now - timedelta(minutes=1)
    online.soc_pct = 64.0
    online.save()
    stale.last_heard_at = now - timedelta(minutes=30)
    stale.save()
    faulted.last_heard_at = now
    faulted.save()
    return {"online": online, "stale": stale, "faulted": faulted}


def serials(response):
    return sorted(d.serial for d in response.context["devices"])


def test_device_list_filters(client_a, fleet):
    url = reverse("devices:device-list")
    response = client_a.get(url)
    assert response.status_code == 200
    assert serials(response) == ["F-1", "OFF-1", "ON-1", "ST-1"]
    assert "64 %" in response.content.decode()
    assert serials(client_a.get(url, {"health": "online"})) == ["ON-1"]
    assert serials(client_a.get(url, {"health": "stale"})) == ["ST-1"]
    assert serials(client_a.get(url, {"health": "offline"})) == ["OFF-1"]
    assert serials(client_a.get(url, {"health": "faulted"})) == ["F-1"]
    assert serials(client_a.get(url, {"vendor_name": "Volt"})) == ["OFF-1", "ST-1"]
    assert serials(client_a.get(url, {"state": "WA", "q": "981"})) == ["OFF-1"]
    assert serials(client_a.get(url, {"q": "st-"})) == ["ST-1"]


def test_device_list_query_count_does_not_grow_with_devices(
    client_a, utility_a, django_assert_max_num_queries
):
    for _ in range(60):
        factories.device(utility_a)
    # session, user, membership, vendors, count, page: never one per row.
    with django_assert_max_num_queries(10):
        response = client_a.get(reverse("devices:device-list"))
    assert len(response.context["devices"]) == 50


def test_device_detail_has_charts_events_and_connector(client_a, utility_a, fleet):
    device = fleet["online"]
    now = timezone.now()
    telemetry_ingest(
        utility=utility_a,
        readings=[
            Reading(device_id=device.pk, at=now - timedelta(minutes=2), channel="w", value=1500),
            Reading(
                device_id=device.pk, at=now - timedelta(minutes=2), channel="soc_pct", value=60
            ),
        ],
        source="test",
    )
    event = factories.event(utility_a, start=now - timedelta(hours=1), status="active")
    Dispatch.objects.create(utility=utility_a, event=event, device=device, setpoint_w=3000)
    site = factories.connector_site(utility_a, device=device)
    response = client_a.get(reverse("devices:device-detail", args=[device.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "vendor/uplot/uPlot.iife.min.js" in body and site.name in body
    chart = response.context["chart"]
    assert [p[1] for p in chart["w"]] == [1500.0] and [p[1] for p in chart["soc"]] == [60.0]
    assert chart["events"][0]["setpoint_w"] == 3000
    json.dumps(chart)


def test_connector_site_create_and_edit(client_a, utility_a, fleet):
    response = client_a.post(
        reverse("connectors:site-create"),
        {
            "name": "Garage",
            "host": "10.0.0.5",
            "port": 502,
            "unit_id": 1,
            "poll_interval_s": 10,
            "enabled": "on",
            "device_serial": "ON-1",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    site = ConnectorSite.objects.get(name="Garage")
    assert site.utility == utility_a and site.device == fleet["online"]
    assert client_a.get(reverse("connectors:site-list")).status_code == 200
    same_address = {"name": "Twin", "host": "10.0.0.5", "port": 502, "unit_id": 1}
    response = client_a.post(
        reverse("connectors:site-create"), {**same_address, "poll_interval_s": 10}
    )
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    response = client_a.get(reverse("connectors:site-update", args=[site.pk]))
    assert response.status_code == 200 and "Test connection" in response.content.decode()


def test_connector_site_refuses_another_utilitys_device(client_a, utility_b):
    factories.device(utility_b, serial="B-1")
    response = client_a.post(
        reverse("connectors:site-create"),
        {
            "name": "X",
            "host": "h",
            "port": 502,
            "unit_id": 1,
            "poll_interval_s": 10,
            "device_serial": "B-1",
        },
    )
    assert response.status_code == 200
    assert "device_serial" in response.context["form"].errors


def test_analyst_cannot_add_sites(client, utility_a):
    analyst = factories.member(utility_a, Role.ANALYST)
    client.force_login(analyst)
    assert client.get(reverse("connectors:site-list")).status_code == 200
    response = client.post(reverse("connectors:site-create"), {"name": "x"})
    assert response.status_code == 403


def test_test_connection_reports_an_unreachable_site(client_a, utility_a):
    # A closed loopback port: discovery fails fast, and the page says so.
    site = factories.connector_site(utility_a, host="127.0.0.1", port=1)
    response = client_a.post(
        reverse("connectors:site-test", args=[site.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Could not reach" in response.content.decode()
    assert site.commands.get().ok is False


def test_api_devices_list_filters_and_detail(api_a, fleet):
    response = api_a.get("/api/v1/devices/", {"health": "stale"})
    assert response.status_code == 200
    assert [d["serial"] for d in response.json()["results"]] == ["ST-1"]
    assert response.json()["results"][0]["health"] == "stale"
    detail = api_a.get(f"/api/v1/devices/{fleet['online'].pk}/")
    assert detail.status_code == 200 and detail.json()["soc_pct"] == 64.0
    assert api_a.post("/api/v1/devices/", {}).status_code == 405
    huge = api_a.get("/api/v1/devices/", {"limit": 10**30})
    assert huge.status_code == 200 and len(huge.json()["results"]) == 4


def test_api_connector_sites_crud(api_a, utility_a, utility_b, fleet):
    foreign = factories.device(utility_b)
    payload = {"name": "Barn", "host": "10.0.0.9", "port": 502, "unit_id": 3}
    refused = api_a.post("/api/v1/connector-sites/", {**payload, "device": foreign.pk})
    assert refused.status_code == 400 and "device" in refused.json()
    created = api_a.post("/api/v1/connector-sites/", {**payload, "device": fleet["online"].pk})
    assert created.status_code == 201, created.json()
    site = ConnectorSite.objects.get(pk=created.json()["id"])
    assert site.utility == utility_a and site.status == "never"
    assert api_a.post("/api/v1/connector-sites/", payload).status_code == 400  # same address
    # Left-out port and unit id take the defaults (502, 1) and still clash as such.
    first = api_a.post("/api/v1/connector-sites/", {"name": "A", "host": "10.0.0.10"})
    assert first.status_code == 201
    again = api_a.post("/api/v1/connector-sites/", {"name": "B", "host": "10.0.0.10"})
    assert again.status_code == 400
    patched = api_a.patch(f"/api/v1/connector-sites/{site.pk}/", {"enabled": False})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert api_a.delete(f"/api/v1/connector-sites/{site.pk}/").status_code == 204


def test_seed_demo_registers_the_simulated_fleet_once(db):
    from django.core.management import call_command

    call_command("seed_demo", "--quiet")
    call_command("seed_demo", "--quiet")
    sites = ConnectorSite.objects.filter(utility__slug="cascadia")
    assert sites.count() == 20
    assert all(s.device_id and s.host == "127.0.0.1" and s.port == 15020 for s in sites)
    assert sorted(s.unit_id for s in sites) == list(range(1, 21))


def test_runstack_starts_the_modbus_simulator():
    from portal.management.commands.runstack import stack_parts

    parts = {p.name: p.argv for p in stack_parts(host="127.0.0.1", port=8000)}
    assert "simulate_modbus" in parts["modbus-sim"]
    assert parts["modbus-sim"][-2:] == ["--register", "cascadia"]


def test_api_analysts_read_sites_but_cannot_write(utility_a):
    from tests.conftest import api_client_for

    api = api_client_for(factories.member(utility_a, Role.ANALYST))
    factories.connector_site(utility_a)
    assert api.get("/api/v1/connector-sites/").json()["count"] == 1
    payload = {"name": "x", "host": "h", "port": 502, "unit_id": 1}
    assert api.post("/api/v1/connector-sites/", payload).status_code == 403


def test_device_charts_offer_a_day_a_week_and_a_season_from_the_rollups(client_a, utility_a, fleet):
    from devices.models import TelemetryRollup
    from programs.models import Participant, Season

    device = fleet["online"]
    now = timezone.now().replace(minute=0, second=0, microsecond=0)

    def rollup(period, at, avg):
        TelemetryRollup.objects.create(
            utility=utility_a, device=device, channel="w", period=period,
            bucket_start=at, avg=avg, min=avg, max=avg, count=1,
        )  # fmt: skip

    rollup("1h", now - timedelta(days=3), 700)  # a week's chart reads the hourly rollups
    rollup("5m", now - timedelta(days=3), 999)  # ... not the 5-minute ones under them
    rollup("5m", now - timedelta(hours=2), 1200)
    url = reverse("devices:device-detail", args=[device.pk])
    day = client_a.get(url).context["chart"]
    assert [p[1] for p in day["w"]] == [1200.0]
    week = client_a.get(url, {"window": "week"})
    # Hourly rollups, then the 5-minute ones after the last hour rolled up.
    assert [p[1] for p in week.context["chart"]["w"]] == [700.0, 1200.0]
    assert 'aria-current="page">Week</a>' in week.content.decode()
    program = factories.program(utility_a)
    today = timezone.localdate()
    Season.objects.create(
        utility=utility_a, program=program, name="Now", max_events=5,
        start_date=today - timedelta(days=10), end_date=today + timedelta(days=10),
    )  # fmt: skip
    Participant.objects.create(utility=utility_a, program=program, device=device, joined_at=now)
    season = client_a.get(url, {"window": "season"}).context["chart"]
    start = timezone.localtime(timezone.now()) - timedelta(days=10)
    assert abs(season["since"] - start.replace(hour=0, minute=0, second=0).timestamp()) < 2
    bad = client_a.get(url, {"window": "forever"})
    assert bad.status_code == 200 and bad.context["window"] == "day"
