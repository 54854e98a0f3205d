# ruff: noqa: RUF009 -- element()/attribute() return dataclasses.field specifiers, not defaults
"""The 2030.5 (and CSIP-AUS) resource types the server core speaks.

Names, order and types follow the 2030.5 XSD; each class's docstring names its XSD type.
Unit values such as ActivePower are `value * 10^multiplier` in their base unit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from protocol.xml.codec import (
    ANY_URI,
    BOOLEAN,
    CSIPAUS_NS,
    HEX8,
    HEX16,
    HEX32,
    HEX64,
    INT16,
    INT32,
    INT48,
    LFDI,
    MRID,
    ONE_HOUR_RANGE,
    PERCENT,
    POWER_OF_TEN,
    SFDI,
    SIGNED_PERCENT,
    STRING6,
    STRING16,
    STRING32,
    STRING192,
    SUBSCRIBABLE,
    TIME,
    TIME_OFFSET,
    UINT8,
    UINT16,
    UINT32,
    UINT48,
    AnyResource,
    SepObject,
    attribute,
    element,
    root_element,
)

# --- Common building blocks ---------------------------------------------------------------


@dataclass(kw_only=True)
class Link(SepObject):
    """Link: a reference to a single resource."""

    href: str = attribute("href", ANY_URI, required=True)


@dataclass(kw_only=True)
class ListLink(Link):
    """ListLink: a reference to a list, with its optional size."""

    all: int | None = attribute("all", UINT32)


@dataclass(kw_only=True)
class Resource(SepObject):
    """Resource."""

    href: str | None = attribute("href", ANY_URI)


@dataclass(kw_only=True)
class SubscribableResource(Resource):
    """SubscribableResource."""

    subscribable: int | None = attribute("subscribable", SUBSCRIBABLE)


@dataclass(kw_only=True)
class SepList(Resource):
    """List: `all` is the list's size, `results` how many items this page holds."""

    all: int = attribute("all", UINT32, required=True)
    results: int = attribute("results", UINT32, required=True)


@dataclass(kw_only=True)
class SubscribableList(SubscribableResource):
    """SubscribableList."""

    all: int = attribute("all", UINT32, required=True)
    results: int = attribute("results", UINT32, required=True)


@dataclass(kw_only=True)
class IdentifiedObject(Resource):
    """IdentifiedObject."""

    mrid: str = element("mRID", MRID, required=True)
    description: str | None = element("description", STRING32)
    version: int | None = element("version", UINT16)


@dataclass(kw_only=True)
class SubscribableIdentifiedObject(SubscribableResource):
    """SubscribableIdentifiedObject."""

    mrid: str = element("mRID", MRID, required=True)
    description: str | None = element("description", STRING32)
    version: int | None = element("version", UINT16)


@dataclass(kw_only=True)
class DateTimeInterval(SepObject):
    """DateTimeInterval: `start` (TimeType) and `duration` in seconds."""

    duration: int = element("duration", UINT32, required=True)
    start: int = element("start", TIME, required=True)


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


@dataclass(kw_only=True)
class PowerFactorWithExcitation(SepObject):
    """PowerFactorWithExcitation."""

    displacement: int = element("displacement", UINT16, required=True)
    excitation: bool = element("excitation", BOOLEAN, required=True)
    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)


@dataclass(kw_only=True)
class FixedVar(SepObject):
    """FixedVar: reactive power as a signed percentage of `refType`."""

    ref_type: int = element("refType", UINT8, required=True)
    value: int = element("value", SIGNED_PERCENT, required=True)


@dataclass(kw_only=True)
class FreqDroop(SepObject):
    """FreqDroopType."""

    db_of: int = element("dBOF", UINT32, required=True)
    db_uf: int = element("dBUF", UINT32, required=True)
    k_of: int = element("kOF", UINT16, required=True)
    k_uf: int = element("kUF", UINT16, required=True)
    open_loop_tms: int = element("openLoopTms", UINT16, required=True)


# --- DeviceCapability, Time ---------------------------------------------------------------


