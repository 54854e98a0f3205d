from django.apps import AppConfig


class ProtocolConfig(AppConfig):
    name = "protocol"

    def ready(self):
        from protocol import receivers  # noqa: F401 -- connects the signal receivers
