from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal and tenancy"

    def ready(self):
        from devices.signals import telemetry_ingested
        from portal.live import on_telemetry_ingested

        telemetry_ingested.connect(on_telemetry_ingested, dispatch_uid="portal.live")
