"""DER programs: DERProgram, DERControl (events), DefaultDERControl, DERCurve, their parts."""

from __future__ import annotations

from protocol.xml.codec import (
    ANY_URI,
    BOOLEAN,
    CSIPAUS_NS,
    HEX8,
    HEX32,
    INT16,
    INT32,
    ONE_HOUR_RANGE,
    PERCENT,
    POWER_OF_TEN,
    SIGNED_PERCENT,
    STRING192,
    TIME,
    UINT8,
    UINT16,
    UINT32,
    SepObject,
    attribute,
    element,
    items,
    root_element,
)
from protocol.xml.resources.common import (
    DateTimeInterval,
    IdentifiedObject,
    Link,
    ListLink,
    Polled,
    SepList,
    SubscribableIdentifiedObject,
    SubscribableList,
)
from protocol.xml.resources.units import ActivePower, ReactivePower


@root_element()
class DERProgram(SubscribableIdentifiedObject):
    """DERProgram: a lower `primacy` wins."""

    active_der_control_list_link: ListLink | None = element("ActiveDERControlListLink", ListLink)
    default_der_control_link: Link | None = element("DefaultDERControlLink", Link)
    der_control_list_link: ListLink | None = element("DERControlListLink", ListLink)
    der_curve_list_link: ListLink | None = element("DERCurveListLink", ListLink)
    primacy: int = element("primacy", UINT8, required=True)


@root_element()
class DERProgramList(Polled, SubscribableList):
    """DERProgramList."""

    der_programs: list[DERProgram] = items(DERProgram)


@root_element()
class EventStatus(SepObject):
    """EventStatus: currentStatus 0 scheduled, 1 active, 2 cancelled, 3 cancelled with
    randomization, 4 superseded."""

    current_status: int = element("currentStatus", UINT8, required=True)
    date_time: int = element("dateTime", TIME, required=True)
    potentially_superseded: bool = element("potentiallySuperseded", BOOLEAN, required=True)
    potentially_superseded_time: int | None = element("potentiallySupersededTime", TIME)
    reason: str | None = element("reason", STRING192)


class PowerFactorWithExcitation(SepObject):
    """PowerFactorWithExcitation."""

    displacement: int = element("displacement", UINT16, required=True)
    excitation: bool = element("excitation", BOOLEAN, required=True)
    multiplier: int = element("multiplier", POWER_OF_TEN, required=True)


class FixedVar(SepObject):
    """FixedVar: reactive power as a signed percentage of `refType`."""

    ref_type: int = element("refType", UINT8, required=True)
    value: int = element("value", SIGNED_PERCENT, required=True)


class FreqDroop(SepObject):
    """FreqDroopType."""

    db_of: int = element("dBOF", UINT32, required=True)
    db_uf: int = element("dBUF", UINT32, required=True)
    k_of: int = element("kOF", UINT16, required=True)
    k_uf: int = element("kUF", UINT16, required=True)
    open_loop_tms: int = element("openLoopTms", UINT16, required=True)


@root_element()
class DERControlBase(SepObject):
    """DERControlBase, with the CSIP-AUS dynamic operating envelope extensions at the end.

    Curve modes (opModVoltVar …) are links to DERCurves in the program's DERCurveList.
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
    # CSIP-AUS: the battery's target charge (< 0) or discharge (> 0) W. Not in the CSIP-AUS
    # 1.2 schema (csipaus-core.xsd ends at opModLoadLimW), so a 1.2 validator refuses it.
    op_mod_storage_target_w: ActivePower | None = element(
        "opModStorageTargetW", ActivePower, namespace=CSIPAUS_NS
    )


@root_element()
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
class DERControlList(SubscribableList):
    """DERControlList (also used for the ActiveDERControlList)."""

    der_controls: list[DERControl] = items(DERControl)


@root_element()
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


@root_element()
class CurveData(SepObject):
    """CurveData: one point of a DERCurve, each value scaled by its axis' multiplier."""

    excitation: bool | None = element("excitation", BOOLEAN)
    xvalue: int = element("xvalue", INT32, required=True)
    yvalue: int = element("yvalue", INT32, required=True)


@root_element()
class DERCurve(IdentifiedObject):
    """DERCurve: 1 to 10 points of `curveType`; y is a percent of `yRefType` where the type
    says so."""

    autonomous_v_ref_enable: bool | None = element("autonomousVRefEnable", BOOLEAN)
    autonomous_v_ref_time_constant: int | None = element("autonomousVRefTimeConstant", UINT32)
    creation_time: int = element("creationTime", TIME, required=True)
    curve_data: list[CurveData] = items(CurveData)
    curve_type: int = element("curveType", UINT8, required=True)
    open_loop_tms: int | None = element("openLoopTms", UINT16)
    ramp_dec_tms: int | None = element("rampDecTms", UINT16)
    ramp_inc_tms: int | None = element("rampIncTms", UINT16)
    ramp_pt1_tms: int | None = element("rampPT1Tms", UINT16)
    v_ref: int | None = element("vRef", PERCENT)
    x_multiplier: int = element("xMultiplier", POWER_OF_TEN, required=True)
    y_multiplier: int = element("yMultiplier", POWER_OF_TEN, required=True)
    y_ref_type: int = element("yRefType", UINT8, required=True)


@root_element()
class DERCurveList(SepList):
    """DERCurveList: a program's curves (a List, neither subscribable nor polled)."""

    der_curves: list[DERCurve] = items(DERCurve)
