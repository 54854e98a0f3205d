from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "programs"

    def ready(self):
        from programs import receivers  # noqa: F401 -- connects the signal receivers
        from programs.selectors import EVENTS_KEY, PLANS_KEY
        from tenancy.generations import watch_table

        # What events_plans_may_take keeps: per utility, when its events start (changes
        # with the events only); per device, that no plan takes it in (changes with what
        # plans are made of, but a Response noted on a Dispatch).
        watch_table("programs_event", EVENTS_KEY)
        for table in ("programs_event", "programs_participant", "programs_optout"):
            watch_table(table, PLANS_KEY)
        responses = frozenset({"last_response", "last_response_at"})
        watch_table("programs_dispatch", PLANS_KEY, ignoring=responses)