@root_element()
@dataclass(kw_only=True)
class DeviceCapability(Resource):
    """DeviceCapability: the entry point (/dcap) from which clients discover everything."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    customer_account_list_link: ListLink | None = element("CustomerAccountListLink", ListLink)
    demand_response_program_list_link: ListLink | None = element(
        "DemandResponseProgramListLink", ListLink
    )
    der_program_list_link: ListLink | None = element("DERProgramListLink", ListLink)
    file_list_link: ListLink | None = element("FileListLink", ListLink)
    messaging_program_list_link: ListLink | None = element("MessagingProgramListLink", ListLink)
    prepayment_list_link: ListLink | None = element("PrepaymentListLink", ListLink)
    response_set_list_link: ListLink | None = element("ResponseSetListLink", ListLink)
    tariff_profile_list_link: ListLink | None = element("TariffProfileListLink", ListLink)
    time_link: Link | None = element("TimeLink", Link)
    usage_point_list_link: ListLink | None = element("UsagePointListLink", ListLink)
    end_device_list_link: ListLink | None = element("EndDeviceListLink", ListLink)
    mirror_usage_point_list_link: ListLink | None = element("MirrorUsagePointListLink", ListLink)
    self_device_link: Link | None = element("SelfDeviceLink", Link)


@root_element()
@dataclass(kw_only=True)
class Time(Resource):
    """Time: all instants are TimeType (seconds since 1970 UTC); offsets in seconds."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    current_time: int = element("currentTime", TIME, required=True)
    dst_end_time: int = element("dstEndTime", TIME, required=True)
    dst_offset: int = element("dstOffset", TIME_OFFSET, required=True)
    dst_start_time: int = element("dstStartTime", TIME, required=True)
    local_time: int | None = element("localTime", TIME)
    quality: int = element("quality", UINT8, required=True)
    tz_offset: int = element("tzOffset", TIME_OFFSET, required=True)


# --- EndDevice, Registration, DeviceInformation, FunctionSetAssignments -------------------


@root_element()
@dataclass(kw_only=True)
class EndDevice(SubscribableResource):
    """EndDevice (with the CSIP-AUS ConnectionPointLink extension)."""

    configuration_link: Link | None = element("ConfigurationLink", Link)
    der_list_link: ListLink | None = element("DERListLink", ListLink)
    device_category: int | None = element("deviceCategory", HEX32)
    device_information_link: Link | None = element("DeviceInformationLink", Link)
    device_status_link: Link | None = element("DeviceStatusLink", Link)
    file_status_link: Link | None = element("FileStatusLink", Link)
    ip_interface_list_link: ListLink | None = element("IPInterfaceListLink", ListLink)
    lfdi: str | None = element("lFDI", LFDI)
    load_shed_availability_list_link: ListLink | None = element(
        "LoadShedAvailabilityListLink", ListLink
    )
    log_event_list_link: ListLink | None = element("LogEventListLink", ListLink)
    power_status_link: Link | None = element("PowerStatusLink", Link)
    sfdi: int = element("sFDI", SFDI, required=True)
    changed_time: int = element("changedTime", TIME, required=True)
    enabled: bool | None = element("enabled", BOOLEAN)
    flow_reservation_request_list_link: ListLink | None = element(
        "FlowReservationRequestListLink", ListLink
    )
    flow_reservation_response_list_link: ListLink | None = element(
        "FlowReservationResponseListLink", ListLink
    )
    function_set_assignments_list_link: ListLink | None = element(
        "FunctionSetAssignmentsListLink", ListLink
    )
    post_rate: int | None = element("postRate", UINT32)
    registration_link: Link | None = element("RegistrationLink", Link)
    subscription_list_link: ListLink | None = element("SubscriptionListLink", ListLink)
    connection_point_link: Link | None = element("ConnectionPointLink", Link, namespace=CSIPAUS_NS)


@root_element()
@dataclass(kw_only=True)
class EndDeviceList(SubscribableList):
    """EndDeviceList."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    end_devices: list[EndDevice] = element("EndDevice", EndDevice, many=True)


@root_element()
@dataclass(kw_only=True)
class Registration(Resource):
    """Registration: the PIN a client checks before trusting the server."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    date_time_registered: int = element("dateTimeRegistered", TIME, required=True)
    pin: int = element("pIN", UINT32, required=True)


@dataclass(kw_only=True)
class DRLCCapabilities(SepObject):
    """DRLCCapabilities."""

    average_energy: RealEnergy = element("averageEnergy", RealEnergy, required=True)
    max_demand: ActivePower = element("maxDemand", ActivePower, required=True)
    options_implemented: int = element("optionsImplemented", HEX32, required=True)


