"""Simulated devices: battery physics and a SunSpec Modbus battery server."""
