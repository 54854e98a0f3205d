import pytest
from django.urls import reverse
from django.utils import timezone

from programs.services import participant_add
from tests import factories

pytestmark = pytest.mark.django_db


def test_control_room_renders_fleet_events_and_regions(client_a, utility_a):
    now = timezone.now()
    factories.device(utility_a, power_w=2000, soc_pct=50, zip_code="97201", last_heard_at=now)
    factories.device(utility_a, power_w=1000, soc_pct=50, zip_code="97301", last_heard_at=now)
    event = factories.event(utility_a, status="active")
    response = client_a.get(reverse("portal:control-room"))
    assert response.status_code == 200
    data = response.context["data"]
    assert data["fleet"]["power_w"] == 3000
    assert [r["zip3"] for r in data["regions"]] == ["972", "973"]
    assert [e["event"] for e in data["active"]] == [event.pk]
    assert b'id="fleet-chart"' in response.content


def test_per_program_view_counts_only_its_participants(client_a, utility_a):
    now = timezone.now()
    program = factories.program(utility_a, status="active")
    inside = factories.device(utility_a, power_w=1500, last_heard_at=now)
    factories.device(utility_a, power_w=9000, last_heard_at=now)
    participant_add(program=program, device=inside)
    response = client_a.get(reverse("portal:control-room") + f"?program={program.pk}")
    assert response.context["data"]["fleet"]["power_w"] == 1500
    assert response.context["topic"] == f"program.{program.pk}"


def test_other_utilitys_program_is_a_404(client_a, utility_b):
    foreign = factories.program(utility_b)
    assert (
        client_a.get(reverse("portal:control-room") + f"?program={foreign.pk}").status_code == 404
    )
    assert client_a.get(reverse("portal:control-room") + "?program=x").status_code == 404


def test_catch_up_endpoint(client_a, utility_a):
    url = reverse("portal:control-room-data")
    body = client_a.get(url + f"?since={timezone.now().timestamp() - 60}").json()
    assert set(body) == {"fleet", "history", "active", "upcoming", "regions"}
    assert client_a.get(url + "?since=soon").status_code == 400
    assert client_a.get(url + "?since=1e300").status_code == 400
