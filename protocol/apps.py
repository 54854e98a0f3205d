from django.apps import AppConfig


class ProtocolConfig(AppConfig):
    name = "protocol"

    def ready(self):
        # Connects the signal receivers, and registers the Celery tasks protocol.jobs queues by
        # name (nothing else imports protocol.tasks).
        from protocol import checks, pki, receivers, tasks  # noqa: F401
        from protocol.cache import watch_writes

        # Every write to what a cached 2030.5 answer is built from invalidates it.
        watch_writes()
        from protocol.selectors import MIRROR_TABLES, MIRRORS_KEY, SUBSCRIPTIONS_KEY
        from tenancy.generations import watch_table

        # Whether a utility has subscriptions (subscriptions_notify asks on every write).
        watch_table("protocol_subscription", SUBSCRIPTIONS_KEY)
        # The mirrors and quantities a post of readings keeps (protocol.fastwrite).
        for table, ignoring in MIRROR_TABLES.items():
            watch_table(table, MIRRORS_KEY, ignoring=ignoring)
        from protocol.conformance import procedures, runner, sandbox
        from protocol.conformance.procedures import registration
        from protocol.models import ClientKind
        from vendors.registry import ConformanceEngine, engine_register

        # vendors reaches the conformance engine through its registry, never by import.
        engine_register(
            ConformanceEngine(
                procedures=procedures.REGISTRY,
                parameters_check=registration.oob_parameters,
                run_create=runner.run_create,
                run_start=runner.run_start,
                run_timeline=runner.run_timeline,
                run_report=runner.run_report,
                client_kinds=tuple(ClientKind.values),
                ca_root_create=pki.create_root_ca,
                ca_intermediate_create=pki.create_intermediate_ca,
                sandbox_client_register=sandbox.sandbox_client_register,
                sandbox_client_revoke=sandbox.sandbox_client_revoke,
                certificate_identity=sandbox.certificate_identity,
                sandbox_client_last_seen=sandbox.sandbox_client_last_seen,
            )
        )
