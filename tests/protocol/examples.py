"""One realistic instance of every declared 2030.5 resource, shared by the codec tests."""

from protocol.xml.resources.common import DateTimeInterval, Error, Link, ListLink
from protocol.xml.resources.dcap import DeviceCapability
from protocol.xml.resources.der import (
    DER,
    ConnectStatus,
    DERAvailability,
    DERCapability,
    DERList,
    DERSettings,
    DERStatus,
    ManufacturerStatus,
    StateOfChargeStatus,
    StatusValue,
)
from protocol.xml.resources.derp import (
    CurveData,
    DefaultDERControl,
    DERControl,
    DERControlBase,
    DERControlList,
    DERCurve,
    DERCurveList,
    DERProgram,
    DERProgramList,
    EventStatus,
    FixedVar,
    FreqDroop,
    PowerFactorWithExcitation,
)
from protocol.xml.resources.edev import (
    DeviceInformation,
    DRLCCapabilities,
    EndDevice,
    EndDeviceList,
    FunctionSetAssignments,
    FunctionSetAssignmentsList,
    GPSLocation,
    Registration,
)
from protocol.xml.resources.log import LogEvent, LogEventList
from protocol.xml.resources.mirror import (
    MirrorMeterReading,
    MirrorMeterReadingList,
    MirrorReadingSet,
    MirrorUsagePoint,
    MirrorUsagePointList,
    Reading,
    ReadingType,
)
from protocol.xml.resources.pubsub import Condition, Notification, Subscription, SubscriptionList
from protocol.xml.resources.response import DERControlResponse, Response, ResponseList
from protocol.xml.resources.time import Time
from protocol.xml.resources.units import (
    ActivePower,
    ApparentPower,
    CurrentRMS,
    PowerFactor,
    ReactivePower,
    RealEnergy,
    VoltageRMS,
    WattHour,
)

LFDI = "3E4F45AB31EDFE5B67E343E5E4562E31984E23E5"
MRID = "A1B2C3D4E5F60718293A4B5C6D7E8F90"
T0 = 1_763_780_400  # 2025-11-22 03:00:00 UTC


def watts(value: int, multiplier: int = 0) -> ActivePower:
    return ActivePower(multiplier=multiplier, value=value)


def der_control(mrid: str = MRID, **base) -> DERControl:
    return DERControl(
        href=f"/derp/1/derc/{mrid[:4]}",
        reply_to="/rsps/1/rsp",
        response_required=0x03,
        subscribable=0,
        mrid=mrid,
        description="Evening peak",
        version=2,
        creation_time=T0 - 3600,
        event_status=EventStatus(
            current_status=0,
            date_time=T0 - 3600,
            potentially_superseded=False,
            reason="Scheduled by utility",
        ),
        interval=DateTimeInterval(duration=7200, start=T0),
        randomize_duration=0,
        randomize_start=-60,
        der_control_base=DERControlBase(
            op_mod_connect=True,
            op_mod_energize=True,
            op_mod_fixed_w=-5000,
            op_mod_max_lim_w=8000,
            op_mod_target_w=watts(5, 3),
            ramp_tms=300,
            **base,
        ),
        device_category=0x00020000,
    )


def end_device() -> EndDevice:
    return EndDevice(
        href="/edev/3",
        subscribable=0,
        der_list_link=ListLink(href="/edev/3/der", all=1),
        device_category=0x00020000,
        device_information_link=Link(href="/edev/3/di"),
        lfdi=LFDI,
        log_event_list_link=ListLink(href="/edev/3/lel", all=0),
        sfdi=167261211391,
        changed_time=T0,
        enabled=True,
        function_set_assignments_list_link=ListLink(href="/edev/3/fsa", all=1),
        post_rate=300,
        registration_link=Link(href="/edev/3/rg"),
        subscription_list_link=ListLink(href="/edev/3/sub", all=0),
    )


def mirror_meter_reading() -> MirrorMeterReading:
    return MirrorMeterReading(
        mrid="00000000000000000000000000000A01",
        description="Site real power",
        last_update_time=T0,
        mirror_reading_sets=[
            MirrorReadingSet(
                mrid="00000000000000000000000000000B01",
                time_period=DateTimeInterval(duration=300, start=T0 - 300),
                readings=[
                    Reading(value=-3200, time_period=DateTimeInterval(duration=60, start=T0)),
                    Reading(value=1500, quality_flags=0x0001, local_id=0x0002),
                ],
            )
        ],
        next_update_time=T0 + 300,
        reading_type=ReadingType(
            accumulation_behaviour=12,
            commodity=1,
            data_qualifier=2,
            flow_direction=1,
            interval_length=300,
            kind=37,
            phase=0,
            power_of_ten_multiplier=0,
            uom=38,
        ),
    )


