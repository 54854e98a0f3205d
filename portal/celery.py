"""The Celery app. Beat uses django-celery-beat's DatabaseScheduler (see settings)."""

import os

from celery import Celery
from celery.signals import before_task_publish, worker_init, worker_process_init

import portal.broker  # noqa: F401 -- registers the embedded broker's URL scheme

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("reservoir")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@before_task_publish.connect(sender="system.heartbeat")
def _record_beat_heartbeat(**_kwargs):
    # Only beat publishes the heartbeat task, so publishing it is beat's own sign of life.
    from portal.services import heartbeat_record

    heartbeat_record(source="beat")


@worker_init.connect
@worker_process_init.connect
def _relay_live_pushes(**_kwargs):
    # A worker has no WebSockets: with the in-memory layer its pushes go through the relay.
    from portal.realtime import relay_from_this_process

    relay_from_this_process()
