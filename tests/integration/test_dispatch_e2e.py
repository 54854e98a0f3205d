"""Dispatch end to end: event → beat → worker → DERControl → simulated fleet → Responses.

Real processes: nginx terminating mutual TLS in front of uvicorn, a Celery worker and beat,
all against the test database; the 2030.5 clients are `devices.simulator.sep2_fleet`
batteries on their own event loop, connecting over TLS with the aggregator certificate.
The late Response at the end goes straight to uvicorn as nginx would forward it.
"""

import time
import urllib.request
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from devices.models import Device
from devices.simulator.sep2_fleet import Sep2Fleet
from programs.choices import EventStatus
from programs.models import Dispatch, Event
from programs.services import event_cancel, event_create
from protocol import pki
from protocol.identity import client_identity_from_der
from protocol.managers.derp import der_control_mrid
from protocol.models import ControlResponse, EndDevice
from protocol.services import client_register
from protocol.transport import proxy_headers
from protocol.xml import SEP_CONTENT_TYPE, parse, serialize
from protocol.xml.resources.response import DERControlResponse
from tests import factories
from tests.integration.fleet import FleetThread, fleet_participants
from tests.integration.servers import (
    celery_beat,
    celery_worker,
    sep2_server,
    subprocess_env,
    wait_until,
)
from tests.integration.test_sep2_mtls import mutual_tls_proxy

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DEVICES = 3
SETPOINT_W = 2000


def control_mrid(lfdi: str, event) -> str:
    """The mRID of `event` as the DERControl of the EndDevice with this LFDI."""
    return der_control_mrid(EndDevice.objects.get(lfdi=lfdi), event)


def responses(event) -> set[int]:
    return set(ControlResponse.objects.filter(event=event).values_list("status", flat=True))


def sep_get(base: str, pem: bytes, path: str):
    request = urllib.request.Request(base + path, headers=proxy_headers(pem))
    with urllib.request.urlopen(request, timeout=10) as answer:
        return parse(answer.read())