def notification() -> Notification:
    return Notification(
        subscribed_resource="/derp/1/derc",
        resource=DERControlList(
            href="/derp/1/derc", all=1, results=1, der_controls=[der_control()]
        ),
        status=0,
        subscription_uri="/edev/3/sub/1",
    )


EXAMPLES = {
    "Error": lambda: Error(max_retry_duration=60, reason_code=1),
    "DeviceCapability": lambda: DeviceCapability(
        href="/dcap",
        poll_rate=300,
        der_program_list_link=None,
        response_set_list_link=ListLink(href="/rsps", all=1),
        time_link=Link(href="/tm"),
        end_device_list_link=ListLink(href="/edev", all=1),
        mirror_usage_point_list_link=ListLink(href="/mup", all=0),
        self_device_link=Link(href="/sdev"),
    ),
    "Time": lambda: Time(
        href="/tm",
        poll_rate=900,
        current_time=T0,
        dst_end_time=1_775_404_800,
        dst_offset=3600,
        dst_start_time=1_759_593_600,
        local_time=T0 + 39600,
        quality=7,
        tz_offset=36000,
    ),
    "EndDevice": end_device,
    "EndDeviceList": lambda: EndDeviceList(
        href="/edev", all=3, results=1, subscribable=1, poll_rate=300, end_devices=[end_device()]
    ),
    "Registration": lambda: Registration(href="/edev/3/rg", date_time_registered=T0, pin=111115),
    "DeviceInformation": lambda: DeviceInformation(
        href="/edev/3/di",
        drlc_capabilities=DRLCCapabilities(
            average_energy=RealEnergy(multiplier=3, value=12),
            max_demand=watts(5, 3),
            options_implemented=0,
        ),
        functions_implemented=0x0000000000000411,
        gps_location=GPSLocation(lat="-33.8688", lon="151.2093"),
        lfdi=LFDI,
        mf_date=T0 - 86400 * 365,
        mf_hw_ver="HW-2.1",
        mf_id=37244,
        mf_model="Reservoir Battery 10",
        mf_ser_num="RB10-000123",
        primary_power=1,
        secondary_power=0,
        sw_act_time=T0 - 86400,
        sw_ver="1.4.2",
    ),
    "FunctionSetAssignments": lambda: FunctionSetAssignments(
        href="/edev/3/fsa/1",
        der_program_list_link=ListLink(href="/edev/3/fsa/1/derp", all=2),
        time_link=Link(href="/tm"),
        mrid="0000000000000000000000000000F5A1",
        description="Dispatch group North",
    ),
    "FunctionSetAssignmentsList": lambda: FunctionSetAssignmentsList(
        href="/edev/3/fsa",
        all=1,
        results=1,
        poll_rate=300,
        function_set_assignments=[FunctionSetAssignments(mrid="0000000000000000000000000000F5A1")],
    ),
    "DERProgram": lambda: DERProgram(
        href="/derp/1",
        mrid="0000000000000000000000000000D001",
        description="BYOB summer",
        version=1,
        active_der_control_list_link=ListLink(href="/derp/1/actderc", all=0),
        default_der_control_link=Link(href="/derp/1/dderc"),
        der_control_list_link=ListLink(href="/derp/1/derc", all=4),
        primacy=20,
    ),
    "DERProgramList": lambda: DERProgramList(
        href="/derp",
        all=1,
        results=1,
        poll_rate=300,
        der_programs=[DERProgram(mrid="0000000000000000000000000000D001", primacy=1)],
    ),
    "EventStatus": lambda: EventStatus(
        current_status=4, date_time=T0, potentially_superseded=True, potentially_superseded_time=T0
    ),
    "DERControlBase": lambda: DERControlBase(
        op_mod_fixed_pf_inject_w=PowerFactorWithExcitation(
            displacement=95, excitation=True, multiplier=-2
        ),
        op_mod_fixed_var=FixedVar(ref_type=2, value=-1000),
        op_mod_freq_droop=FreqDroop(db_of=36, db_uf=36, k_of=50, k_uf=50, open_loop_tms=500),
        op_mod_volt_var=Link(href="/derp/1/dc/1"),
        op_mod_target_var=ReactivePower(multiplier=0, value=-200),
    ),
    "DERControl": der_control,
    "DERControlList": lambda: DERControlList(
        href="/derp/1/derc",
        all=2,
        results=2,
        der_controls=[der_control(), der_control("0000000000000000000000000000C002")],
    ),
    "DefaultDERControl": lambda: DefaultDERControl(
        href="/derp/1/dderc",
        mrid="0000000000000000000000000000DD01",
        der_control_base=DERControlBase(op_mod_connect=True, op_mod_max_lim_w=10000),
        set_es_delay=300,
        set_es_high_volt=11000,
        set_grad_w=27,
        set_soft_grad_w=27,
    ),
    "CurveData": lambda: CurveData(excitation=False, xvalue=10800, yvalue=-4400),
    "DERCurve": lambda: DERCurve(
        href="/derp/1/dc/1",
        mrid="0000000000000000000000000000DC01",
        description="Volt-var 1547 B",
        autonomous_v_ref_enable=False,
        creation_time=T0,
        curve_data=[
            CurveData(xvalue=9200, yvalue=4400),
            CurveData(xvalue=9800, yvalue=0),
            CurveData(xvalue=10200, yvalue=0),
            CurveData(xvalue=10800, yvalue=-4400),
        ],
        curve_type=11,
        open_loop_tms=500,
        v_ref=10000,
        x_multiplier=-2,
        y_multiplier=-2,
        y_ref_type=2,
    ),
    "DERCurveList": lambda: DERCurveList(
        href="/derp/1/dc",
        all=1,
        results=1,
        der_curves=[
            DERCurve(
                href="/derp/1/dc/2",
                mrid="0000000000000000000000000000DC02",
                creation_time=T0,
                curve_data=[CurveData(xvalue=5000, yvalue=100)],
                curve_type=0,
                x_multiplier=-2,
                y_multiplier=0,
                y_ref_type=1,
            )
        ],
    ),
    "DER": lambda: DER(
        href="/edev/3/der/1",
        der_availability_link=Link(href="/edev/3/der/1/dera"),
        der_capability_link=Link(href="/edev/3/der/1/dercap"),
        der_settings_link=Link(href="/edev/3/der/1/derg"),
        der_status_link=Link(href="/edev/3/der/1/ders"),
    ),
    "DERList": lambda: DERList(
        href="/edev/3/der", all=1, results=1, ders=[DER(href="/edev/3/der/1")]
    ),
    "DERCapability": lambda: DERCapability(
        href="/edev/3/der/1/dercap",
        modes_supported=0x00500040,
        rtg_max_a=CurrentRMS(multiplier=0, value=32),
        rtg_max_charge_rate_w=watts(5000),
        rtg_max_discharge_rate_w=watts(5000),
        rtg_max_va=ApparentPower(multiplier=0, value=5000),
        rtg_max_w=watts(5000),
        rtg_max_wh=WattHour(multiplier=1, value=1350),
        rtg_min_pf_over_excited=PowerFactor(displacement=80, multiplier=-2),
        rtg_v_nom=VoltageRMS(multiplier=0, value=230),
        type=83,
    ),
    "DERSettings": lambda: DERSettings(
        href="/edev/3/der/1/derg",
        modes_enabled=0x00000040,
        set_grad_w=27,
        set_max_charge_rate_w=watts(4500),
        set_max_w=watts(5000),
        set_max_wh=WattHour(multiplier=1, value=1350),
        updated_time=T0,
    ),
    "DERStatus": lambda: DERStatus(
        href="/edev/3/der/1/ders",
        alarm_status=0,
        gen_connect_status=ConnectStatus(date_time=T0, value=0x07),
        inverter_status=StatusValue(date_time=T0, value=4),
        manufacturer_status=ManufacturerStatus(date_time=T0, value="OK"),
        operational_mode_status=StatusValue(date_time=T0, value=2),
        reading_time=T0,
        state_of_charge_status=StateOfChargeStatus(date_time=T0, value=6550),
        storage_mode_status=StatusValue(date_time=T0, value=0),
        stor_connect_status=ConnectStatus(date_time=T0, value=0x07),
    ),
    "DERAvailability": lambda: DERAvailability(
        href="/edev/3/der/1/dera",
        availability_duration=7200,
        max_charge_duration=9000,
        reading_time=T0,
        reserve_percent=2000,
        stat_w_avail=watts(45, 2),
    ),
    "ReadingType": lambda: ReadingType(uom=72, power_of_ten_multiplier=3, kind=12),
    "Reading": lambda: Reading(href="/mup/1/mr/1/r", value=-140737488355328),
    "MirrorReadingSet": lambda: MirrorReadingSet(
        mrid="00000000000000000000000000000B02",
        time_period=DateTimeInterval(duration=60, start=T0),
    ),
    "MirrorMeterReading": mirror_meter_reading,
    "MirrorMeterReadingList": lambda: MirrorMeterReadingList(
        all=1, results=1, mirror_meter_readings=[mirror_meter_reading()]
    ),
    "MirrorUsagePoint": lambda: MirrorUsagePoint(
        href="/mup/1",
        mrid="00000000000000000000000000000E01",
        description="Site meter",
        role_flags=0x0049,
        service_category_kind=0,
        status=1,
        device_lfdi=LFDI,
        mirror_meter_readings=[mirror_meter_reading()],
        post_rate=300,
    ),
    "MirrorUsagePointList": lambda: MirrorUsagePointList(
        href="/mup",
        all=1,
        results=1,
        poll_rate=300,
        mirror_usage_points=[
            MirrorUsagePoint(
                mrid="00000000000000000000000000000E01",
                role_flags=0x0003,
                service_category_kind=0,
                status=1,
                device_lfdi=LFDI,
            )
        ],
    ),
    "Response": lambda: Response(
        created_date_time=T0, end_device_lfdi=LFDI, status=1, subject=MRID
    ),
    "DERControlResponse": lambda: DERControlResponse(
        href="/rsps/1/rsp/9", created_date_time=T0, end_device_lfdi=LFDI, status=2, subject=MRID
    ),
    "ResponseList": lambda: ResponseList(
        href="/rsps/1/rsp",
        all=1,
        results=1,
        responses=[Response(end_device_lfdi=LFDI, subject=MRID)],
    ),
    "LogEvent": lambda: LogEvent(
        href="/edev/3/lel/1",
        created_date_time=T0,
        details="Grid fault",
        extended_data=12,
        function_set=22,
        log_event_code=3,
        log_event_id=17,
        log_event_pen=37244,
        profile_id=2,
    ),
    "LogEventList": lambda: LogEventList(
        href="/edev/3/lel",
        all=1,
        results=1,
        log_events=[
            LogEvent(
                created_date_time=T0,
                function_set=0,
                log_event_code=0,
                log_event_id=1,
                log_event_pen=0,
                profile_id=0,
            )
        ],
    ),
    "Subscription": lambda: Subscription(
        href="/edev/3/sub/1",
        subscribed_resource="/derp/1/derc",
        condition=Condition(attribute_identifier=0, lower_threshold=-10, upper_threshold=10),
        encoding=0,
        level="+S1",
        limit=10,
        notification_uri="https://client.example/notify",
    ),
    "SubscriptionList": lambda: SubscriptionList(
        href="/edev/3/sub",
        all=1,
        results=1,
        subscriptions=[
            Subscription(
                subscribed_resource="/edev/3",
                encoding=0,
                level="+S1",
                limit=1,
                notification_uri="https://client.example/n",
            )
        ],
    ),
    "Notification": notification,
}


def csipaus_examples():
    """Resources carrying the CSIP-AUS extensions (valid only against csipaus-core.xsd)."""
    envelope = der_control(
        op_mod_imp_lim_w=watts(15, 3),
        op_mod_exp_lim_w=watts(5, 3),
        op_mod_gen_lim_w=watts(10000),
        op_mod_load_lim_w=watts(-7000),
    )
    capability = DERCapability(
        modes_supported=0x00500040, rtg_max_w=watts(5000), type=83, doe_modes_supported=0x0F
    )
    settings = DERSettings(
        set_grad_w=27, set_max_w=watts(5000), updated_time=T0, doe_modes_enabled=0x03
    )
    device = end_device()
    device.connection_point_link = Link(href="/edev/3/cp")
    return {
        "DERControl": envelope,
        "DERCapability": capability,
        "DERSettings": settings,
        "EndDevice": device,
    }
