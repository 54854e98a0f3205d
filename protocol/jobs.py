"""The protocol's background jobs, by name.

Services queue a job here after commit and never import `protocol.tasks`: the Celery
task is looked up by the name it is registered under (the `@shared_task(name=...)` in
`protocol/tasks.py`, which `ProtocolConfig.ready` imports in every process).
"""

from celery import current_app
from django.db import transaction

NOTIFICATION_DELIVER = "protocol.notification_deliver"
NOTIFICATIONS_SWEEP = "protocol.notifications_sweep"  # beat's (settings.CELERY_BEAT_SCHEDULE)
CONFORMANCE_RUN = "protocol.conformance_run"
SEP2_TRUST_WRITE = "protocol.sep2_trust_write"  # also queued by vendors, by this name


def job_queue(name: str, *args, task_id: str | None = None) -> None:
    """Queue the task registered as `name` with `args` once the transaction commits (as
    `task_id` when given: a job that owns a row under that id, see NotificationDelivery)."""
    options = {"task_id": task_id} if task_id else {}
    transaction.on_commit(current_app.signature(name, args=args, options=options).delay)
