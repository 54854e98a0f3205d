import pytest
from django.urls import reverse
from django.utils import timezone

from portal.models import Heartbeat
from portal.tasks import system_heartbeat
from tenancy.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db


def test_status_page_is_for_operators(client, utility_a, manager_a):
    client.force_login(manager_a)
    assert client.get(reverse("portal:status")).status_code == 403
    operator = factories.member(utility_a, Role.OPERATOR)
    client.force_login(operator)
    assert client.get(reverse("portal:status")).status_code == 200


def test_status_reports_each_component(client, utility_a):
    client.force_login(factories.member(utility_a, Role.OPERATOR))
    checks = {c.name: c for c in client.get(reverse("portal:status")).context["checks"]}
    assert checks["Database"].ok
    assert checks["Channel layer"].ok
    assert checks["Celery broker"].ok, checks["Celery broker"].detail
    assert not checks["Celery worker"].ok  # no worker has run in this test
    assert checks["Celery worker"].detail == "never seen"


def test_heartbeat_task_marks_the_worker_alive_and_staleness_is_shown(client, utility_a):
    system_heartbeat()  # exactly what the worker runs when beat sends the task
    client.force_login(factories.member(utility_a, Role.OPERATOR))
    checks = {c.name: c for c in client.get(reverse("portal:status")).context["checks"]}
    assert checks["Celery worker"].ok

    Heartbeat.objects.filter(source="worker").update(
        at=timezone.now() - timezone.timedelta(minutes=5)
    )
    checks = {c.name: c for c in client.get(reverse("portal:status")).context["checks"]}
    assert not checks["Celery worker"].ok
    assert "300 s ago" in checks["Celery worker"].detail


def test_status_partial_for_htmx_polling(client, utility_a):
    client.force_login(factories.member(utility_a, Role.OPERATOR))
    response = client.get(reverse("portal:status"), HTTP_HX_REQUEST="true")
    assert b"<table" in response.content
    assert b"<html" not in response.content
