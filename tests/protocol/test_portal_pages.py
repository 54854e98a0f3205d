"""Portal pages: a utility's 2030.5 clients and EndDevices, and revoking a client."""

import pytest
from django.urls import reverse

from tenancy.choices import Role
from tests import factories
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

pytestmark = pytest.mark.django_db


def test_list_shows_this_utilitys_clients_and_end_devices(client_a, utility_a, utility_b):
    program, _ = program_with_group(utility_a)
    mine = actor(utility_a, program=program, name="Mine Aggregator")
    ed = enrolled_end_device(utility_a, client=mine.client, program=program)
    actor(utility_b, name="Foreign Aggregator")
    response = client_a.get(reverse("protocol:client-list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Mine Aggregator" in body and mine.lfdi in body and ed.lfdi in body
    assert "Foreign Aggregator" not in body


def test_revoke_takes_effect_at_once(client_a, utility_a):
    agg = actor(utility_a, name="X")
    assert agg.http.get("/dcap").status_code == 200
    response = client_a.post(reverse("protocol:client-revoke", args=[agg.client.pk]))
    assert response.status_code == 302
    assert agg.http.get("/dcap").status_code == 403


def test_analysts_cannot_revoke(client, utility_a):
    agg = actor(utility_a, name="X")
    client.force_login(factories.member(utility_a, Role.ANALYST))
    response = client.post(reverse("protocol:client-revoke", args=[agg.client.pk]))
    assert response.status_code == 403
    agg.client.refresh_from_db()
    assert not agg.client.revoked
