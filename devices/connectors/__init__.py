"""Transports that reach devices directly. Only this package and the simulator import pymodbus."""