@dataclass(kw_only=True)
class GPSLocation(SepObject):
    """GPSLocationType: decimal degrees as text."""

    lat: str = element("lat", STRING32, required=True)
    lon: str = element("lon", STRING32, required=True)


@root_element()
@dataclass(kw_only=True)
class DeviceInformation(Resource):
    """DeviceInformation."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    drlc_capabilities: DRLCCapabilities | None = element("DRLCCapabilities", DRLCCapabilities)
    functions_implemented: int | None = element("functionsImplemented", HEX64)
    gps_location: GPSLocation | None = element("gpsLocation", GPSLocation)
    lfdi: str = element("lFDI", LFDI, required=True)
    mf_date: int = element("mfDate", TIME, required=True)
    mf_hw_ver: str = element("mfHwVer", STRING32, required=True)
    mf_id: int = element("mfID", UINT32, required=True)
    mf_info: str | None = element("mfInfo", STRING32)
    mf_model: str = element("mfModel", STRING32, required=True)
    mf_ser_num: str = element("mfSerNum", STRING32, required=True)
    primary_power: int = element("primaryPower", UINT8, required=True)
    secondary_power: int = element("secondaryPower", UINT8, required=True)
    supported_locale_list_link: ListLink | None = element("SupportedLocaleListLink", ListLink)
    sw_act_time: int = element("swActTime", TIME, required=True)
    sw_ver: str = element("swVer", STRING32, required=True)


@root_element()
@dataclass(kw_only=True)
class FunctionSetAssignments(SubscribableResource):
    """FunctionSetAssignments: its links come before its identity, as in the XSD."""

    customer_account_list_link: ListLink | None = element("CustomerAccountListLink", ListLink)
    demand_response_program_list_link: ListLink | None = element(
        "DemandResponseProgramListLink", ListLink
    )
    der_program_list_link: ListLink | None = element("DERProgramListLink", ListLink)
    file_list_link: ListLink | None = element("FileListLink", ListLink)
    messaging_program_list_link: ListLink | None = element("MessagingProgramListLink", ListLink)
    prepayment_list_link: ListLink | None = element("PrepaymentListLink", ListLink)
    response_set_list_link: ListLink | None = element("ResponseSetListLink", ListLink)
    tariff_profile_list_link: ListLink | None = element("TariffProfileListLink", ListLink)
    time_link: Link | None = element("TimeLink", Link)
    usage_point_list_link: ListLink | None = element("UsagePointListLink", ListLink)
    mrid: str = element("mRID", MRID, required=True)
    description: str | None = element("description", STRING32)
    version: int | None = element("version", UINT16)


@root_element()
@dataclass(kw_only=True)
class FunctionSetAssignmentsList(SubscribableList):
    """FunctionSetAssignmentsList."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    function_set_assignments: list[FunctionSetAssignments] = element(
        "FunctionSetAssignments", FunctionSetAssignments, many=True
    )


# --- DER programs and controls ------------------------------------------------------------


@root_element()
@dataclass(kw_only=True)
class DERProgram(SubscribableIdentifiedObject):
    """DERProgram: a lower `primacy` wins."""

    active_der_control_list_link: ListLink | None = element("ActiveDERControlListLink", ListLink)
    default_der_control_link: Link | None = element("DefaultDERControlLink", Link)
    der_control_list_link: ListLink | None = element("DERControlListLink", ListLink)
    der_curve_list_link: ListLink | None = element("DERCurveListLink", ListLink)
    primacy: int = element("primacy", UINT8, required=True)


