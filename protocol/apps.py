from django.apps import AppConfig


class ProtocolConfig(AppConfig):
    name = "protocol"

    def ready(self):
        # Connects the signal receivers, and registers the Celery tasks protocol.jobs queues by
        # name (nothing else imports protocol.tasks).
        from protocol import receivers, tasks  # noqa: F401
