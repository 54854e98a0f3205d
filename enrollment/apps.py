from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"

    def ready(self):
        from devices.signals import telemetry_ingested
        from enrollment import receivers
        from programs.signals import event_changed

        telemetry_ingested.connect(receivers.telemetry_ingested_verify, dispatch_uid="enrollment")
        event_changed.connect(receivers.event_changed_remind, dispatch_uid="enrollment-remind")
