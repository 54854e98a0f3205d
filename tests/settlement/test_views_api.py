"""Settlement pages and API: tenant-scoped, analysts read, managers approve; the signal path."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from portal.celery import app as celery_app
from programs.models import Participant, Season
from programs.services import event_complete
from settlement.models import PaymentBatch, ReconciliationRun, SeasonSettlement
from settlement.services import event_reconcile, payment_batch_create, season_settle
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for
from tests.settlement.conftest import START, readings


@pytest.fixture
def settled(rules, utility, program, event, dispatched, ingest):
    rules.kw_season_rate = Decimal("40")
    rules.save()
    season = Season.objects.create(
        utility=utility,
        program=program,
        name="Summer",
        start_date=date(2026, 6, 1),
        end_date=date(2026, 9, 30),
    )
    d = dispatched(5000)
    Participant.objects.create(utility=utility, program=program, device=d, joined_at=START)
    # 4,000 W over the hour against 0 W before: 4.00 kW x $40 = $160.00.
    ingest(
        readings(d, "w", START - timedelta(minutes=30), 30, 0.0),
        readings(d, "w", START, 60, 4000.0),
    )
    event_reconcile(event=event)
    settlement = season_settle(season=season)
    batch = payment_batch_create(program=program, period="Summer 2026", settlement=settlement)
    return {"season": season, "settlement": settlement, "batch": batch, "event": event}


def test_pages_render_for_an_analyst(client, utility, program, settled):
    client.force_login(factories.member(utility, Role.ANALYST))
    pages = [
        reverse("settlement:home"),
        reverse("settlement:event", args=[settled["event"].pk]),
        reverse("settlement:program", args=[program.pk]),
        reverse("settlement:settlement", args=[settled["settlement"].pk]),
        reverse("settlement:batch", args=[settled["batch"].pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
    body = client.get(reverse("settlement:settlement", args=[settled["settlement"].pk]))
    assert "avg 4.00 kW \u00d7 $40.00/kW-season = $160.00" in body.content.decode()
    event_page = client.get(reverse("settlement:event", args=[settled["event"].pk])).content
    assert b"uPlot.iife.min.js" in event_page and b"settlement-chart" in event_page
    csv = client.get(reverse("settlement:batch-csv", args=[settled["batch"].pk]))
    assert csv["Content-Type"] == "text/csv"
    assert b",160.00,Summer 2026,PERF" in csv.content
    # Analysts read but neither approve nor recompute.
    assert (
        client.post(reverse("settlement:batch-approve", args=[settled["batch"].pk])).status_code
        == 403
    )
    assert (
        client.post(reverse("settlement:recompute", args=[settled["event"].pk])).status_code == 403
    )


def test_manager_approves_and_recomputes_from_the_pages(client, utility, settled):
    client.force_login(factories.member(utility, Role.PROGRAM_MANAGER))
    response = client.post(reverse("settlement:batch-approve", args=[settled["batch"].pk]))
    assert response.status_code == 302
    assert PaymentBatch.objects.get(pk=settled["batch"].pk).status == "approved"
    client.post(reverse("settlement:recompute", args=[settled["event"].pk]))
    assert ReconciliationRun.objects.filter(event=settled["event"]).count() == 1  # same inputs
    client.post(reverse("settlement:season-settle", args=[settled["season"].pk]))
    assert SeasonSettlement.objects.filter(season=settled["season"]).count() == 2


def test_operator_cannot_approve(client, utility, settled):
    client.force_login(factories.member(utility, Role.OPERATOR))
    response = client.post(reverse("settlement:batch-approve", args=[settled["batch"].pk]))
    assert response.status_code == 403


def test_api_reads_and_approval_permissions(utility, settled):
    analyst = api_client_for(factories.member(utility, Role.ANALYST))
    manager = api_client_for(factories.member(utility, Role.PROGRAM_MANAGER))
    rows = analyst.get("/api/v1/settlements/").json()["results"]
    assert [(r["total"], r["payments"]) for r in rows] == [("160.00", 1)]
    results = analyst.get(f"/api/v1/event-results/?event={settled['event'].pk}").json()
    (only,) = results["results"]
    assert only["delivered_w"] == 4000.0 and only["performance_factor"] == "0.8000"
    url = f"/api/v1/payment-batches/{settled['batch'].pk}/approve/"
    assert analyst.post(url).status_code == 403
    assert PaymentBatch.objects.get(pk=settled["batch"].pk).status == "draft"
    response = manager.post(url)
    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert manager.post(url).status_code == 409  # already final
    assert (
        analyst.post("/api/v1/event-results/recompute/", {"event": settled["event"].pk}).status_code
        == 403
    )
    response = manager.post("/api/v1/event-results/recompute/", {"event": settled["event"].pk})
    assert response.status_code == 200 and response.json()["version"] == 1


def test_api_hides_other_utilities(utility, settled):
    other = factories.utility()
    api = api_client_for(factories.member(other, Role.PROGRAM_MANAGER))
    assert api.get("/api/v1/settlements/").json()["results"] == []
    assert api.get("/api/v1/event-results/").json()["results"] == []
    assert api.post(f"/api/v1/payment-batches/{settled['batch'].pk}/approve/").status_code == 404
    assert (
        api.post("/api/v1/event-results/recompute/", {"event": settled["event"].pk}).status_code
        == 404
    )


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_completing_an_event_queues_its_reconciliation(
    rules, make_event, dispatched, ingest, eager_celery, django_capture_on_commit_callbacks
):
    event = make_event(status="active")
    d = dispatched(5000, to=event)
    ingest(
        readings(d, "w", START - timedelta(minutes=30), 30, 0.0),
        readings(d, "w", START, 60, 4000.0),
    )
    with django_capture_on_commit_callbacks(execute=True):
        event_complete(event_id=event.pk, now=datetime(2026, 7, 15, 19, 0, 5, tzinfo=UTC))
    run = ReconciliationRun.objects.get(event=event, is_current=True)
    assert run.results.get().delivered_w == 4000.0
