from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "programs"

    def ready(self):
        from programs import receivers  # noqa: F401 -- connects the signal receivers
        from programs.selectors import EVENTS_KEY
        from tenancy.generations import watch_table

        # What events_plans_may_take keeps per utility changes with the events only.
        watch_table("programs_event", EVENTS_KEY)
