from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Tenancy: utilities, brands, territories and staff"

    def ready(self):
        from django.db.backends.signals import connection_created

        from tenancy.generations import install_write_watch

        # Writes to the tables apps watched (generations.watch_table) bump their tokens.
        connection_created.connect(install_write_watch, dispatch_uid="tenancy.generations")
