"""Metering mirror: MirrorUsagePoints, MirrorMeterReadings, ReadingType and Readings."""

from __future__ import annotations

from protocol.xml.codec import (
    BOOLEAN,
    HEX16,
    INT32,
    INT48,
    LFDI,
    POWER_OF_TEN,
    TIME,
    UINT8,
    UINT32,
    UINT48,
    SepObject,
    element,
    items,
    root_element,
)
from protocol.xml.resources.common import (
    DateTimeInterval,
    IdentifiedObject,
    Polled,
    Resource,
    SepList,
    SubscribableResource,
)


class UnitValue(SepObject):
    """UnitValueType."""

    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)
    unit: int = element("unit", UINT8, required=True)
    value: int = element("value", INT32, required=True)


@root_element()
class ReadingType(Resource):
    """ReadingType: `uom` (e.g. 38 W, 72 Wh) and `powerOfTenMultiplier` scale every Reading."""

    accumulation_behaviour: int | None = element("accumulationBehaviour", UINT8)
    calorific_value: UnitValue | None = element("calorificValue", UnitValue)
    commodity: int | None = element("commodity", UINT8)
    conversion_factor: UnitValue | None = element("conversionFactor", UnitValue)
    data_qualifier: int | None = element("dataQualifier", UINT8)
    flow_direction: int | None = element("flowDirection", UINT8)
    interval_length: int | None = element("intervalLength", UINT32)
    kind: int | None = element("kind", UINT8)
    max_number_of_intervals: int | None = element("maxNumberOfIntervals", UINT8)
    number_of_consumption_blocks: int | None = element("numberOfConsumptionBlocks", UINT8)
    number_of_tou_tiers: int | None = element("numberOfTouTiers", UINT8)
    phase: int | None = element("phase", UINT8)
    power_of_ten_multiplier: int | None = element("powerOfTenMultiplier", POWER_OF_TEN)
    sub_interval_length: int | None = element("subIntervalLength", UINT32)
    supply_limit: int | None = element("supplyLimit", UINT48)
    tiered_consumption_blocks: bool | None = element("tieredConsumptionBlocks", BOOLEAN)
    uom: int | None = element("uom", UINT8)


@root_element()
class Reading(SubscribableResource):
    """Reading: `value` * 10^ReadingType.powerOfTenMultiplier in ReadingType.uom."""

    consumption_block: int | None = element("consumptionBlock", UINT8)
    quality_flags: int | None = element("qualityFlags", HEX16)
    time_period: DateTimeInterval | None = element("timePeriod", DateTimeInterval)
    tou_tier: int | None = element("touTier", UINT8)
    value: int | None = element("value", INT48)
    local_id: int | None = element("localID", HEX16)


@root_element()
class MirrorReadingSet(IdentifiedObject):
    """MirrorReadingSet: a batch of interval Readings."""

    time_period: DateTimeInterval = element("timePeriod", DateTimeInterval, required=True)
    readings: list[Reading] = element("Reading", Reading, many=True)


@root_element()
class MirrorMeterReading(IdentifiedObject):
    """MirrorMeterReading: one measured quantity, posted by the client."""

    last_update_time: int | None = element("lastUpdateTime", TIME)
    mirror_reading_sets: list[MirrorReadingSet] = element(
        "MirrorReadingSet", MirrorReadingSet, many=True
    )
    next_update_time: int | None = element("nextUpdateTime", TIME)
    reading: Reading | None = element("Reading", Reading)
    reading_type: ReadingType | None = element("ReadingType", ReadingType)


@root_element()
class MirrorMeterReadingList(SepList):
    """MirrorMeterReadingList (a batch POST of readings to a MirrorUsagePoint)."""

    mirror_meter_readings: list[MirrorMeterReading] = items(MirrorMeterReading)


@root_element()
class MirrorUsagePoint(IdentifiedObject):
    """MirrorUsagePoint: a client-side meter (site or DER) whose readings the server mirrors."""

    role_flags: int = element("roleFlags", HEX16, required=True)
    service_category_kind: int = element("serviceCategoryKind", UINT8, required=True)
    status: int = element("status", UINT8, required=True)
    device_lfdi: str = element("deviceLFDI", LFDI, required=True)
    mirror_meter_readings: list[MirrorMeterReading] = element(
        "MirrorMeterReading", MirrorMeterReading, many=True
    )
    post_rate: int | None = element("postRate", UINT32)


@root_element()
class MirrorUsagePointList(Polled, SepList):
    """MirrorUsagePointList."""

    mirror_usage_points: list[MirrorUsagePoint] = items(MirrorUsagePoint)
