from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"

    def ready(self):
        from enrollment import receivers  # noqa: F401 -- connects the signal receivers
        from enrollment.services import ENROLLMENTS_KEY
        from tenancy.generations import watch_table

        # Whether an enrollment waits for telemetry changes with the enrollments only.
        watch_table("enrollment_enrollment", ENROLLMENTS_KEY)
