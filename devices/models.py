"""The fleet: devices and telemetry (built by the devices issue)."""
