from django.apps import AppConfig


class VendorsConfig(AppConfig):
    name = "vendors"

    def ready(self):
        from vendors import receivers  # noqa: F401 -- connects the signal receivers