@root_element()
@dataclass(kw_only=True)
class DERProgramList(SubscribableList):
    """DERProgramList."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    der_programs: list[DERProgram] = element("DERProgram", DERProgram, many=True)


@root_element()
@dataclass(kw_only=True)
class EventStatus(SepObject):
    """EventStatus: currentStatus 0 scheduled, 1 active, 2 cancelled, 3 cancelled with
    randomization, 4 superseded."""

    current_status: int = element("currentStatus", UINT8, required=True)
    date_time: int = element("dateTime", TIME, required=True)
    potentially_superseded: bool = element("potentiallySuperseded", BOOLEAN, required=True)
    potentially_superseded_time: int | None = element("potentiallySupersededTime", TIME)
    reason: str | None = element("reason", STRING192)


@root_element()
@dataclass(kw_only=True)
class DERControlBase(SepObject):
    """DERControlBase, with the CSIP-AUS dynamic operating envelope extensions at the end.

    Curve modes (opModVoltVar …) are links to DERCurves, which this server does not serve.
    """

    op_mod_connect: bool | None = element("opModConnect", BOOLEAN)
    op_mod_energize: bool | None = element("opModEnergize", BOOLEAN)
    op_mod_fixed_pf_absorb_w: PowerFactorWithExcitation | None = element(
        "opModFixedPFAbsorbW", PowerFactorWithExcitation
    )
    op_mod_fixed_pf_inject_w: PowerFactorWithExcitation | None = element(
        "opModFixedPFInjectW", PowerFactorWithExcitation
    )
    op_mod_fixed_var: FixedVar | None = element("opModFixedVar", FixedVar)
    op_mod_fixed_w: int | None = element("opModFixedW", SIGNED_PERCENT)
    op_mod_freq_droop: FreqDroop | None = element("opModFreqDroop", FreqDroop)
    op_mod_freq_watt: Link | None = element("opModFreqWatt", Link)
    op_mod_hfrt_may_trip: Link | None = element("opModHFRTMayTrip", Link)
    op_mod_hfrt_must_trip: Link | None = element("opModHFRTMustTrip", Link)
    op_mod_hvrt_may_trip: Link | None = element("opModHVRTMayTrip", Link)
    op_mod_hvrt_momentary_cessation: Link | None = element("opModHVRTMomentaryCessation", Link)
    op_mod_hvrt_must_trip: Link | None = element("opModHVRTMustTrip", Link)
    op_mod_lfrt_may_trip: Link | None = element("opModLFRTMayTrip", Link)
    op_mod_lfrt_must_trip: Link | None = element("opModLFRTMustTrip", Link)
    op_mod_lvrt_may_trip: Link | None = element("opModLVRTMayTrip", Link)
    op_mod_lvrt_momentary_cessation: Link | None = element("opModLVRTMomentaryCessation", Link)
    op_mod_lvrt_must_trip: Link | None = element("opModLVRTMustTrip", Link)
    op_mod_max_lim_w: int | None = element("opModMaxLimW", PERCENT)
    op_mod_target_var: ReactivePower | None = element("opModTargetVar", ReactivePower)
    op_mod_target_w: ActivePower | None = element("opModTargetW", ActivePower)
    op_mod_volt_var: Link | None = element("opModVoltVar", Link)
    op_mod_volt_watt: Link | None = element("opModVoltWatt", Link)
    op_mod_watt_pf: Link | None = element("opModWattPF", Link)
    op_mod_watt_var: Link | None = element("opModWattVar", Link)
    ramp_tms: int | None = element("rampTms", UINT16)
    # CSIP-AUS 1.2
    op_mod_imp_lim_w: ActivePower | None = element(
        "opModImpLimW", ActivePower, namespace=CSIPAUS_NS
    )
    op_mod_exp_lim_w: ActivePower | None = element(
        "opModExpLimW", ActivePower, namespace=CSIPAUS_NS
    )
    op_mod_gen_lim_w: ActivePower | None = element(
        "opModGenLimW", ActivePower, namespace=CSIPAUS_NS
    )
    op_mod_load_lim_w: ActivePower | None = element(
        "opModLoadLimW", ActivePower, namespace=CSIPAUS_NS
    )


@root_element()
@dataclass(kw_only=True)
class DERControl(SubscribableIdentifiedObject):
    """DERControl (an event). `replyTo`/`responseRequired` say where and when to respond."""

    reply_to: str | None = attribute("replyTo", ANY_URI)
    response_required: int | None = attribute("responseRequired", HEX8)
    creation_time: int = element("creationTime", TIME, required=True)
    event_status: EventStatus = element("EventStatus", EventStatus, required=True)
    interval: DateTimeInterval = element("interval", DateTimeInterval, required=True)
    randomize_duration: int | None = element("randomizeDuration", ONE_HOUR_RANGE)
    randomize_start: int | None = element("randomizeStart", ONE_HOUR_RANGE)
    der_control_base: DERControlBase = element("DERControlBase", DERControlBase, required=True)
    device_category: int | None = element("deviceCategory", HEX32)


@root_element()
@dataclass(kw_only=True)
class DERControlList(SubscribableList):
    """DERControlList (also used for the ActiveDERControlList)."""

    der_controls: list[DERControl] = element("DERControl", DERControl, many=True)


@root_element()
@dataclass(kw_only=True)
class DefaultDERControl(SubscribableIdentifiedObject):
    """DefaultDERControl: what a DER does when no event is active."""

    der_control_base: DERControlBase = element("DERControlBase", DERControlBase, required=True)
    set_es_delay: int | None = element("setESDelay", UINT32)
    set_es_high_freq: int | None = element("setESHighFreq", UINT16)
    set_es_high_volt: int | None = element("setESHighVolt", INT16)
    set_es_low_freq: int | None = element("setESLowFreq", UINT16)
    set_es_low_volt: int | None = element("setESLowVolt", INT16)
    set_es_ramp_tms: int | None = element("setESRampTms", UINT32)
    set_es_random_delay: int | None = element("setESRandomDelay", UINT32)
    set_grad_w: int | None = element("setGradW", UINT16)
    set_soft_grad_w: int | None = element("setSoftGradW", UINT16)


# --- DER ----------------------------------------------------------------------------------


@root_element()
@dataclass(kw_only=True)
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
@dataclass(kw_only=True)
class DERList(SepList):
    """DERList."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    ders: list[DER] = element("DER", DER, many=True)


