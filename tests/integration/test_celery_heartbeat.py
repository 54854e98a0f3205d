"""A real Celery worker and beat, on the configured broker, keep the heartbeats fresh."""

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.models import Heartbeat
from tenancy.choices import Role
from tests import factories
from tests.integration.servers import celery_beat, celery_worker, subprocess_env, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_beat_and_worker_heartbeats_reach_the_status_page(tmp_path, client):
    started = timezone.now()
    env = subprocess_env(tmp_path, HEARTBEAT_INTERVAL_S="1")
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    with celery_worker(env, worker_log), celery_beat(env, beat_log, tmp_path):
        wait_until(
            lambda: Heartbeat.objects.filter(at__gte=started).count() == 2,
            timeout_s=90,
            what="a beat and a worker heartbeat",
            logs=[worker_log, beat_log],
        )
    beats = {hb.source: hb for hb in Heartbeat.objects.all()}
    assert set(beats) == {"beat", "worker"}
    # The worker only runs what beat sent, so its heartbeat cannot precede beat's first one.
    assert beats["worker"].at >= started

    operator = factories.member(factories.utility(), Role.OPERATOR)
    client.force_login(operator)
    checks = {c.name: c for c in client.get(reverse("portal:status")).context["checks"]}
    assert checks["Celery beat"].ok and checks["Celery worker"].ok
    assert checks["Celery worker"].age_s < 60
