"""EndDevice, Registration, DeviceInformation and FunctionSetAssignments."""

from __future__ import annotations

from protocol.xml.codec import (
    BOOLEAN,
    CSIPAUS_NS,
    HEX32,
    HEX64,
    LFDI,
    SFDI,
    STRING32,
    TIME,
    UINT8,
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
    SubscribableIdentifiedObject,
    SubscribableList,
    SubscribableResource,
)
from protocol.xml.resources.dcap import FunctionSetAssignmentsBase
from protocol.xml.resources.units import ActivePower, RealEnergy


@root_element()
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


@root_element(namespace=CSIPAUS_NS)
class ConnectionPoint(Resource):
    """csipaus:ConnectionPoint: where the EndDevice is connected to the network (the NMI)."""

    connection_point_id: str = element(
        "connectionPointId", STRING32, required=True, namespace=CSIPAUS_NS
    )


@root_element()
class EndDeviceList(Polled, SubscribableList):
    """EndDeviceList."""

    end_devices: list[EndDevice] = items(EndDevice)


@root_element()
class Registration(Polled, Resource):
    """Registration: the PIN a client checks before trusting the server."""

    date_time_registered: int = element("dateTimeRegistered", TIME, required=True)
    pin: int = element("pIN", UINT32, required=True)


class DRLCCapabilities(SepObject):
    """DRLCCapabilities."""

    average_energy: RealEnergy = element("averageEnergy", RealEnergy, required=True)
    max_demand: ActivePower = element("maxDemand", ActivePower, required=True)
    options_implemented: int = element("optionsImplemented", HEX32, required=True)


class GPSLocation(SepObject):
    """GPSLocationType: decimal degrees as text."""

    lat: str = element("lat", STRING32, required=True)
    lon: str = element("lon", STRING32, required=True)


@root_element()
class DeviceInformation(Polled, Resource):
    """DeviceInformation."""

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
class FunctionSetAssignments(SubscribableIdentifiedObject, FunctionSetAssignmentsBase):
    """FunctionSetAssignments: the base's links come before the identity, as in the XSD."""


@root_element()
class FunctionSetAssignmentsList(Polled, SubscribableList):
    """FunctionSetAssignmentsList."""

    function_set_assignments: list[FunctionSetAssignments] = items(FunctionSetAssignments)
