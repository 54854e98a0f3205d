from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    """The direct-to-device transports (SunSpec Modbus): their tasks and their signal receivers."""

    name = "devices.connectors"
    label = "connectors"
    verbose_name = "Device connectors"

    def ready(self):
        from devices.connectors import receivers  # noqa: F401  (connects the receivers)
