"""A program manager's event afternoon, live, against real parts (issue 9 acceptance).

Real processes: uvicorn (HTTP and WebSockets), a Celery worker and Celery beat, all on the
test database; two simulated IEEE 2030.5 fleets (`Sep2Fleet`) on their own event loops,
reaching uvicorn as a trusted TLS proxy would forward them. A real headless Chromium:

1. logs in as a program manager;
2. watches the control room's fleet chart move without a reload;
3. schedules an event through the event form in a second tab, and sees it listed at once in
   the still-open control room;
4. watches the event's badge turn Active and its delivered power fill in, live;
5. back in the control room (never reloaded), sees the event go live and, after one fleet
   stops, a "device stale" alert raised by beat's evaluation in the worker; acknowledges it;
6. follows the alert to the device's page.
"""

import re
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from devices.simulator.sep2_fleet import Sep2Fleet
from portal.models import Alert, AlertKind, AlertRule, AlertStatus
from programs.choices import EventStatus
from programs.models import Event
from protocol import pki
from protocol.identity import client_identity_from_der
from protocol.services import client_register
from tests import factories
from tests.integration.fleet import FleetThread, fleet_participants
from tests.integration.servers import (
    asgi_server,
    celery_beat,
    celery_worker,
    sep2_server,
    subprocess_env,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STALE_AFTER_S = 15  # three missed 5 s telemetry posts (300 s cadence at time_scale 60)
SETPOINT_KW = 2


def tails(logs: list[Path]) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-2500:]}" for p in logs if p.exists())