@root_element()
@dataclass(kw_only=True)
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
@dataclass(kw_only=True)
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


@dataclass(kw_only=True)
class ConnectStatus(SepObject):
    """ConnectStatusType: bitmap (bit 0 connected, 1 available, 2 operating, 3 test, 4 fault)."""

    date_time: int = element("dateTime", TIME, required=True)
    value: int = element("value", HEX8, required=True)


@dataclass(kw_only=True)
class StatusValue(SepObject):
    """InverterStatusType, OperationalModeStatusType, StorageModeStatusType and
    LocalControlModeStatusType share this shape."""

    date_time: int = element("dateTime", TIME, required=True)
    value: int = element("value", UINT8, required=True)


@dataclass(kw_only=True)
class ManufacturerStatus(SepObject):
    """ManufacturerStatusType."""

    date_time: int = element("dateTime", TIME, required=True)
    value: str = element("value", STRING6, required=True)


@dataclass(kw_only=True)
class StateOfChargeStatus(SepObject):
    """StateOfChargeStatusType: `value` in hundredths of a percent."""

    date_time: int = element("dateTime", TIME, required=True)
    value: int = element("value", PERCENT, required=True)


@root_element()
@dataclass(kw_only=True)
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
@dataclass(kw_only=True)
class DERAvailability(SubscribableResource):
    """DERAvailability: durations in seconds, reserves in hundredths of a percent."""

    availability_duration: int | None = element("availabilityDuration", UINT32)
    max_charge_duration: int | None = element("maxChargeDuration", UINT32)
    reading_time: int = element("readingTime", TIME, required=True)
    reserve_charge_percent: int | None = element("reserveChargePercent", PERCENT)
    reserve_percent: int | None = element("reservePercent", PERCENT)
    stat_var_avail: ReactivePower | None = element("statVarAvail", ReactivePower)
    stat_w_avail: ActivePower | None = element("statWAvail", ActivePower)


# --- Metering mirror ----------------------------------------------------------------------


@dataclass(kw_only=True)
class UnitValue(SepObject):
    """UnitValueType."""

    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)
    unit: int = element("unit", UINT8, required=True)
    value: int = element("value", INT32, required=True)


@root_element()
@dataclass(kw_only=True)
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
@dataclass(kw_only=True)
class Reading(SubscribableResource):
    """Reading: `value` * 10^ReadingType.powerOfTenMultiplier in ReadingType.uom."""

    consumption_block: int | None = element("consumptionBlock", UINT8)
    quality_flags: int | None = element("qualityFlags", HEX16)
    time_period: DateTimeInterval | None = element("timePeriod", DateTimeInterval)
    tou_tier: int | None = element("touTier", UINT8)
    value: int | None = element("value", INT48)
    local_id: int | None = element("localID", HEX16)


@root_element()
@dataclass(kw_only=True)
class MirrorReadingSet(IdentifiedObject):
    """MirrorReadingSet: a batch of interval Readings."""

    time_period: DateTimeInterval = element("timePeriod", DateTimeInterval, required=True)
    readings: list[Reading] = element("Reading", Reading, many=True)


