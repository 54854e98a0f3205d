from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal and tenancy"

    def ready(self):
        from portal import receivers  # noqa: F401 -- connects the signal receivers
