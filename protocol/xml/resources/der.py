"""DER and the four resources a client reports: capability, settings, status, availability."""

from __future__ import annotations

from protocol.xml.codec import (
    CSIPAUS_NS,
    HEX8,
    HEX32,
    INT16,
    PERCENT,
    STRING6,
    TIME,
    UINT8,
    UINT16,
    UINT32,
    SepObject,
    element,
    items,
    root_element,
)
from protocol.xml.resources.common import (
    Link,
    ListLink,
    Polled,
    Resource,
    SepList,
    SubscribableResource,
)
from protocol.xml.resources.units import (
    ActivePower,
    AmpereHour,
    ApparentPower,
    CurrentRMS,
    PowerFactor,
    ReactivePower,
    VoltageRMS,
    WattHour,
)


@root_element()
class DER(SubscribableResource):
    """DER: links to the four DER information resources a client maintains."""

    associated_der_program_list_link: ListLink | None = element(
        "AssociatedDERProgramListLink", ListLink
    )
    associated_usage_point_link: Link | None = element("AssociatedUsagePointLink", Link)
    current_der_program_link: Link | None = element("CurrentDERProgramLink", Link)
    der_availability_link: Link | None = element("DERAvailabilityLink", Link)
    der_capability_link: Link | None = element("DERCapabilityLink", Link)
    der_settings_link: Link | None = element("DERSettingsLink", Link)
    der_status_link: Link | None = element("DERStatusLink", Link)


@root_element()
class DERList(Polled, SepList):
    """DERList."""

    ders: list[DER] = items(DER)


@root_element()
class DERCapability(Resource):
    """DERCapability: nameplate ratings. CSIP-AUS 1.2 requires doeModesSupported."""

    modes_supported: int = element("modesSupported", HEX32, required=True)
    rtg_abnormal_category: int | None = element("rtgAbnormalCategory", UINT8)
    rtg_max_a: CurrentRMS | None = element("rtgMaxA", CurrentRMS)
    rtg_max_ah: AmpereHour | None = element("rtgMaxAh", AmpereHour)
    rtg_max_charge_rate_va: ApparentPower | None = element("rtgMaxChargeRateVA", ApparentPower)
    rtg_max_charge_rate_w: ActivePower | None = element("rtgMaxChargeRateW", ActivePower)
    rtg_max_discharge_rate_va: ApparentPower | None = element(
        "rtgMaxDischargeRateVA", ApparentPower
    )
    rtg_max_discharge_rate_w: ActivePower | None = element("rtgMaxDischargeRateW", ActivePower)
    rtg_max_v: VoltageRMS | None = element("rtgMaxV", VoltageRMS)
    rtg_max_va: ApparentPower | None = element("rtgMaxVA", ApparentPower)
    rtg_max_var: ReactivePower | None = element("rtgMaxVar", ReactivePower)
    rtg_max_var_neg: ReactivePower | None = element("rtgMaxVarNeg", ReactivePower)
    rtg_max_w: ActivePower = element("rtgMaxW", ActivePower, required=True)
    rtg_max_wh: WattHour | None = element("rtgMaxWh", WattHour)
    rtg_min_pf_over_excited: PowerFactor | None = element("rtgMinPFOverExcited", PowerFactor)
    rtg_min_pf_under_excited: PowerFactor | None = element("rtgMinPFUnderExcited", PowerFactor)
    rtg_min_v: VoltageRMS | None = element("rtgMinV", VoltageRMS)
    rtg_normal_category: int | None = element("rtgNormalCategory", UINT8)
    rtg_over_excited_pf: PowerFactor | None = element("rtgOverExcitedPF", PowerFactor)
    rtg_over_excited_w: ActivePower | None = element("rtgOverExcitedW", ActivePower)
    rtg_reactive_susceptance: ApparentPower | None = element(
        "rtgReactiveSusceptance", ApparentPower
    )
    rtg_under_excited_pf: PowerFactor | None = element("rtgUnderExcitedPF", PowerFactor)
    rtg_under_excited_w: ActivePower | None = element("rtgUnderExcitedW", ActivePower)
    rtg_v_nom: VoltageRMS | None = element("rtgVNom", VoltageRMS)
    type: int = element("type", UINT8, required=True)
    # CSIP-AUS 1.2 (bit 0 opModExpLimW, 1 opModImpLimW, 2 opModGenLimW, 3 opModLoadLimW)
    doe_modes_supported: int | None = element(
        "doeModesSupported", HEX8, namespace=CSIPAUS_NS, required_in=("csipaus",)
    )


