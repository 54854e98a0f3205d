"""The event summary: MW totals, the 5-minute delivery curve, the funnel and worst devices."""

from datetime import timedelta

import pytest

from programs.models import Dispatch
from settlement.reconciliation import event_reconcile
from settlement.selectors import event_summary, factor_histogram
from tests.settlement.conftest import START, readings


@pytest.fixture
def summary(rules, event, dispatched, ingest):
    event.target_w = 10_000
    event.save()
    strong = dispatched(5000, last_response=3)  # completed
    weak = dispatched(5000)  # never answered
    # Strong: 4,000 W, weak: 1,000 W during; both 0 W for 30 minutes before.
    # Delivered: 5,000 W = 0.005 MW against 10,000 W requested, 10,000 W committed.
    for device, watts in ((strong, 4000.0), (weak, 1000.0)):
        ingest(
            readings(device, "w", START - timedelta(minutes=30), 30, 0.0),
            readings(device, "w", START, 60, watts),
        )
    event_reconcile(event=event)
    return event_summary(event=event), strong, weak


def test_totals_funnel_and_worst_devices(summary):
    s, strong, weak = summary
    assert (s.requested_mw, s.committed_mw, s.delivered_mw) == (0.01, 0.01, 0.005)
    assert (s.dispatched, s.counted) == (2, 2)
    assert s.funnel["dispatched"] == 2 and s.funnel["completed"] == 1 and s.funnel["silent"] == 1
    # Worst first: weak at 1000/5000 = 0.2, then strong at 0.8.
    assert [r.device_id for r in s.worst] == [weak.pk, strong.pk]
    assert sorted(s.factors) == [0.2, 0.8]


def test_delivery_curve_in_five_minute_buckets(summary):
    s, _, _ = summary
    curve = s.curve
    start = int(START.timestamp())
    # Telemetry from 17:30 to 18:59: buckets 17:30 ... 18:55, 18 of them.
    assert curve["t"][0] == start - 1800 and len(curve["t"]) == 18
    during = [i for i, t in enumerate(curve["t"]) if t >= start]
    before = [i for i, t in enumerate(curve["t"]) if t < start]
    # Before: 0 W less 0 W baselines = 0 MW, nothing requested.
    assert all(curve["delivered_mw"][i] == 0 and curve["requested_mw"][i] == 0 for i in before)
    # During: 4000 + 1000 = 5000 W = 0.005 MW delivered, 0.01 MW requested.
    assert all(curve["delivered_mw"][i] == 0.005 for i in during)
    assert all(curve["requested_mw"][i] == 0.01 for i in during)


def test_factor_histogram():
    bins = factor_histogram([0.2, 0.8, 1.0, 0.0], bins=10, top=1.0)
    # 0.0 in the first bin; 0.2 in [0.2, 0.3); 0.8 and the cap 1.0 in the top two.
    assert [b["n"] for b in bins] == [1, 0, 1, 0, 0, 0, 0, 0, 1, 1]


def test_unreconciled_event_summary(rules, event, dispatched):
    dispatched(5000)
    s = event_summary(event=event)
    assert s.run is None and s.delivered_mw == 0 and s.worst == []
    assert Dispatch.objects.filter(event=event).count() == s.dispatched == 1
