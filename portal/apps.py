from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal and tenancy"

    def ready(self):
        from devices.signals import telemetry_ingested
        from portal.live import (
            on_conformance_run_progressed,
            on_dispatch_responded,
            on_event_changed,
            on_telemetry_ingested,
        )
        from programs.signals import dispatch_responded, event_changed
        from vendors.signals import conformance_run_progressed

        telemetry_ingested.connect(on_telemetry_ingested, dispatch_uid="portal.live")
        event_changed.connect(on_event_changed, dispatch_uid="portal.live.events")
        dispatch_responded.connect(on_dispatch_responded, dispatch_uid="portal.live.responses")
        conformance_run_progressed.connect(
            on_conformance_run_progressed, dispatch_uid="portal.live.conformance"
        )