@root_element()
@dataclass(kw_only=True)
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
@dataclass(kw_only=True)
class MirrorMeterReadingList(SepList):
    """MirrorMeterReadingList (a batch POST of readings to a MirrorUsagePoint)."""

    mirror_meter_readings: list[MirrorMeterReading] = element(
        "MirrorMeterReading", MirrorMeterReading, many=True
    )


@root_element()
@dataclass(kw_only=True)
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
@dataclass(kw_only=True)
class MirrorUsagePointList(SepList):
    """MirrorUsagePointList."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    mirror_usage_points: list[MirrorUsagePoint] = element(
        "MirrorUsagePoint", MirrorUsagePoint, many=True
    )


# --- Response, LogEvent, Subscription / Notification --------------------------------------


@root_element()
@dataclass(kw_only=True)
class Response(Resource):
    """Response: `status` codes are listed in DOMAIN.md; `subject` is the event's mRID."""

    created_date_time: int | None = element("createdDateTime", TIME)
    end_device_lfdi: str = element("endDeviceLFDI", LFDI, required=True)
    status: int | None = element("status", UINT8)
    subject: str = element("subject", MRID, required=True)


@root_element()
@dataclass(kw_only=True)
class DERControlResponse(Response):
    """DERControlResponse: a Response to a DERControl."""


@root_element()
@dataclass(kw_only=True)
class ResponseList(SepList):
    """ResponseList."""

    responses: list[Response] = element("Response", Response, many=True)


@root_element()
@dataclass(kw_only=True)
class LogEvent(Resource):
    """LogEvent."""

    created_date_time: int = element("createdDateTime", TIME, required=True)
    details: str | None = element("details", STRING32)
    extended_data: int | None = element("extendedData", UINT32)
    function_set: int = element("functionSet", UINT8, required=True)
    log_event_code: int = element("logEventCode", UINT8, required=True)
    log_event_id: int = element("logEventID", UINT16, required=True)
    log_event_pen: int = element("logEventPEN", UINT32, required=True)
    profile_id: int = element("profileID", UINT8, required=True)


@root_element()
@dataclass(kw_only=True)
class LogEventList(SepList):
    """LogEventList."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    log_events: list[LogEvent] = element("LogEvent", LogEvent, many=True)


@dataclass(kw_only=True)
class Condition(SepObject):
    """Condition on a subscription."""

    attribute_identifier: int = element("attributeIdentifier", UINT8, required=True)
    lower_threshold: int = element("lowerThreshold", INT48, required=True)
    upper_threshold: int = element("upperThreshold", INT48, required=True)


@root_element()
@dataclass(kw_only=True)
class Subscription(Resource):
    """Subscription: `encoding` 0 is sep+xml; `limit` caps list items per notification."""

    subscribed_resource: str = element("subscribedResource", ANY_URI, required=True)
    condition: Condition | None = element("Condition", Condition)
    encoding: int = element("encoding", UINT8, required=True)
    level: str = element("level", STRING16, required=True)
    limit: int = element("limit", UINT32, required=True)
    notification_uri: str = element("notificationURI", ANY_URI, required=True)


@root_element()
@dataclass(kw_only=True)
class SubscriptionList(SepList):
    """SubscriptionList."""

    poll_rate: int | None = attribute("pollRate", UINT32)
    subscriptions: list[Subscription] = element("Subscription", Subscription, many=True)


@root_element()
@dataclass(kw_only=True)
class Notification(Resource):
    """Notification: carries the changed resource, typed by xsi:type."""

    subscribed_resource: str = element("subscribedResource", ANY_URI, required=True)
    new_resource_uri: str | None = element("newResourceURI", ANY_URI)
    resource: SepObject | None = element("Resource", AnyResource)
    status: int = element("status", UINT8, required=True)
    subscription_uri: str = element("subscriptionURI", ANY_URI, required=True)


# --- Conversions between the domain's units and the wire's ------------------------------


def time_type(moment: dt.datetime) -> int:
    """An aware datetime as TimeType: whole seconds since 1970-01-01 UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("TimeType needs an aware datetime")
    return int(moment.timestamp() // 1)


def from_time_type(seconds: int) -> dt.datetime:
    """TimeType as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


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
