"""DeviceCapability (/dcap) and the function-set links it shares with FunctionSetAssignments."""

from __future__ import annotations

from protocol.xml.codec import element, root_element
from protocol.xml.resources.common import Link, ListLink, Polled, Resource


class FunctionSetAssignmentsBase(Resource):
    """FunctionSetAssignmentsBase: links to the function sets' lists."""

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


@root_element()
class DeviceCapability(Polled, FunctionSetAssignmentsBase):
    """DeviceCapability: the entry point (/dcap) from which clients discover everything."""

    end_device_list_link: ListLink | None = element("EndDeviceListLink", ListLink)
    mirror_usage_point_list_link: ListLink | None = element("MirrorUsagePointListLink", ListLink)
    self_device_link: Link | None = element("SelfDeviceLink", Link)
