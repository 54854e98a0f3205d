"""A conformance run's progress reaches the browser through the portal, not by import:
vendors declares the signal, the runner sends it after commit, portal pushes it."""

from types import SimpleNamespace

from portal import receivers
from vendors.models import ConformanceRun
from vendors.signals import conformance_run_progressed


def test_progress_is_pushed_to_the_run_topic(monkeypatch):
    pushed = []
    monkeypatch.setattr(receivers, "push", lambda **kwargs: pushed.append(kwargs))
    run = SimpleNamespace(pk=42, utility_id=7, status="running", progress_pct=30)

    conformance_run_progressed.send(sender=ConformanceRun, run=run)

    assert pushed == [
        {
            "utility_id": 7,
            "topic": "conformance.42",
            "data": {"run": 42, "status": "running", "progress": 30},
        }
    ]
