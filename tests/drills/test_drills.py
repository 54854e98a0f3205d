"""The fault drills' short, bounded variant (about two minutes; `make drill` runs the long
one): a private PostgreSQL, Redis, both listeners, worker and beat, each broken in turn
while real clients drive them (see tests.drills.drills for what each drill checks)."""

import json
import shutil
import time

import pytest

from tests.drills import drills
from tests.drills.stack import ROOT, available

# Its own PostgreSQL and Redis whatever the suite runs on: CI runs it once.
pytestmark = [pytest.mark.integration, pytest.mark.production_stack]


def test_fault_drills_lose_and_duplicate_nothing(capsys):
    why_not = available()
    if why_not:
        pytest.skip(f"fault drills need their own PostgreSQL and Redis: {why_not}")
    # Under var/, not pytest's tmp_path: PostgreSQL runs as its own user and must reach it.
    root = ROOT / "var" / "drill" / f"pytest-{time.strftime('%Y%m%d-%H%M%S')}"
    lines: list[str] = []
    results = drills.run(root, drills.SHORT, report=lines.append)
    with capsys.disabled():
        print("\nfault drills (short):\n  " + "\n  ".join(lines))
    shutil.rmtree(root, ignore_errors=True)

    duplicates = results["duplicate_readings"]
    assert duplicates["posts"] == drills.SHORT.duplicate_posts
    assert duplicates["stored"] == duplicates["distinct_readings"]
    assert duplicates["answered_5xx"] == 0
    celery = results["celery_worker"]
    for fault in ("sigstop-sigcont", "sigstop-sigkill-restart"):
        assert celery[fault]["status_while_worker_down"] == "scheduled"
    for fault in ("sigstop-sigcont", "sigstop-sigkill-restart", "sigstop-sigkill-mid-task"):
        figures = celery[fault]
        assert figures["activations"] == 1 and figures["audit_gaps"] == [], json.dumps(figures)
        assert figures["notifications_expected"] > 0
        # Each once: none lost (a task lost with the killed worker is sent again by the
        # outbox's sweep), none twice.
        assert figures["notifications_accepted"] == figures["notifications_expected"]
        assert figures["notifications_lost"] == figures["notifications_duplicated"] == 0
    # Killed holding a notification's retry (taken off the broker, unacknowledged).
    assert celery["sigstop-sigkill-restart"]["tasks_in_flight"] == 1
    # Killed inside the notification task: that delivery was cut off and made again once.
    assert celery["sigstop-sigkill-mid-task"]["tasks_in_flight"] == 1
    assert celery["sigstop-sigkill-mid-task"]["notifications_cut_off"] == 1
    for name in ("postgres_restart", "redis_restart", "asgi_worker_kill"):
        figures = results[name]
        assert figures["answered_500"] == 0, json.dumps(figures)
        assert figures["readings_lost"] == 0 and figures["not_done"] == 0, json.dumps(figures)
        assert figures["readings_acknowledged"] > 0
    redis = results["redis_restart"]
    assert redis["live_push_resumed_s"] is not None and redis["live_socket_connects"] >= 1
    assert redis["worker_heartbeat_recovery_s"] is not None
    assert results["postgres_restart"]["answered_503"] > 0  # the outage was seen, and survived
    asgi = results["asgi_worker_kill"]
    assert asgi["worker_restarted_s"] < 60
    # Through nginx, sent once each: GETs and PUTs were resent to a live worker by nginx;
    # a POST was stored exactly once or refused, never twice.
    assert asgi["in_flight_when_killed"] > 0 and asgi["gets"] > 0 and asgi["puts"] > 0
    assert asgi["gets_failed"] == 0 and asgi["puts_failed"] == 0, json.dumps(asgi)
    assert asgi["readings_duplicated"] == 0 and asgi["readings_unasked"] == 0
