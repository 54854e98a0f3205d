"""DER function set: /edev/{e}/der hrefs and the DERList and DER resources (DERCapability,
DERSettings, DERStatus and DERAvailability are served as the client reported them)."""

from protocol.managers.edev import der_list_href, derp_list_href
from protocol.models import EndDevice
from protocol.xml.resources.common import Link, ListLink
from protocol.xml.resources.der import DER, DERList

# The DER's reported resources: the key each is kept under is the last part of its href.
DER_CAPABILITY, DER_SETTINGS, DER_STATUS, DER_AVAILABILITY = "dercap", "derg", "ders", "dera"


def der_href(end_device: EndDevice | int) -> str:
    return f"{der_list_href(end_device)}/0"


def der_part_href(end_device: EndDevice | int, key: str) -> str:
    """The href of one of the DER's reported resources (`key` is one of DER_*)."""
    return f"{der_href(end_device)}/{key}"


def der_resource(end_device: EndDevice) -> DER:
    return DER(
        href=der_href(end_device),
        subscribable=0,
        associated_der_program_list_link=ListLink(href=derp_list_href(end_device)),
        der_availability_link=Link(href=der_part_href(end_device, DER_AVAILABILITY)),
        der_capability_link=Link(href=der_part_href(end_device, DER_CAPABILITY)),
        der_settings_link=Link(href=der_part_href(end_device, DER_SETTINGS)),
        der_status_link=Link(href=der_part_href(end_device, DER_STATUS)),
    )


def der_list(end_device: EndDevice, paged, *, poll_rate: int) -> DERList:
    return DERList(
        href=der_list_href(end_device),
        all=paged.all,
        results=paged.results,
        poll_rate=poll_rate,
        ders=paged.items,
    )
