"""Unit values (`value * 10^multiplier` in the base unit) and their conversions."""

from __future__ import annotations

from protocol.xml.codec import INT16, POWER_OF_TEN, UINT16, UINT48, SepObject, element


class Scaled(SepObject):
    """The shape of the unit types below: a UInt16 `value` (unless a type narrows it) scaled
    by 10^multiplier."""

    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)
    value: int = element("value", UINT16, required=True)


class ActivePower(Scaled):
    """ActivePower in W * 10^multiplier."""

    value: int = element("value", INT16, required=True)


class ReactivePower(Scaled):
    """ReactivePower in var * 10^multiplier."""

    value: int = element("value", INT16, required=True)


class ApparentPower(Scaled):
    """ApparentPower in VA * 10^multiplier."""


class CurrentRMS(Scaled):
    """CurrentRMS in A * 10^multiplier."""


class VoltageRMS(Scaled):
    """VoltageRMS in V * 10^multiplier."""


class AmpereHour(Scaled):
    """AmpereHour in Ah * 10^multiplier."""


class WattHour(Scaled):
    """WattHour in Wh * 10^multiplier."""


class RealEnergy(Scaled):
    """RealEnergy in Wh * 10^multiplier."""

    value: int = element("value", UINT48, required=True)


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
