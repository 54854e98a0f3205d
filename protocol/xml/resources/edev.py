# ruff: noqa: RUF009 -- element()/attribute() return dataclasses.field specifiers, not defaults
"""edev."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.xml.codec import (
    BOOLEAN,
    CSIPAUS_NS,
    HEX32,
    HEX64,
    LFDI,
    MRID,
    SFDI,
    STRING32,
    TIME,
    UINT8,
    UINT16,
    UINT32,
    SepObject,
    attribute,
    element,
    root_element,
)
from protocol.xml.resources.common import (
    Link,
    ListLink,
    Resource,
    SubscribableList,
    SubscribableResource,
)
from protocol.xml.resources.units import ActivePower, RealEnergy


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