def sep_post(base: str, pem: bytes, path: str, body) -> int:
    request = urllib.request.Request(
        base + path,
        data=serialize(body),
        method="POST",
        headers={
            **proxy_headers(pem),
            "Content-Type": SEP_CONTENT_TYPE,
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status


def test_event_dispatched_to_simulated_fleet(tmp_path):
    utility = factories.utility()
    manager = factories.member(utility)
    program = factories.program(
        utility, poll_rate_s=60, min_duration_min=1, max_events_per_day=None
    )
    group = factories.dispatch_group(utility, prog=program)
    built = pki.build_test_pki(tmp_path / "pki")
    identity = client_identity_from_der(built.aggregator.cert_der)
    agg = client_register(
        utility=utility, lfdi=identity.lfdi, kind="aggregator", name="agg", program=program
    )
    devices = fleet_participants(program=program, client=agg, count=DEVICES)
    pem = built.aggregator_cert.read_bytes()
    env = subprocess_env(tmp_path, SEP2_TRUSTED_PROXIES="127.0.0.1")
    logs = [tmp_path / n for n in ("asgi.log", "worker.log", "beat.log")]
    with (
        sep2_server(env, logs[0]) as base,
        mutual_tls_proxy(tmp_path, built, urlparse(base).port) as tls_port,
        celery_worker(env, logs[1]),
        celery_beat(env, logs[2], tmp_path),
    ):
        # time_scale 60: polls every 1 s (pollRate 60), telemetry every 5 s (300 s cadence).
        fleet = Sep2Fleet(
            base_url=f"https://127.0.0.1:{tls_port}",
            devices=DEVICES,
            cert_path=built.aggregator_cert,
            key_path=built.aggregator_key,
            ca_path=built.ca_bundle,
            time_scale=60,
        )
        with FleetThread(fleet):
            wait_until(
                lambda: fleet.stats.registered == DEVICES and fleet.stats.polls >= DEVICES,
                timeout_s=30,
                what="fleet registered",
                logs=logs,
            )
            start = timezone.now() + timedelta(seconds=20)
            first = event_create(
                program=program,
                group=group,
                kind="discharge",
                start=start,
                duration_s=60,
                per_device_w=SETPOINT_W,
                actor=manager,
                is_test=True,
            )
            second = event_create(
                program=program,
                group=group,
                kind="discharge",
                start=start + timedelta(seconds=65),
                duration_s=60,
                per_device_w=SETPOINT_W,
                actor=manager,
                is_test=True,
            )
            # (1) the scheduled event reaches the clients as a scheduled DERControl
            sim = fleet.devices[0]
            first_mrid = control_mrid(sim.lfdi, first)
            # Each device has its own copy, with its own mRID (issue 23): every one arrives.
            copies = {control_mrid(d.lfdi, first) for d in fleet.devices}
            assert len(copies) == DEVICES
            wait_until(
                lambda: copies <= fleet.stats.first_seen.keys(),
                timeout_s=15,
                what="DERControl seen",
            )
            assert sim.controls[first_mrid].status == 0
            assert time.time() < start.timestamp()
            wait_until(lambda: responses(first) == {1}, timeout_s=10, what="Response 1", logs=logs)

            # (2) beat's one-off schedule has the worker activate it at its start
            wait_until(
                lambda: Event.objects.get(pk=first.pk).status == EventStatus.ACTIVE,
                timeout_s=40,
                what="event active",
                logs=logs,
            )
            assert timezone.now() >= start
            wait_until(lambda: 2 in responses(first), timeout_s=10, what="Response 2", logs=logs)

            # The batteries follow their Dispatch setpoints, and telemetry shows it.
            setpoints = {
                Device.objects.get(pk=device_id).lfdi: w
                for device_id, w in Dispatch.objects.filter(event=first).values_list(
                    "device_id", "setpoint_w"
                )
            }
            assert len(setpoints) == DEVICES and all(w > 0 for w in setpoints.values())
            wait_until(
                lambda: all(
                    abs(d.battery.battery_w - setpoints[d.lfdi]) < 100 for d in fleet.devices
                ),
                timeout_s=15,
                what="batteries at the setpoint",
            )
            wait_until(
                lambda: all(
                    abs((Device.objects.get(pk=d.pk).power_w or 0) - setpoints[d.lfdi]) < 150
                    for d in devices
                ),
                timeout_s=20,
                what="telemetry at the setpoint",
                logs=logs,
            )

            # (3, 4) it completes, and every device answered 1, 2 and 3
            wait_until(
                lambda: Event.objects.get(pk=first.pk).status == EventStatus.COMPLETED,
                timeout_s=60,
                what="event completed",
                logs=logs,
            )
            wait_until(
                lambda: ControlResponse.objects.filter(event=first, status=3).count() == DEVICES,
                timeout_s=15,
                what="Responses 3",
                logs=logs,
            )
            assert responses(first) == {1, 2, 3}
            assert set(
                Dispatch.objects.filter(event=first).values_list("last_response", flat=True)
            ) == {3}

            # (5) the second event is cancelled mid-event
            wait_until(
                lambda: 2 in responses(second),
                timeout_s=40,
                what=f"second event started {time.time()} {sim.controls} {fleet.stats.responses}",
                logs=logs,
            )
            event_cancel(event=Event.objects.get(pk=second.pk), actor=manager, reason="test")
            wait_until(
                lambda: ControlResponse.objects.filter(event=second, status=6).count() == DEVICES,
                timeout_s=15,
                what="Responses 6",
                logs=logs,
            )
            wait_until(
                lambda: all(d.setpoint_w is None for d in fleet.devices),
                timeout_s=5,
                what="setpoints released",
            )
            edev = sim.edev
            fsa = sep_get(base, pem, edev.function_set_assignments_list_link.href)
            derp = sep_get(
                base, pem, fsa.function_set_assignments[0].der_program_list_link.href
            ).der_programs[0]
            controls = sep_get(base, pem, derp.der_control_list_link.href + "?l=10").der_controls
            second_mrid = control_mrid(sim.lfdi, second)
            cancelled = next(c for c in controls if c.mrid == second_mrid)
            assert cancelled.event_status.current_status == 2
            # A late Response is still accepted.
            late = DERControlResponse(
                created_date_time=int(time.time()),
                end_device_lfdi=sim.lfdi,
                status=3,
                subject=second_mrid,
            )
            assert sep_post(base, pem, "/rsp", late) in (201, 204)
    assert fleet.stats.errors == 0, fleet.stats.status_codes
