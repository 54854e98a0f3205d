"""EndDevice function set: every href under /edev/{e} that names one of the EndDevice's
own links, and the EndDeviceList, EndDevice, Registration, DeviceInformation and
FunctionSetAssignments resources."""

import hashlib
from collections.abc import Sequence

from programs.models import DispatchGroup, Program
from protocol.checks import iana_pen
from protocol.managers.time import TIME_HREF
from protocol.models import EndDevice
from protocol.xml import parse, serialize
from protocol.xml.resources.common import Link, ListLink, time_type
from protocol.xml.resources.edev import (
    ConnectionPoint,
    EndDeviceList,
    FunctionSetAssignments,
    FunctionSetAssignmentsList,
    Registration,
)
from protocol.xml.resources.edev import EndDevice as SepEndDevice

END_DEVICE_LIST_HREF = "/edev"


def derived_mrid(*parts: str) -> str:
    """The mRID of a resource the server makes, stable for as long as `parts` (what names
    its content) are: 24 hex digits of their hash, then the 8 hex digits of the install's
    IANA Private Enterprise Number, as CSIP-AUS asks of every server-made mRID."""
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()[:24].upper()
    return f"{digest}{iana_pen() or 0:08X}"


def edev_href(end_device: EndDevice | int) -> str:
    return f"{END_DEVICE_LIST_HREF}/{getattr(end_device, 'pk', end_device)}"


def connection_point_href(end_device: EndDevice | int) -> str:
    return f"{edev_href(end_device)}/cp"


def der_list_href(end_device: EndDevice | int) -> str:
    return f"{edev_href(end_device)}/der"


def derp_list_href(end_device: EndDevice | int) -> str:
    return f"{edev_href(end_device)}/derp"


def device_information_href(end_device: EndDevice | int) -> str:
    return f"{edev_href(end_device)}/di"


def fsa_list_href(end_device: EndDevice | int) -> str:
    return f"{edev_href(end_device)}/fsa"


def fsa_href(end_device: EndDevice | int, program: Program | int) -> str:
    """One FunctionSetAssignments per program the EndDevice's dispatch groups belong to."""
    return f"{fsa_list_href(end_device)}/{getattr(program, 'pk', program)}"


def fsa_derp_list_href(end_device: EndDevice | int, program: Program | int) -> str:
    return f"{fsa_href(end_device, program)}/derp"


def log_event_list_href(end_device: EndDevice | int) -> str:
    return f"{edev_href(end_device)}/lel"


def registration_href(end_device: EndDevice | int) -> str:
    return f"{edev_href(end_device)}/rg"


def subscription_list_href(end_device: EndDevice | int) -> str:
    return f"{edev_href(end_device)}/sub"


def end_device_resource(end_device: EndDevice, *, profile: str) -> SepEndDevice:
    """The EndDevice; CSIP-AUS clients also get its csipaus:ConnectionPointLink (the plain
    2030.5 schema has no place for it)."""
    return SepEndDevice(
        href=edev_href(end_device),
        subscribable=1,
        der_list_link=ListLink(href=der_list_href(end_device), all=1),
        device_information_link=Link(href=device_information_href(end_device)),
        lfdi=end_device.lfdi,
        log_event_list_link=ListLink(href=log_event_list_href(end_device)),
        sfdi=end_device.sfdi,
        changed_time=time_type(end_device.changed_time),
        enabled=end_device.enabled,
        # No `all`: counting a device's programs would cost the EndDeviceList a query each.
        function_set_assignments_list_link=ListLink(href=fsa_list_href(end_device)),
        post_rate=end_device.post_rate_s,
        registration_link=Link(href=registration_href(end_device)),
        subscription_list_link=ListLink(href=subscription_list_href(end_device)),
        connection_point_link=(
            Link(href=connection_point_href(end_device)) if profile == "csipaus" else None
        ),
    )


def connection_point_resource(end_device: EndDevice) -> ConnectionPoint | None:
    """The site's connection point as the site record keeps it; None until one is known."""
    device = end_device.device
    if device is None or not device.connection_point_id:
        return None
    return ConnectionPoint(
        href=connection_point_href(end_device), connection_point_id=device.connection_point_id
    )


def end_device_list(paged, *, poll_rate: int, profile: str) -> EndDeviceList:
    return EndDeviceList(
        href=END_DEVICE_LIST_HREF,
        subscribable=1,
        all=paged.all,
        results=paged.results,
        poll_rate=poll_rate,
        end_devices=[end_device_resource(e, profile=profile) for e in paged.items],
    )


def registration_resource(end_device: EndDevice, *, poll_rate: int) -> Registration:
    return Registration(
        href=registration_href(end_device),
        poll_rate=poll_rate,
        date_time_registered=time_type(end_device.created_at),
        pin=end_device.pin,
    )


def reported_resource(end_device: EndDevice, key: str, cls, href: str, profile: str):
    """The resource as the client last PUT it, with our href; None before it reported."""
    stored = end_device.reported.get(key)
    if not stored:
        return None
    resource = parse(stored.encode(), cls, profile=profile)
    resource.href = href
    return resource


def reported_content(resource) -> str:
    """What is kept of a resource a client PUT: the resource without its href."""
    resource.href = None
    return serialize(resource).decode()


def fsa_programs(groups: Sequence[DispatchGroup]) -> list[tuple[Program, list[DispatchGroup]]]:
    """The EndDevice's dispatch groups (end_device_groups, with their programs) by program:
    one FunctionSetAssignments each, in primacy order (then the program's creation)."""
    by_program: dict[int, tuple[Program, list[DispatchGroup]]] = {}
    for group in groups:
        by_program.setdefault(group.program_id, (group.program, []))[1].append(group)
    return sorted(by_program.values(), key=lambda item: (item[0].primacy, item[0].pk))


def site_program_served(end_device: EndDevice, program: Program, *, profile: str) -> bool:
    """Whether the EndDevice's FSA of `program` lists the program's site DERProgram (see
    protocol.managers.derp, SiteProgram): the program publishes site envelopes, the client
    is a CSIP-AUS one, and its site reported its ConnectionPoint."""
    device = end_device.device
    return (
        profile == "csipaus"
        and program.site_envelope_primacy is not None
        and device is not None
        and bool(device.connection_point_id)
    )


def fsa_resource(
    end_device: EndDevice, program: Program, groups: Sequence[DispatchGroup], *, profile: str
) -> FunctionSetAssignments:
    site = site_program_served(end_device, program, profile=profile)
    return FunctionSetAssignments(
        href=fsa_href(end_device, program),
        subscribable=0,
        der_program_list_link=ListLink(
            href=fsa_derp_list_href(end_device, program), all=len(groups) + site
        ),
        time_link=Link(href=TIME_HREF),
        mrid=derived_mrid("fsa", end_device.lfdi, str(program.pk)),
        description=program.name[:32],
    )


def fsa_resources(
    end_device: EndDevice, groups: Sequence[DispatchGroup], *, profile: str
) -> list[FunctionSetAssignments]:
    return [fsa_resource(end_device, p, gs, profile=profile) for p, gs in fsa_programs(groups)]


def fsa_list(end_device: EndDevice, paged, *, poll_rate: int) -> FunctionSetAssignmentsList:
    return FunctionSetAssignmentsList(
        href=fsa_list_href(end_device),
        subscribable=1,
        all=paged.all,
        results=paged.results,
        poll_rate=poll_rate,
        function_set_assignments=paged.items,
    )
