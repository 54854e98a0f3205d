"""Enumerations of the fleet: telemetry channels and units, rollup periods, health."""

import enum

from django.db import models


class Channel(models.TextChoices):
    """A telemetry time series a device reports. Signed power: + discharge/export."""

    W = "w", "Battery active power (W)"
    VAR = "var", "Battery reactive power (var)"
    V = "v", "Voltage (V)"
    HZ = "hz", "Frequency (Hz)"
    SOC_PCT = "soc_pct", "State of charge (%)"
    WH_IMPORT = "wh_import", "Energy imported, cumulative (Wh)"
    WH_EXPORT = "wh_export", "Energy exported, cumulative (Wh)"
    SITE_W = "site_w", "Site meter active power (W)"


# Per channel: the units accepted and each one's factor to the canonical unit ("" is canonical).
CHANNEL_UNITS: dict[str, dict[str, float]] = {
    Channel.W: {"": 1.0, "W": 1.0, "kW": 1e3},
    Channel.SITE_W: {"": 1.0, "W": 1.0, "kW": 1e3},
    Channel.VAR: {"": 1.0, "var": 1.0, "kvar": 1e3},
    Channel.V: {"": 1.0, "V": 1.0},
    Channel.HZ: {"": 1.0, "Hz": 1.0},
    Channel.SOC_PCT: {"": 1.0, "%": 1.0},
    Channel.WH_IMPORT: {"": 1.0, "Wh": 1.0, "kWh": 1e3},
    Channel.WH_EXPORT: {"": 1.0, "Wh": 1.0, "kWh": 1e3},
}

# Plausible bounds in canonical units, inclusive. Anything outside is a bad reading, not data.
CHANNEL_RANGES: dict[str, tuple[float, float]] = {
    Channel.W: (-10e6, 10e6),
    Channel.SITE_W: (-10e6, 10e6),
    Channel.VAR: (-10e6, 10e6),
    Channel.V: (0.0, 1000.0),
    Channel.HZ: (40.0, 70.0),
    Channel.SOC_PCT: (0.0, 100.0),
    Channel.WH_IMPORT: (0.0, 1e15),
    Channel.WH_EXPORT: (0.0, 1e15),
}

# Channels that mirror into a Device live-state field when a newer reading arrives.
CHANNEL_LIVE_FIELDS: dict[str, str] = {
    Channel.W: "power_w",
    Channel.VAR: "reactive_var",
    Channel.V: "voltage_v",
    Channel.HZ: "frequency_hz",
    Channel.SOC_PCT: "soc_pct",
}


class RejectReason(models.TextChoices):
    """Why the ingest service refused a reading (nothing of it was written)."""

    UNKNOWN_DEVICE = "unknown_device", "Device not found in this utility"
    UNKNOWN_CHANNEL = "unknown_channel", "Unknown channel"
    UNKNOWN_UNIT = "unknown_unit", "Unit does not fit the channel"
    BAD_POWER_OF_TEN = "bad_power_of_ten", "Power of ten out of range"
    NOT_FINITE = "not_finite", "Value is NaN or infinite"
    OUT_OF_RANGE = "out_of_range", "Value outside the plausible range"
    NAIVE_TIME = "naive_time", "Timestamp has no time zone"
    FUTURE = "future", "Timestamp in the future"


class RollupPeriod(models.TextChoices):
    """Width of a telemetry rollup bucket."""

    FIVE_MINUTES = "5m", "5 minutes"
    HOUR = "1h", "1 hour"


ROLLUP_PERIOD_SECONDS: dict[str, int] = {RollupPeriod.FIVE_MINUTES: 300, RollupPeriod.HOUR: 3600}


class OperatingMode(models.TextChoices):
    """What the device says it is doing (DERStatus operationalModeStatus, SunSpec state)."""

    UNKNOWN = "unknown", "Unknown"
    OFF = "off", "Off"
    OPERATIONAL = "operational", "Operational"
    TEST = "test", "Test"
    MAINTENANCE = "maintenance", "Maintenance"


class StorageConnect(enum.IntFlag):
    """Bits of the storage connect status (IEEE 2030.5 ConnectStatusType)."""

    CONNECTED = 1
    AVAILABLE = 2
    OPERATING = 4
    TEST = 8
    FAULT = 16


class Health(models.TextChoices):
    """How recently and how well a device has been heard from."""

    ONLINE = "online", "Online"
    STALE = "stale", "Stale"
    OFFLINE = "offline", "Offline"
    FAULTED = "faulted", "Faulted"


class SiteStatus(models.TextChoices):
    """How a directly connected (Modbus) site answered its last poll."""

    NEVER = "never", "Never polled"
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"
    BACKOFF = "backoff", "Backing off"


class CommandKind(models.TextChoices):
    """What the connector sent to a site."""

    SETPOINT = "setpoint", "Setpoint"
    RELEASE = "release", "Release"
    HEARTBEAT = "heartbeat", "Heartbeat"
    TEST = "test", "Test connection"


# DERStatus and DERSettings in words (IEEE 2030.5 DERStatus, CSIP-AUS 1.2 DOEControlType).
# operationalModeStatus: 0 not applicable / unknown, 1 off, 2 operational, 3 test.
OPERATIONAL_MODE_STATUS: dict[int, str] = {
    0: OperatingMode.UNKNOWN,
    1: OperatingMode.OFF,
    2: OperatingMode.OPERATIONAL,
    3: OperatingMode.TEST,
}

# alarmStatus bit → the alarm's name (kept in Device.alarms).
DER_ALARMS: dict[int, str] = {
    0: "over current",
    1: "over voltage",
    2: "under voltage",
    3: "over frequency",
    4: "under frequency",
    5: "voltage imbalance",
    6: "current imbalance",
    7: "local emergency",
    8: "remote emergency",
    9: "low input power",
    10: "phase rotation",
}

INVERTER_STATUS: dict[int, str] = {
    0: "Not applicable / unknown",
    1: "Off",
    2: "Sleeping (auto-shutdown)",
    3: "Starting up",
    4: "Tracking maximum power point",
    5: "Forced power reduction",
    6: "Shutting down",
    7: "One or more faults",
    8: "Standby",
    9: "Test mode",
    10: "As the manufacturer status says",
}

STORAGE_MODE_STATUS: dict[int, str] = {0: "Charging", 1: "Discharging", 2: "Holding"}

LOCAL_CONTROL_MODE_STATUS: dict[int, str] = {0: "Remote control", 1: "Local control"}

DOE_MODES: dict[int, str] = {
    0: "export limit (opModExpLimW)",
    1: "import limit (opModImpLimW)",
    2: "generation limit (opModGenLimW)",
    3: "load limit (opModLoadLimW)",
}


def bit_names(bits: int | None, names: dict[int, str]) -> list[str]:
    """The names of the bits set in a bitmap (unnamed bits by number); [] for None."""
    if not bits:
        return []
    return [names.get(bit, f"bit {bit}") for bit in range(bits.bit_length()) if bits >> bit & 1]
