"""A small completed event to reconcile: devices, dispatches and telemetry as readings."""

from datetime import UTC, datetime, timedelta

import pytest

from devices.services import Reading, telemetry_ingest
from programs.models import Dispatch
from settlement.models import SettlementRules
from tests import factories

# Wednesday 15 July 2026, 18:00-19:00 UTC (the utility works in UTC to keep clocks simple).
START = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)
LATER = datetime(2026, 8, 1, tzinfo=UTC)


@pytest.fixture
def utility(db):
    return factories.utility("Settle Power", slug="settle", timezone="UTC")


@pytest.fixture
def program(utility):
    # Telemetry every minute, so each minute of the window is an interval to cover.
    return factories.program(utility, telemetry_cadence_s=60)


@pytest.fixture
def rules(program):
    return SettlementRules.objects.create(utility=program.utility, program=program)


@pytest.fixture
def group(utility, program):
    return factories.dispatch_group(utility, prog=program)


@pytest.fixture
def make_event(utility, group):
    def make(start=START, duration_s=3600, **fields):
        fields.setdefault("status", "completed")
        return factories.event(utility, group=group, start=start, duration_s=duration_s, **fields)

    return make


@pytest.fixture
def event(make_event):
    return make_event()


@pytest.fixture
def dispatched(utility, event):
    """A device dispatched into ``event`` with the given commitment."""

    def make(committed_w=5000, *, to=None, last_response=None, **device_fields):
        device = factories.device(utility, **device_fields)
        Dispatch.objects.create(
            utility=utility,
            event=to or event,
            device=device,
            setpoint_w=committed_w,
            committed_w=committed_w,
            last_response=last_response,
        )
        return device

    return make


def readings(device, channel, start, minutes, value, *, step_s=60, offset_s=0):
    """One reading every ``step_s`` from ``start`` for ``minutes``; value may be a function."""
    out = []
    for i in range(minutes * 60 // step_s):
        at = start + timedelta(seconds=i * step_s + offset_s)
        v = value(i) if callable(value) else value
        out.append(Reading(device_id=device.pk, at=at, channel=channel, value=v))
    return out


@pytest.fixture
def ingest(utility):
    def send(*batches):
        rows = [r for batch in batches for r in batch]
        return telemetry_ingest(utility=utility, readings=rows, source="test", now=LATER)

    return send
