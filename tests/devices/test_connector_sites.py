"""Connector site bookkeeping: claiming due sites, recording polls, logging commands."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from devices.choices import SiteStatus
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
