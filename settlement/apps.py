from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "settlement"

    def ready(self):
        from settlement import receivers  # noqa: F401 -- connects the signal receivers
