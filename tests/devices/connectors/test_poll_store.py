"""A polling round stores each batch of readings while the next batch is being polled."""

import threading
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from devices.choices import SiteStatus
from devices.connectors import services
from devices.connectors.sunspec.client import PollOutcome
from devices.models import ConnectorSite, TelemetrySample
from devices.services import POLL_LEASE
from tests import factories
from tests.devices.conftest import utility  # noqa: F401 - the fixture

WAIT_S = 10.0


class FakeFleet:
    """Stands in for `poll_sites`: every site answers, in batches whose order is recorded.
    A batch after the first may be made to wait until the first batch has been stored."""

    def __init__(self, *, hold_after_first: bool = False, fail_on: int | None = None):
        self.first_stored = threading.Event()
        self.hold_after_first = hold_after_first
        self.fail_on = fail_on
        self.batches: list[list[str]] = []

    async def poll_sites(self, sites, *, now, **backoff):
        import asyncio

        sites = list(sites)
        number = len(self.batches)
        self.batches.append([s.site_id for s in sites])
        if number == self.fail_on:
            raise RuntimeError("the poll broke")
        if number > 0 and self.hold_after_first:
            # Polling goes on only once the first batch is stored: a round that polled
            # everything before storing anything would wait here in vain.
            stored = await asyncio.to_thread(self.first_stored.wait, WAIT_S)
            assert stored, "the first batch was not stored while the next was polled"
        return [
            PollOutcome(s.site_id, now, "ok", {"w": 100.0 + number, "soc_pct": 50.0}) for s in sites
        ]


@pytest.fixture
def five_sites(utility, monkeypatch):  # noqa: F811 - the fixture
    monkeypatch.setattr(services, "STORE_BATCH", 2)
    return [factories.connector_site(utility) for _ in range(5)]


def _install(monkeypatch, fleet: FakeFleet, ingest_error: Exception | None = None):
    ingest = services.telemetry_ingest
    calls = []

    def recorded_ingest(**kwargs):
        calls.append(sorted(r.device_id for r in kwargs["readings"]))
        if ingest_error is not None:
            raise ingest_error
        result = ingest(**kwargs)
        fleet.first_stored.set()
        return result

    monkeypatch.setattr(services, "poll_sites", fleet.poll_sites)
    monkeypatch.setattr(services, "telemetry_ingest", recorded_ingest)
    return calls


def test_each_batch_is_stored_once_while_the_next_is_polled(five_sites, monkeypatch):
    fleet = FakeFleet(hold_after_first=True)
    calls = _install(monkeypatch, fleet)
    now = timezone.now() - timedelta(minutes=1)

    summary = services.connectors_poll(now=now)

    pks = [str(s.pk) for s in sorted(five_sites, key=lambda s: s.pk)]
    assert fleet.batches == [pks[0:2], pks[2:4], pks[4:5]]
    assert (summary.polled, summary.online, summary.offline) == (5, 5, 0)
    assert (summary.ingests, summary.readings_accepted, summary.rejected) == (3, 10, 0)
    devices = sorted(s.device_id for s in five_sites)
    assert sorted(d for call in calls for d in call) == sorted(devices * 2)  # w and soc_pct
    per_device = TelemetrySample.objects.filter(at=now).values("device_id", "channel")
    assert sorted(per_device.annotate(n=Count("id")).values_list("device_id", "n")) == sorted(
        [(d, 1) for d in devices] * 2
    )
    assert set(ConnectorSite.objects.values_list("status", flat=True)) == {SiteStatus.ONLINE}
    assert set(ConnectorSite.objects.values_list("last_polled_at", flat=True)) == {now}


def test_a_failed_store_ends_the_round_after_polling_and_keeps_the_rest_leased(
    five_sites, monkeypatch
):
    fleet = FakeFleet()
    _install(monkeypatch, fleet, ingest_error=RuntimeError("the database broke"))
    now = timezone.now() - timedelta(minutes=1)

    with pytest.raises(RuntimeError, match="the database broke"):
        services.connectors_poll(now=now)

    # The first batch's outcomes were recorded, the others keep the claim's lease and are
    # polled again when it ends; nothing is left running in the poll thread.
    assert ConnectorSite.objects.filter(last_polled_at=now).count() == 2
    leased = ConnectorSite.objects.filter(last_polled_at__isnull=True)
    assert set(leased.values_list("next_attempt_at", flat=True)) == {now + POLL_LEASE}
    assert services._poll_thread().submit(lambda: "idle").result(timeout=WAIT_S) == "idle"
    assert not TelemetrySample.objects.filter(at=now).exists()


def test_a_failed_poll_is_raised_after_the_batches_before_it_are_stored(five_sites, monkeypatch):
    fleet = FakeFleet(fail_on=2)
    _install(monkeypatch, fleet)
    now = timezone.now() - timedelta(minutes=1)

    with pytest.raises(RuntimeError, match="the poll broke"):
        services.connectors_poll(now=now)

    assert ConnectorSite.objects.filter(last_polled_at=now).count() == 4
    assert TelemetrySample.objects.filter(at=now).count() == 8
