from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from portal.alerts import alerts_evaluate
from portal.models import Alert, AlertRule, Heartbeat
from portal.tasks import alert_email
from tenancy.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()


def test_stale_device_opens_one_alert_and_resolves_when_it_reports(utility_a, manager_a):
    now = timezone.now()
    rule = AlertRule.objects.create(utility=utility_a, kind="device_stale", threshold_min=15)
    silent = factories.device(utility_a, last_heard_at=now - timedelta(minutes=20))
    factories.device(utility_a, last_heard_at=now - timedelta(minutes=5))
    factories.device(factories.utility(), last_heard_at=now - timedelta(hours=5))

    assert alerts_evaluate(now=now) == {"opened": 1, "resolved": 0}
    assert alerts_evaluate(now=now + timedelta(seconds=30)) == {"opened": 0, "resolved": 0}
    alert = Alert.objects.get()
    assert alert.rule == rule and alert.subject_key == f"device:{silent.pk}"
    assert "has not reported for 20 min" in alert.message

    silent.last_heard_at = now + timedelta(minutes=1)
    silent.save()
    assert alerts_evaluate(now=now + timedelta(minutes=2)) == {"opened": 0, "resolved": 1}
    # A second silence later opens a new alert; the old one stays resolved as history.
    assert alerts_evaluate(now=now + timedelta(minutes=40))["opened"] == 2
    assert Alert.objects.filter(status="resolved").count() == 1


def test_stale_rule_never_alerts_before_the_fleet_calls_a_device_stale(utility_a, settings):
    settings.DEVICE_STALE_AFTER_S = 20
    now = timezone.now()
    AlertRule.objects.create(utility=utility_a, kind="device_stale", threshold_min=0)
    quiet = factories.device(utility_a, last_heard_at=now - timedelta(seconds=10))
    silent = factories.device(utility_a, last_heard_at=now - timedelta(seconds=45))

    assert alerts_evaluate(now=now) == {"opened": 1, "resolved": 0}
    alert = Alert.objects.get()
    assert alert.subject_key == f"device:{silent.pk}"
    assert alert.subject_url == f"/devices/{silent.pk}/"
    assert "has not reported for 45 s" in alert.message
    assert not Alert.objects.filter(subject_key=f"device:{quiet.pk}").exists()


def test_alerts_evaluation_interval_is_a_setting():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["portal.alerts_evaluate"]
    assert entry["schedule"].run_every.total_seconds() == settings.ALERTS_EVALUATE_INTERVAL_S


def test_shortfall_must_last_before_alerting(utility_a):
    AlertRule.objects.create(
        utility=utility_a, kind="delivery_shortfall", threshold_min=10, threshold_pct=80
    )
    event = factories.event(utility_a, status="active")
    dispatch = factories.dispatch(utility_a)
    dispatch.event, dispatch.setpoint_w = event, 10_000
    dispatch.save()
    now = timezone.now()
    dispatch.device.power_w, dispatch.device.last_heard_at = 5000, now
    dispatch.device.save()
    assert alerts_evaluate(now=now)["opened"] == 0  # 50 %, but only just now
    assert alerts_evaluate(now=now + timedelta(minutes=11))["opened"] == 1
    assert "delivering 50 % of its request" in Alert.objects.get().message


def test_late_heartbeat(utility_a):
    AlertRule.objects.create(utility=utility_a, kind="heartbeat_late", threshold_min=2)
    now = timezone.now()
    Heartbeat.objects.create(source="beat", at=now)
    Heartbeat.objects.create(source="worker", at=now - timedelta(minutes=5))
    alerts_evaluate(now=now)
    assert [a.subject_key for a in Alert.objects.all()] == ["heartbeat:worker"]


def test_alert_email_goes_to_program_managers(utility_a, manager_a, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    factories.member(utility_a, Role.ANALYST)
    alert = factories.alert(utility_a)
    alert_email(alert.pk)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["pm@alpha.test"]
    assert "Device silent" in mail.outbox[0].body


def test_acknowledge_and_resolve_from_the_list(client_a, utility_a, manager_a):
    alert = factories.alert(utility_a)
    page = client_a.get(reverse("portal:alert-list"))
    assert alert.message in page.content.decode()
    response = client_a.post(
        reverse("portal:alert-action", args=[alert.pk, "acknowledge"]), HTTP_HX_REQUEST="true"
    )
    assert b"Acknowledged" in response.content
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.acknowledged_by == manager_a
    client_a.post(reverse("portal:alert-action", args=[alert.pk, "resolve"]))
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert alert.message not in client_a.get(reverse("portal:alert-list")).content.decode()
    assert (
        client_a.post(reverse("portal:alert-action", args=[alert.pk, "explode"])).status_code == 404
    )


def test_control_room_alert_card_is_a_list_that_acknowledges_in_place(client_a, utility_a):
    alert = factories.alert(utility_a)
    page = client_a.get(reverse("portal:control-room")).content.decode()
    assert f'<li id="alert-{alert.pk}" class="alert-item status-row-open"' in page
    assert "<tr" not in page.split('id="alert-rows"')[1].split("</ul>")[0]

    response = client_a.post(
        reverse("portal:alert-action", args=[alert.pk, "acknowledge"]),
        {"compact": "1"},
        HTTP_HX_REQUEST="true",
    )
    item = response.content.decode()
    assert item.lstrip().startswith(f'<li id="alert-{alert.pk}" class="alert-item')
    assert "Acknowledged" in item and ">Acknowledge<" not in item and ">Resolve<" in item


def test_a_live_alert_carries_its_labels():
    from portal.alerts import alert_as_dict

    alert = factories.alert(factories.utility())
    data = alert_as_dict(alert)
    assert (data["kind_label"], data["status_label"]) == ("Device stale", "Open")


def test_analyst_cannot_acknowledge(client, utility_a):
    alert = factories.alert(utility_a)
    client.force_login(factories.member(utility_a, Role.ANALYST))
    assert (
        client.post(reverse("portal:alert-action", args=[alert.pk, "acknowledge"])).status_code
        == 403
    )
    alert.refresh_from_db()
    assert alert.status == "open"


def test_alert_api_acknowledge_is_scoped_and_role_checked(api_a, utility_a, utility_b):
    mine, theirs = factories.alert(utility_a), factories.alert(utility_b)
    assert [a["id"] for a in api_a.get("/api/v1/alerts/").json()["results"]] == [mine.pk]
    assert api_a.post(f"/api/v1/alerts/{theirs.pk}/acknowledge/").status_code == 404
    body = api_a.post(f"/api/v1/alerts/{mine.pk}/acknowledge/").json()
    assert body["status"] == "acknowledged"
    from tests.conftest import api_client_for

    analyst = api_client_for(factories.member(utility_a, Role.ANALYST))
    assert analyst.post(f"/api/v1/alerts/{mine.pk}/resolve/").status_code == 403


def test_client_that_stops_polling(utility_a):
    AlertRule.objects.create(utility=utility_a, kind="client_silent", threshold_min=20)
    now = timezone.now()
    quiet = factories.sep_client(
        utility_a, name="VoltStack gateway", last_seen_at=now - timedelta(minutes=30)
    )
    factories.sep_client(utility_a, last_seen_at=now - timedelta(minutes=2))
    factories.sep_client(utility_a, last_seen_at=now - timedelta(hours=2), revoked=True)
    alerts_evaluate(now=now)
    alert = Alert.objects.get()
    assert alert.subject_key == f"client:{quiet.pk}"
    assert (
        alert.message == "2030.5 client VoltStack gateway (aggregator) has not polled for 30 min."
    )
