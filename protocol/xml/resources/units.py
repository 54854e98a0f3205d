"""units."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.xml.codec import INT16, POWER_OF_TEN, UINT16, UINT48, SepObject, element


@dataclass(kw_only=True)
class ActivePower(SepObject):
    """ActivePower in W * 10^multiplier."""

    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)
    value: int = element("value", INT16, required=True)


@dataclass(kw_only=True)
class ReactivePower(SepObject):
    """ReactivePower in var * 10^multiplier."""

    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)
    value: int = element("value", INT16, required=True)


@dataclass(kw_only=True)
class ApparentPower(SepObject):
    """ApparentPower in VA * 10^multiplier."""

    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)
    value: int = element("value", UINT16, required=True)


@dataclass(kw_only=True)
class CurrentRMS(SepObject):
    """CurrentRMS in A * 10^multiplier."""

    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)
    value: int = element("value", UINT16, required=True)


@dataclass(kw_only=True)
class VoltageRMS(SepObject):
    """VoltageRMS in V * 10^multiplier."""

    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)
    value: int = element("value", UINT16, required=True)


@dataclass(kw_only=True)
class AmpereHour(SepObject):
    """AmpereHour in Ah * 10^multiplier."""

    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)
    value: int = element("value", UINT16, required=True)


@dataclass(kw_only=True)
class WattHour(SepObject):
    """WattHour in Wh * 10^multiplier."""

    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)
    value: int = element("value", UINT16, required=True)


@dataclass(kw_only=True)
class RealEnergy(SepObject):
    """RealEnergy in Wh * 10^multiplier."""

    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)
    value: int = element("value", UINT48, required=True)


@dataclass(kw_only=True)
class PowerFactor(SepObject):
    """PowerFactor: displacement * 10^multiplier."""

    displacement: int = element("displacement", UINT16, required=True)
    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)


def active_power(watts: float) -> ActivePower:
    """Watts as ActivePower with the smallest multiplier whose Int16 value holds it.

    Rounds to the precision that multiplier allows (e.g. 123 456 W -> 12346 x 10^1).
    """
    for multiplier in range(0, 10):
        value = round(watts / 10**multiplier)
        if -(2**15) <= value < 2**15:
            return ActivePower(multiplier=multiplier, value=value)
    raise ValueError(f"{watts} W does not fit ActivePower")


def watts_of(power: ActivePower | ReactivePower | ApparentPower) -> float:
    """The power in its base unit (W, var or VA)."""
    return power.value * 10.0**power.multiplier