@root_element()
class DERSettings(SubscribableResource):
    """DERSettings: the limits the DER is currently configured with."""

    modes_enabled: int | None = element("modesEnabled", HEX32)
    set_es_delay: int | None = element("setESDelay", UINT32)
    set_es_high_freq: int | None = element("setESHighFreq", UINT16)
    set_es_high_volt: int | None = element("setESHighVolt", INT16)
    set_es_low_freq: int | None = element("setESLowFreq", UINT16)
    set_es_low_volt: int | None = element("setESLowVolt", INT16)
    set_es_ramp_tms: int | None = element("setESRampTms", UINT32)
    set_es_random_delay: int | None = element("setESRandomDelay", UINT32)
    set_grad_w: int = element("setGradW", UINT16, required=True)
    set_max_a: CurrentRMS | None = element("setMaxA", CurrentRMS)
    set_max_ah: AmpereHour | None = element("setMaxAh", AmpereHour)
    set_max_charge_rate_va: ApparentPower | None = element("setMaxChargeRateVA", ApparentPower)
    set_max_charge_rate_w: ActivePower | None = element("setMaxChargeRateW", ActivePower)
    set_max_discharge_rate_va: ApparentPower | None = element(
        "setMaxDischargeRateVA", ApparentPower
    )
    set_max_discharge_rate_w: ActivePower | None = element("setMaxDischargeRateW", ActivePower)
    set_max_v: VoltageRMS | None = element("setMaxV", VoltageRMS)
    set_max_va: ApparentPower | None = element("setMaxVA", ApparentPower)
    set_max_var: ReactivePower | None = element("setMaxVar", ReactivePower)
    set_max_var_neg: ReactivePower | None = element("setMaxVarNeg", ReactivePower)
    set_max_w: ActivePower = element("setMaxW", ActivePower, required=True)
    set_max_wh: WattHour | None = element("setMaxWh", WattHour)
    set_min_pf_over_excited: PowerFactor | None = element("setMinPFOverExcited", PowerFactor)
    set_min_pf_under_excited: PowerFactor | None = element("setMinPFUnderExcited", PowerFactor)
    set_min_v: VoltageRMS | None = element("setMinV", VoltageRMS)
    set_soft_grad_w: int | None = element("setSoftGradW", UINT16)
    set_v_nom: VoltageRMS | None = element("setVNom", VoltageRMS)
    set_v_ref: VoltageRMS | None = element("setVRef", VoltageRMS)
    set_v_ref_ofs: VoltageRMS | None = element("setVRefOfs", VoltageRMS)
    updated_time: int = element("updatedTime", TIME, required=True)
    # CSIP-AUS 1.2
    doe_modes_enabled: int | None = element("doeModesEnabled", HEX8, namespace=CSIPAUS_NS)


class ConnectStatus(SepObject):
    """ConnectStatusType: bitmap (bit 0 connected, 1 available, 2 operating, 3 test, 4 fault)."""

    date_time: int = element("dateTime", TIME, required=True)
    value: int = element("value", HEX8, required=True)


class StatusValue(SepObject):
    """InverterStatusType, OperationalModeStatusType, StorageModeStatusType and
    LocalControlModeStatusType share this shape."""

    date_time: int = element("dateTime", TIME, required=True)
    value: int = element("value", UINT8, required=True)


class ManufacturerStatus(SepObject):
    """ManufacturerStatusType."""

    date_time: int = element("dateTime", TIME, required=True)
    value: str = element("value", STRING6, required=True)


class StateOfChargeStatus(SepObject):
    """StateOfChargeStatusType: `value` in hundredths of a percent."""

    date_time: int = element("dateTime", TIME, required=True)
    value: int = element("value", PERCENT, required=True)


@root_element()
class DERStatus(SubscribableResource):
    """DERStatus."""

    alarm_status: int | None = element("alarmStatus", HEX32)
    gen_connect_status: ConnectStatus | None = element("genConnectStatus", ConnectStatus)
    inverter_status: StatusValue | None = element("inverterStatus", StatusValue)
    local_control_mode_status: StatusValue | None = element("localControlModeStatus", StatusValue)
    manufacturer_status: ManufacturerStatus | None = element(
        "manufacturerStatus", ManufacturerStatus
    )
    operational_mode_status: StatusValue | None = element("operationalModeStatus", StatusValue)
    reading_time: int = element("readingTime", TIME, required=True)
    state_of_charge_status: StateOfChargeStatus | None = element(
        "stateOfChargeStatus", StateOfChargeStatus
    )
    storage_mode_status: StatusValue | None = element("storageModeStatus", StatusValue)
    stor_connect_status: ConnectStatus | None = element("storConnectStatus", ConnectStatus)


@root_element()
class DERAvailability(SubscribableResource):
    """DERAvailability: durations in seconds, reserves in hundredths of a percent."""

    availability_duration: int | None = element("availabilityDuration", UINT32)
    max_charge_duration: int | None = element("maxChargeDuration", UINT32)
    reading_time: int = element("readingTime", TIME, required=True)
    reserve_charge_percent: int | None = element("reserveChargePercent", PERCENT)
    reserve_percent: int | None = element("reservePercent", PERCENT)
    stat_var_avail: ReactivePower | None = element("statVarAvail", ReactivePower)
    stat_w_avail: ActivePower | None = element("statWAvail", ActivePower)
