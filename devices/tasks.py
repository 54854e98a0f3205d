"""Periodic telemetry jobs. Thin: parse arguments, call a service. All are idempotent."""

from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from devices.services import (
    telemetry_partitions_ensure,
    telemetry_prune,
    telemetry_rollup,
    telemetry_rollup_pending,
)


@shared_task(name="devices.rollup", ignore_result=True)
def telemetry_rollup_task(since: str | None = None, until: str | None = None):
    """Roll up [since, until) (ISO times) if given, else every hour ingest marked pending."""
    if since and until:
        telemetry_rollup(since=datetime.fromisoformat(since), until=datetime.fromisoformat(until))
    else:
        telemetry_rollup_pending()


@shared_task(name="devices.telemetry_partitions", ignore_result=True)
def telemetry_partitions_task():
    """Keep sample partitions ready for the coming months (PostgreSQL only)."""
    telemetry_partitions_ensure(through=timezone.now() + timedelta(days=62))


@shared_task(name="devices.telemetry_prune", ignore_result=True)
def telemetry_prune_task():
    """Drop raw samples past the retention period; rollups stay."""
    retention = timedelta(days=settings.TELEMETRY_RETENTION_DAYS)
    telemetry_prune(older_than=timezone.now() - retention)
