"""Connector site bookkeeping: claiming due sites, recording polls, logging commands."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.forms.models import model_to_dict

from devices.choices import SiteStatus
from devices.models import ConnectorSite
from devices.services import (
    POLL_LEASE,
    connector_command_log,
    connector_site_create,
    connector_site_record_poll,
    connector_sites_claim,
)
from tests import factories
from tests.devices.conftest import NOW


def test_claim_takes_due_sites_once_until_they_are_recorded(utility):
    due = factories.connector_site(utility)
    later = factories.connector_site(utility, next_attempt_at=NOW + timedelta(seconds=5))
    factories.connector_site(utility, enabled=False)
    assert [s.pk for s in connector_sites_claim(now=NOW)] == [due.pk]
    # An overlapping round (beat firing again) finds nothing left to poll.
    assert connector_sites_claim(now=NOW + timedelta(seconds=1)) == []
    due.refresh_from_db()
    assert due.next_attempt_at == NOW + POLL_LEASE
    assert [s.pk for s in connector_sites_claim(now=NOW + timedelta(seconds=6))] == [later.pk]


def test_record_poll_online_then_offline_then_backoff(utility):
    site = factories.connector_site(utility, poll_interval_s=30)
    connector_site_record_poll(site=site, at=NOW, ok=True, model_map={"base_address": 40000})
    site.refresh_from_db()
    assert (site.status, site.last_ok_at, site.failures) == (SiteStatus.ONLINE, NOW, 0)
    assert site.next_attempt_at == NOW + timedelta(seconds=30)
    assert site.model_map == {"base_address": 40000}

    retry = NOW + timedelta(seconds=5)
    connector_site_record_poll(
        site=site, at=NOW, ok=False, error="refused", failures=1, retry_at=retry
    )
    site.refresh_from_db()
    assert (site.status, site.failures, site.next_attempt_at) == (SiteStatus.OFFLINE, 1, retry)
    assert site.last_ok_at == NOW and site.model_map == {"base_address": 40000}
    connector_site_record_poll(
        site=site, at=NOW, ok=False, error="refused", failures=2, retry_at=retry
    )
    site.refresh_from_db()
    assert site.status == SiteStatus.BACKOFF and site.last_error == "refused"


def test_site_refuses_another_utilitys_device(utility, other_utility):
    foreign = factories.device(other_utility)
    with pytest.raises(ValidationError):
        connector_site_create(utility=utility, name="x", host="h", device=foreign)


def test_command_log_keeps_the_event_by_id(utility):
    site = factories.connector_site(utility)
    command = connector_command_log(
        site=site, kind="setpoint", at=NOW, ok=True, requested_w=-2000, event_id=42, event_mrid="AB"
    )
    assert (command.utility_id, command.device_id, command.event_id) == (
        utility.pk,
        site.device_id,
        42,
    )


def test_claim_returns_the_sites_as_stored_with_their_utility(utility, other_utility):
    mapped = factories.connector_site(utility, model_map={"base_address": 40000, "models": []})
    other = factories.connector_site(other_utility)
    claimed = connector_sites_claim(now=NOW)
    assert [s.pk for s in claimed] == sorted([mapped.pk, other.pk])
    for site in claimed:
        stored = ConnectorSite.objects.get(pk=site.pk)
        assert model_to_dict(site) == model_to_dict(stored)
        assert (site.next_attempt_at, site.created_at) == (NOW + POLL_LEASE, stored.created_at)
        assert site._state.adding is False
    assert claimed[0].model_map == {"base_address": 40000, "models": []}
    assert [s.utility.slug for s in claimed] == ["pacific", "rocky"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one UPDATE ... RETURNING")
def test_claim_is_one_statement_on_postgresql(utility, django_assert_num_queries):
    for _ in range(3):
        factories.connector_site(utility)
    with django_assert_num_queries(1):
        claimed = connector_sites_claim(now=NOW, limit=2)
    with django_assert_num_queries(0):
        assert len({s.utility.pk for s in claimed}) == 1
    assert len(claimed) == 2 and len(connector_sites_claim(now=NOW)) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED")
@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_get_disjoint_sites():
    utility = factories.utility("Claim Power", slug="claim")
    sites = {factories.connector_site(utility).pk for _ in range(6)}
    held, other = [], []

    def claim_in_another_connection():
        try:
            other.extend(s.pk for s in connector_sites_claim(now=NOW))
        finally:
            connections.close_all()

    with transaction.atomic():  # the first round still holds its claimed rows locked
        held.extend(s.pk for s in connector_sites_claim(now=NOW, limit=4))
        thread = threading.Thread(target=claim_in_another_connection)
        thread.start()
        thread.join(timeout=30)
    assert len(held) == 4 and len(other) == 2
    assert set(held) | set(other) == sites
