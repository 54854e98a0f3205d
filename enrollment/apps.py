from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"

    def ready(self):
        from enrollment import receivers  # noqa: F401 -- connects the signal receivers
