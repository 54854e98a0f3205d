from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "programs"

    def ready(self):
        from programs import receivers  # noqa: F401 -- connects the signal receivers
