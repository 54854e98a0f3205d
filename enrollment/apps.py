from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"

    def ready(self):
        from devices.signals import telemetry_ingested
        from enrollment import receivers

        telemetry_ingested.connect(receivers.telemetry_ingested_verify, dispatch_uid="enrollment")