def wait_in_page(page, js: str, *, what: str, logs: list[Path], timeout_s: float = 20, arg=None):
    """Wait (bounded) until ``js`` is truthy in the page; fail with the servers' log tails."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        # A function, not an expression: Playwright evals expressions, which the CSP refuses.
        if not re.match(r"^\s*(\w+|\([^)]*\))\s*=>", js):
            js = f"() => ({js})"
        # Not there yet (the page is still loading) counts as not yet, not as an error.
        js = f"(arg) => {{ try {{ return ({js})(arg); }} catch (e) {{ return false; }} }}"
        page.wait_for_function(js, arg=arg, timeout=timeout_s * 1000, polling=250)
    except PlaywrightTimeout:
        raise AssertionError(
            f"timed out after {timeout_s} s waiting for {what} on {page.url}\n{tails(logs)}"
        ) from None


def chart_points(page, selector: str) -> int:
    return page.evaluate(f"document.querySelector('{selector}')._plot.data[0].length")


def next_whole_minute(*, tz: ZoneInfo, at_least_s: int):
    """The first whole minute at least ``at_least_s`` away (the form takes minutes)."""
    start = timezone.now().astimezone(tz) + timedelta(seconds=at_least_s + 59)
    return start.replace(second=0, microsecond=0)


def test_program_manager_runs_an_event_afternoon(browser, screenshot, tmp_path):
    started = time.monotonic()
    utility = factories.utility("Cascade Test Power")
    tz = ZoneInfo(utility.timezone)
    factories.member(utility, email="pm@cascade.test", first_name="Pat", last_name="Manager")
    program = factories.program(
        utility,
        name="Day Program",
        poll_rate_s=60,
        min_duration_min=1,
        max_events_per_day=None,
        min_notice_min=0,
    )
    group = factories.dispatch_group(utility, prog=program)
    built = pki.build_test_pki(tmp_path / "pki")
    identity = client_identity_from_der(built.aggregator.cert_der)
    agg = client_register(
        utility=utility, lfdi=identity.lfdi, kind="aggregator", name="agg", program=program
    )
    fleet_participants(program=program, client=agg, count=2, seed=0)
    (fading,) = fleet_participants(program=program, client=agg, count=1, seed=1)
    AlertRule.objects.create(
        utility=utility, kind=AlertKind.DEVICE_STALE, threshold_min=0, email=False
    )
    pem = built.aggregator_cert.read_bytes()
    env = subprocess_env(
        tmp_path,
        SEP2_TRUSTED_PROXIES="127.0.0.1",
        DEVICE_STALE_AFTER_S=str(STALE_AFTER_S),
        ALERTS_EVALUATE_INTERVAL_S="2",
        HEARTBEAT_INTERVAL_S="5",
    )
    logs = [tmp_path / n for n in ("asgi.log", "worker.log", "beat.log")]

    def fleet(devices: int, seed: int) -> Sep2Fleet:
        # time_scale 60: polls every 1 s (pollRate 60), telemetry every 5 s (300 s cadence).
        return Sep2Fleet(
            base_url=sep2, devices=devices, forwarded_cert_pem=pem, seed=seed, time_scale=60
        )

    with (
        asgi_server(env, logs[0]) as base,
        sep2_server(env, tmp_path / "sep2.log") as sep2,
        celery_worker(env, logs[1]),
        celery_beat(env, logs[2], tmp_path),
    ):
        fleet_a, fleet_b = fleet(2, seed=0), fleet(1, seed=1)
        thread_b = FleetThread(fleet_b)
        with FleetThread(fleet_a), thread_b:
            wait_until(
                lambda: (
                    fleet_a.stats.registered == 2
                    and fleet_b.stats.registered == 1
                    and fleet_a.stats.readings_posted >= 2
                    and fleet_b.stats.readings_posted >= 1
                ),
                timeout_s=40,
                what="both fleets registered and reporting",
                logs=logs,
            )
            # Two tabs of one session: the control room stays open while the form is used.
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            context.set_default_timeout(20_000)
            room = context.new_page()

            # 1. A program manager logs in.
            room.goto(f"{base}/accounts/login/")
            room.fill("#id_username", "pm@cascade.test")
            room.fill("#id_password", factories.PASSWORD)
            room.click("button[type=submit]")
            room.wait_for_url(f"{base}/")

            # 2. The control room moves while the fleet reports, without a reload.
            room.click("nav >> text=Control room")
            wait_in_page(
                room,
                "document.getElementById('live-state').textContent === 'live'",
                what="the control room's socket",
                logs=logs,
            )
            room.evaluate("window.__marker = 'control room'")
            points = chart_points(room, "#fleet-chart")
            wait_in_page(
                room,
                "n => document.querySelector('#fleet-chart')._plot.data[0].length > n + 1",
                arg=points,
                what="two live fleet points",
                logs=logs,
            )
            assert room.locator("#kpi-online").inner_text() == "3"
            assert room.locator("#upcoming-events").inner_text() == "Nothing scheduled."
            screenshot(room, "control-room")

            # 3. In another tab, an event is scheduled through the form, a little ahead.
            page = context.new_page()
            page.goto(f"{base}/")
            page.click("nav >> text=Events")
            page.goto(f"{base}/events/new/")
            start = next_whole_minute(tz=tz, at_least_s=20)
            page.select_option("#id_group", label=f"{program.name} · {group.name}")
            page.select_option("#id_kind", "discharge")
            page.fill("#id_start_local", start.strftime("%Y-%m-%dT%H:%M"))
            page.fill("#id_duration_min", "3")
            page.select_option("#id_setpoint_rule", "per_device")
            page.fill("#id_per_device_kw", str(SETPOINT_KW))
            page.check("#id_is_test")
            page.click("button:has-text('Schedule event')")
            page.wait_for_selector("#event-status.status-scheduled")
            scheduled_at = time.monotonic()
            event = Event.objects.get(program=program)
            assert page.url == f"{base}/events/{event.pk}/"
            assert event.start == start and event.status == EventStatus.SCHEDULED
            screenshot(page, "scheduled")
            # The open control room lists it at once (it used to wait for a 30 s refresh).
            wait_in_page(
                room,
                "id => document.querySelector(`#upcoming-events a[href='/events/${id}/']`)",
                arg=event.pk,
                what="the new event in the control room's upcoming list",
                logs=logs,
                timeout_s=10,
            )

            # 4. On the event's page: the badge turns Active and delivered power fills in live.
            page.evaluate("window.__marker = 'event page'")
            at_load = page.locator("#event-status").get_attribute("data-status")
            assert at_load == "scheduled", "started before its page was back: no live flip to see"
            wait_in_page(
                page,
                "document.getElementById('event-status').dataset.status === 'active'",
                what="the event badge to turn active",
                logs=logs,
                timeout_s=max(30, (start - timezone.now()).total_seconds() + 30),
            )
            assert page.locator("#event-status").inner_text() == "Active"
            active_at = time.monotonic()
            activation_lag_s = (timezone.now() - start).total_seconds()
            wait_in_page(
                page,
                "Number(document.getElementById('power-chart').dataset.livePoints || 0) >= 2"
                " && document.getElementById('power-chart')._plot.data[1].some(w => w > 1000)",
                what="delivered power points on the event chart",
                logs=logs,
                timeout_s=30,
            )
            assert page.evaluate("window.__marker") == "event page"
            # A 3-minute event fills the chart rather than being a sliver of two hours.
            span_s = page.evaluate(
                "(() => { const x = document.getElementById('power-chart')._plot.data[0];"
                " return x[x.length - 1] - x[0]; })()"
            )
            assert span_s <= 180 + 2 * 300 + 60, span_s
            assert page.locator("#live-delivered").inner_text().endswith("kW")
            screenshot(page, "event-live")

            # 5. Back in the control room tab, never reloaded: the event went live there too.
            wait_in_page(
                room,
                "id => document.getElementById('live-event-' + id) !== null",
                arg=event.pk,
                what="the active event's card in the control room",
                logs=logs,
                timeout_s=10,
            )
            room.bring_to_front()
            # One fleet stops; its device goes stale and the alert arrives live.
            assert not Alert.objects.filter(subject_key=f"device:{fading.pk}").exists()
            thread_b.__exit__(None, None, None)
            stopped = time.monotonic()
            row = f"#alert-rows li.alert-item:has(a[href='/devices/{fading.pk}/'])"
            wait_in_page(
                room,
                "sel => document.querySelector(sel) !== null",
                arg=row,
                what=f"a live stale alert for device {fading.pk}",
                logs=logs,
                timeout_s=STALE_AFTER_S + 30,
            )
            alert_seen_at = time.monotonic()
            assert room.evaluate("window.__marker") == "control room"  # no reload all along
            alert = Alert.objects.get(utility=utility, subject_key=f"device:{fading.pk}")
            assert alert.kind == AlertKind.DEVICE_STALE and alert.status == AlertStatus.OPEN
            assert fading.serial in room.locator(row).inner_text()
            assert room.locator("#no-alerts").is_hidden()
            screenshot(room, "alert")
            room.locator(row).get_by_role("button", name="Acknowledge").click()
            room.locator(row).get_by_text("Acknowledged").wait_for()
            alert.refresh_from_db()
            assert alert.status == AlertStatus.ACKNOWLEDGED
            assert alert.acknowledged_by.email == "pm@cascade.test"

            # 6. The alert leads to the right device.
            room.locator(row).get_by_role("link").click()
            room.wait_for_url(f"{base}/devices/{fading.pk}/")
            assert fading.serial in room.locator("h1").inner_text()
            assert fading.lfdi in room.content()
            screenshot(room, "device")
            context.close()
    print(
        f"\nday scenario: ready and scheduled after {scheduled_at - started:.0f} s, "
        f"active {active_at - scheduled_at:.0f} s later (whole-minute start; seen "
        f"{activation_lag_s:.1f} s after it), "
        f"alert {alert_seen_at - stopped:.0f} s after the fleet stopped; "
        f"total {time.monotonic() - started:.0f} s"
    )
    assert fleet_a.stats.errors == 0, fleet_a.stats.status_codes
